//! HiGHS on the one LP shape basis-aware needs: minimise one variable subject to dense equality
//! rows and unit boxes,
//!
//! ```text
//! min x_t   subject to   A x = b,   0 <= x <= 1,
//! ```
//!
//! returning the primal point and the row duals (HiGHS sign convention: `c - A^T y` are the
//! reduced costs). This crate knows nothing of tokens or certificates; `basis-aware` builds the LP
//! and checks whatever comes back.

use std::num::NonZeroU32;

use highs::{ColProblem, HighsModelStatus, Sense};

/// The LP: `rows x cols` column-major `matrix`, right-hand side `rhs`, objective column `target`.
#[derive(Debug, Clone, Copy)]
pub struct UnitBoxLp<'a> {
    pub rows: usize,
    pub cols: usize,
    pub matrix: &'a [f64],
    pub rhs: &'a [f64],
    pub target: usize,
}

/// Solver settings.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Options {
    /// Seconds before HiGHS stops (then [`HighsError::Limit`]).
    pub time_limit: f64,
    /// HiGHS presolve. Off by default: it can settle a problem without the duals we need.
    pub presolve: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            time_limit: 600.0,
            presolve: false,
        }
    }
}

/// An optimal basic solution.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    pub x: Vec<f64>,
    pub row_duals: Vec<f64>,
    pub objective: f64,
}

/// Why no optimal solution came back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HighsError {
    #[error("malformed LP: {0}")]
    Malformed(String),
    #[error("HiGHS call failed: {0}")]
    Call(String),
    #[error("HiGHS stopped at a limit: {0}")]
    Limit(String),
    #[error("HiGHS ended with status {0}")]
    Status(String),
}

/// Solves the LP with HiGHS's dual simplex on one thread.
pub fn minimize(lp: &UnitBoxLp<'_>, options: &Options) -> Result<Solution, HighsError> {
    if lp.matrix.len() != lp.rows * lp.cols || lp.rhs.len() != lp.rows || lp.target >= lp.cols {
        return Err(HighsError::Malformed(format!(
            "{} x {} matrix with {} entries, {} right-hand sides, target {}",
            lp.rows,
            lp.cols,
            lp.matrix.len(),
            lp.rhs.len(),
            lp.target
        )));
    }
    let mut problem = ColProblem::default();
    let rows: Vec<_> = lp.rhs.iter().map(|&b| problem.add_row(b..=b)).collect();
    for (j, column) in lp.matrix.chunks_exact(lp.rows).enumerate() {
        let cost = if j == lp.target { 1.0 } else { 0.0 };
        let entries = rows
            .iter()
            .zip(column)
            .filter(|(_, &a)| a != 0.0)
            .map(|(&row, &a)| (row, a));
        problem.add_column(cost, 0.0..=1.0, entries);
    }
    let mut model = problem
        .try_optimise(Sense::Minimise)
        .map_err(|e| HighsError::Call(format!("{e:?}")))?;
    model.set_threads(NonZeroU32::MIN);
    set(
        &mut model,
        "presolve",
        if options.presolve { c"on" } else { c"off" },
    )?;
    set(&mut model, "solver", c"simplex")?;
    set(&mut model, "time_limit", options.time_limit)?;
    // The smallest value HiGHS accepts: entries below it are silently dropped.
    set(&mut model, "small_matrix_value", 1e-12)?;
    // Tail tokens have boxes far below the default 1e-7 tolerances; the caller polishes and
    // verifies, but a tighter solve leaves less to polish.
    set(&mut model, "primal_feasibility_tolerance", 1e-10)?;
    set(&mut model, "dual_feasibility_tolerance", 1e-10)?;
    let solved = model
        .try_solve()
        .map_err(|e| HighsError::Call(format!("{e:?}")))?;
    match solved.status() {
        HighsModelStatus::Optimal => {}
        status @ (HighsModelStatus::ReachedTimeLimit | HighsModelStatus::ReachedIterationLimit) => {
            return Err(HighsError::Limit(format!("{status:?}")))
        }
        status => return Err(HighsError::Status(format!("{status:?}"))),
    }
    let solution = solved.get_solution();
    Ok(Solution {
        x: solution.columns().to_vec(),
        row_duals: solution.dual_rows().to_vec(),
        objective: solved.objective_value(),
    })
}

fn set<V: highs::HighsOptionValue>(
    model: &mut highs::Model,
    name: &str,
    value: V,
) -> Result<(), HighsError> {
    model
        .try_set_option(name, value)
        .map_err(|e| HighsError::Call(format!("option {name}: {e:?}")))
}

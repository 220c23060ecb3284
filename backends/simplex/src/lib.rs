//! A bounded-variable dual simplex for one LP shape:
//!
//! ```text
//! min c^T x   subject to   A x = b,   0 <= x_j <= u_j,
//! ```
//!
//! for a dense `A` with few rows and many columns. The answer is an optimal point with its row
//! duals, or a Farkas vector `y` with `y^T b > sum_j u_j max(0, y^T A_j)`, which proves that no
//! point exists. With `c = 0` it is a feasibility solver.
//!
//! Why the dual simplex: with box bounds every basis is dual feasible once each nonbasic variable
//! sits at the bound its reduced cost points to, so no phase 1 is needed; a logical (slack)
//! variable fixed at zero per row gives the starting basis. The costs are perturbed by small
//! distinct random amounts, which makes the dual non-degenerate and rules out cycling on this
//! massively degenerate problem; the duals returned are those of the caller's costs. The basis
//! inverse is kept dense and updated in product form, refactorised on a fixed period: rows are
//! few (`m + 1`), columns many.

mod dense;
mod dual;

pub use dual::{solve, solve_from};

/// The LP: `rows x cols` column-major `matrix`, right-hand side `rhs`, upper bounds `upper`
/// (lower bounds are zero; an upper bound of zero fixes a variable) and costs `cost`.
#[derive(Debug, Clone, Copy)]
pub struct BoxLp<'a> {
    pub rows: usize,
    pub cols: usize,
    pub matrix: &'a [f64],
    pub rhs: &'a [f64],
    pub upper: &'a [f64],
    pub cost: &'a [f64],
    /// Stable names of the columns (e.g. token ids). The cost perturbation of a column is drawn
    /// from its name, so a basis carried to another LP over the same names stays optimal for the
    /// same perturbed costs; without names, the column index is used.
    pub names: Option<&'a [u32]>,
}

impl BoxLp<'_> {
    /// Refuses an LP whose slices disagree with its shape, non-finite data or negative bounds.
    pub(crate) fn check(&self) -> Result<(), SimplexError> {
        let (r, n) = (self.rows, self.cols);
        if r == 0
            || self.matrix.len() != r * n
            || self.rhs.len() != r
            || self.upper.len() != n
            || self.cost.len() != n
            || self.names.is_some_and(|names| names.len() != n)
        {
            return Err(SimplexError::Malformed(format!(
                "{r} x {n} matrix with {} entries, {} right-hand sides, {} bounds, {} costs, {:?} names",
                self.matrix.len(),
                self.rhs.len(),
                self.upper.len(),
                self.cost.len(),
                self.names.map(<[u32]>::len)
            )));
        }
        let data = self
            .matrix
            .iter()
            .chain(self.rhs)
            .chain(self.upper)
            .chain(self.cost);
        if data.clone().any(|v| !v.is_finite()) || self.upper.iter().any(|&u| u < 0.0) {
            return Err(SimplexError::Malformed(
                "non-finite data or negative bound".into(),
            ));
        }
        Ok(())
    }
}

/// A basis to start from: for each row, the column basic in it, or `None` for the row's own
/// logical variable. Any basis serves (nonbasic variables are put at the bound their reduced cost
/// points to, which makes it dual feasible); a singular one is replaced by the logical basis.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WarmStart {
    pub basic: Vec<Option<usize>>,
}

/// Pivots between looks at the clock.
pub(crate) const TIME_CHECK_EVERY: usize = 64;

/// Settings; the defaults suit the problems basis-aware builds.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Options {
    /// Pivots before giving up with [`SimplexError::IterationLimit`].
    pub max_iterations: usize,
    /// Wall time before giving up with [`SimplexError::TimeLimit`] (checked every
    /// 64 pivots).
    pub time_limit: std::time::Duration,
    /// Pivots between refactorisations of the basis inverse (raised to the number of rows when
    /// that is larger).
    pub refactor_every: usize,
    /// Largest violation of a bound (or of a row, through its logical variable) accepted as
    /// feasible. The caller polishes and verifies the point.
    pub feasibility_tol: f64,
    /// Seed of the cost perturbation.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_iterations: 50_000,
            time_limit: std::time::Duration::from_secs(60),
            refactor_every: 64,
            feasibility_tol: 1e-11,
            seed: 0x5EED,
        }
    }
}

/// The outcome of a solve.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A point within [`Options::feasibility_tol`] of the feasible set (bounds hold exactly),
    /// optimal for the perturbed costs, and the row duals `y = B^-T c_B` of the caller's costs at
    /// its basis (reduced costs are `c - A^T y`).
    Optimal {
        x: Vec<f64>,
        duals: Vec<f64>,
        iterations: usize,
    },
    /// A Farkas vector: `y^T b > sum_j u_j max(0, y^T A_j)`.
    Infeasible { farkas: Vec<f64>, iterations: usize },
}

/// Why no answer came back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SimplexError {
    #[error("malformed problem: {0}")]
    Malformed(String),
    #[error("iteration limit of {0} pivots reached")]
    IterationLimit(usize),
    #[error("time limit of {0:?} reached")]
    TimeLimit(std::time::Duration),
    #[error("the basis matrix became singular")]
    Singular,
}

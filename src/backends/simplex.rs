//! The pure-Rust bounded dual simplex on restricted columns: the default backend.
//!
//! The LP is first solved over the most probable tokens only (the rest fixed at `p_j = q_j`, an
//! exact restriction, see [`crate::lp`]). A feasible point there is a reject for the full
//! problem; a Farkas vector is checked over the whole vocabulary. When the check fails, the
//! column set grows fourfold and the LP is solved again, up to the whole vocabulary.

use basis_aware_simplex::{solve, Answer, BoxFeasibility, Options, SimplexError};

use crate::backend::{Backend, BackendError, TokenProblem};
use crate::certificate::Certificate;
use crate::lp::ScaledLp;
use crate::verify;

/// Columns of the first restricted LP, as a multiple of the number of rows `m + 1`.
const FIRST_COLUMNS_PER_ROW: usize = 8;
/// Fewest columns of the first restricted LP.
const MIN_FIRST_COLUMNS: usize = 128;

/// Bounded dual simplex (crate `basis-aware-simplex`) with restricted columns.
#[derive(Debug, Clone, Default)]
pub struct SimplexBackend {
    pub options: Options,
}

impl Backend for SimplexBackend {
    fn name(&self) -> &'static str {
        "simplex"
    }

    fn solve(&mut self, problem: &TokenProblem<'_>) -> Result<Certificate, BackendError> {
        let TokenProblem { step, basis, token } = *problem;
        let mut sorted: Vec<f64> = step.q().iter().copied().filter(|&v| v > 0.0).collect();
        sorted.sort_unstable_by(|a, b| b.total_cmp(a));
        let mut columns = (FIRST_COLUMNS_PER_ROW * (basis.dim() + 1)).max(MIN_FIRST_COLUMNS);
        let mut refusals = Vec::new();
        loop {
            let whole = columns >= sorted.len();
            let fix_below = if whole { 0.0 } else { sorted[columns - 1] };
            let lp = ScaledLp::new(step, basis, token, fix_below);
            let mut upper = vec![1.0; lp.columns.len()];
            upper[lp.target] = 0.0;
            let answer = solve(
                &BoxFeasibility {
                    rows: lp.rows,
                    cols: lp.columns.len(),
                    matrix: &lp.matrix,
                    rhs: &lp.rhs,
                    upper: &upper,
                },
                &self.options,
            );
            let cert = match answer {
                Ok(Answer::Feasible { x, .. }) => {
                    Certificate::Reject(lp.reject_certificate(step, basis, &x))
                }
                Ok(Answer::Infeasible { farkas, .. }) => {
                    Certificate::Keep(lp.keep_certificate(&farkas))
                }
                Err(SimplexError::IterationLimit(n)) if whole => {
                    return Err(BackendError::Limit(format!("{n} pivots")))
                }
                Err(e) if whole => return Err(BackendError::Solver(e.to_string())),
                Err(e) => {
                    refusals.push(e.to_string());
                    columns *= 4;
                    continue;
                }
            };
            match verify::check(step, basis, token, &cert) {
                Ok(_) => return Ok(cert),
                Err(e) => refusals.push(e.to_string()),
            }
            if whole {
                return Err(BackendError::NoCertificate(refusals.join("; ")));
            }
            columns *= 4;
        }
    }
}

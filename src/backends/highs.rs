//! HiGHS as the reference oracle: the unreduced per-token LP over the whole vocabulary.

use basis_aware_highs::{minimize, HighsError, Options, UnitBoxLp};

use crate::backend::{Answer, Backend, BackendError, TokenProblem};
use crate::certificate::Certificate;
use crate::lp::ScaledLp;

/// Tokens below this probability are fixed at `q_j` on the first attempt (see [`crate::lp`]);
/// if no certificate verifies, the LP is solved again with every token as a column.
pub const FIX_BELOW: f64 = 1e-10;

/// Objective value (in units of `sigma q_i`) below which the solver's point is tried first.
const ZERO_OBJECTIVE: f64 = 1e-9;

/// HiGHS (dual simplex, one thread, presolve off) on the per-token LP.
#[derive(Debug, Clone, Default)]
pub struct HighsBackend {
    /// HiGHS's settings (time limit, presolve).
    pub options: Options,
    /// When the current call must end ([`Backend::set_deadline`]).
    deadline: Option<std::time::Instant>,
}

impl HighsBackend {
    /// HiGHS with a per-solve time limit in seconds.
    pub fn with_time_limit(seconds: f64) -> Self {
        let mut options = Options::default();
        options.time_limit = seconds;
        Self {
            options,
            deadline: None,
        }
    }
}

impl Backend for HighsBackend {
    fn name(&self) -> &'static str {
        "highs"
    }

    fn set_deadline(&mut self, deadline: Option<std::time::Instant>) {
        self.deadline = deadline;
    }

    /// HiGHS keeps no state between solves: a fresh backend is a copy of its options.
    fn fresh(&self) -> Option<Box<dyn Backend + Send>> {
        Some(Box::new(self.clone()))
    }

    fn solve(&mut self, problem: &TokenProblem<'_>) -> Result<Certificate, BackendError> {
        self.answer(problem).map(Answer::into_certificate)
    }

    /// The solver's keep and reject candidates, the likelier first; the first that verifies.
    fn answer(&mut self, problem: &TokenProblem<'_>) -> Result<Answer, BackendError> {
        let TokenProblem { step, basis, token } = *problem;
        let mut refusals = Vec::new();
        let mut previous_columns = 0;
        for fix_below in [FIX_BELOW, 0.0] {
            let columns = step
                .by_probability()
                .iter()
                .copied()
                .filter(|&j| step.q()[j as usize] >= fix_below)
                .collect();
            let lp = ScaledLp::new(step, basis, token, columns);
            if lp.columns.len() == previous_columns {
                break;
            }
            previous_columns = lp.columns.len();
            let mut options = self.options;
            if let Some(deadline) = self.deadline {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Err(BackendError::Limit("the call's deadline passed".into()));
                }
                options.time_limit = options.time_limit.min(left.as_secs_f64());
            }
            let solution = minimize(
                &UnitBoxLp {
                    rows: lp.rows,
                    cols: lp.columns.len(),
                    matrix: &lp.matrix,
                    rhs: &lp.rhs,
                    target: lp.target.expect("the tested token is a column"),
                },
                &options,
            )
            .map_err(|e| match e {
                HighsError::Limit(m) => BackendError::Limit(m),
                other => BackendError::Solver(other.to_string()),
            })?;
            let keep = Certificate::Keep(lp.keep_certificate(&solution.row_duals));
            let reject = Certificate::Reject(lp.reject_certificate(step, basis, &solution.x));
            let candidates = if solution.objective > ZERO_OBJECTIVE {
                [keep, reject]
            } else {
                [reject, keep]
            };
            for cert in candidates {
                match problem.check(cert) {
                    Ok(verified) => return Ok(verified.into()),
                    Err(e) => refusals.push(e.to_string()),
                }
            }
        }
        Err(BackendError::NoCertificate(refusals.join("; ")))
    }
}

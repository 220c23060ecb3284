//! The critical threshold of a token: the smallest `tau` at which BAT rejects it, for matching
//! BAT's parameter to a threshold sampler's (the paper's human-text rejection rates). Raising
//! `tau` raises `sigma`, which only enlarges `P_i`, so rejection is monotone in `tau` and a
//! bisection brackets the critical value between a certified keep and a certified reject.

use crate::backend::Backend;
use crate::basis::Basis;
use crate::certificate::{KeepProof, Outcome, RejectProof, UndecidedReason};
use crate::error::{Error, Result};
use crate::step::Step;
use crate::truncate::decide;

/// Default relative width of the bracket: `rejected_at / kept_at <= 1 + CRITICAL_REL_TOL`.
/// Thresholds are set to one or two significant digits in practice; 1e-3 costs about fifteen
/// decisions for a token twenty orders of magnitude below the top.
pub const CRITICAL_REL_TOL: f64 = 1e-3;

/// Undecided probes tolerated before the search stops; each narrows the bracket from above
/// without proof, so the rejecting end stays the last certified one.
const MAX_UNDECIDED_PROBES: usize = 3;

/// A bracket around a token's critical threshold, each end proven.
#[derive(Debug, Clone)]
pub struct CriticalThreshold {
    /// A threshold at which the token is kept (at least `q_i`, where the threshold keeps it).
    pub kept_at: f64,
    pub keep: KeepProof,
    /// A threshold at which it is rejected, with the point; `None` when it is kept even at
    /// `tau = max q`, the largest threshold a rule can reach (it is then never rejected).
    pub rejected_at: Option<(f64, RejectProof)>,
    /// The last reason a probe could not be decided, if one could not (the bracket may then be
    /// wider than asked).
    pub undecided: Option<UndecidedReason>,
    /// Decisions made.
    pub probes: usize,
}

/// Brackets the smallest `tau` at which `token` is rejected, to relative width `rel_tol`
/// (see [`CRITICAL_REL_TOL`]). Only `step.q()` is used; its own threshold is ignored.
pub fn critical_threshold(
    step: &Step,
    basis: &Basis,
    token: u32,
    backend: &mut dyn Backend,
    rel_tol: f64,
) -> Result<CriticalThreshold> {
    let q = step.q();
    let qi = *q.get(token as usize).ok_or(Error::TokenOutOfRange {
        token,
        vocab: q.len(),
    })?;
    if !(rel_tol.is_finite() && rel_tol > 0.0) {
        return Err(Error::Threshold(format!(
            "relative tolerance must be positive and finite, got {rel_tol}"
        )));
    }
    let q_max = q.iter().copied().fold(0.0, f64::max);
    let mut result = CriticalThreshold {
        kept_at: qi,
        keep: KeepProof::Threshold,
        rejected_at: None,
        undecided: None,
        probes: 0,
    };
    if qi == 0.0 {
        // Rejected at every threshold: `p = q` already has `p_i = 0`.
        result.kept_at = 0.0;
        result.rejected_at = Some((0.0, RejectProof::ZeroMass));
        return Ok(result);
    }
    let (mut lo, mut hi) = (qi, q_max);
    let mut probe = hi;
    let mut undecided = 0;
    while probe > lo {
        let outcome = decide(
            &step.at_threshold(probe)?,
            basis,
            token,
            Some(&mut *backend),
        )?;
        result.probes += 1;
        match outcome {
            Outcome::Keep(proof) => {
                (lo, result.kept_at, result.keep) = (probe, probe, proof);
                if probe == q_max {
                    // Kept at the largest threshold any rule can reach: never rejected.
                    return Ok(result);
                }
            }
            Outcome::Reject(proof) => {
                hi = probe;
                result.rejected_at = Some((probe, proof));
            }
            Outcome::Undecided(reason) => {
                // Probes within the solvers' marginal band of the critical value cannot be
                // decided; one a little lower usually can.
                undecided += 1;
                result.undecided = Some(reason);
                if undecided > MAX_UNDECIDED_PROBES {
                    return Ok(result);
                }
                hi = probe;
            }
        }
        if hi <= lo * (1.0 + rel_tol) {
            break;
        }
        probe = (lo * hi).sqrt();
    }
    Ok(result)
}

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
    /// Why it is kept at `kept_at`.
    pub keep: KeepProof,
    /// A threshold at which it is rejected, with the point; `None` when it is kept at every
    /// threshold searched: up to `tau = max q`, the largest a rule can reach (it is then never
    /// rejected), or up to the cap of [`critical_threshold_up_to`] (`kept_at` is then the cap).
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
    critical_threshold_up_to(step, basis, token, backend, rel_tol, 1.0)
}

/// [`critical_threshold`] searching only `tau <= max_tau`: a token still kept there comes back
/// with `rejected_at: None` and `kept_at` at the cap (kept at every `tau` up to it). Decisions
/// at thresholds near `max q` can cost seconds on a real vocabulary where those near `q_i`
/// cost milliseconds, and parameter matching rarely needs them.
///
/// The search climbs from `q_i` in steps that square the ratio each time (2, 4, 16, ... times
/// `q_i`), since on real steps the critical value is mostly within a few times `q_i`, then
/// bisects the bracket geometrically.
pub fn critical_threshold_up_to(
    step: &Step,
    basis: &Basis,
    token: u32,
    backend: &mut dyn Backend,
    rel_tol: f64,
    max_tau: f64,
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
    if !(max_tau > 0.0 && max_tau <= 1.0) {
        return Err(Error::Threshold(format!(
            "the largest threshold searched must lie in (0, 1], got {max_tau}"
        )));
    }
    // The largest threshold any rule can reach is max q (Step clamps to it).
    let cap = q.iter().copied().fold(0.0, f64::max).min(max_tau);
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
    let (mut lo, mut hi) = (qi, f64::INFINITY);
    let mut growth = 2.0_f64;
    let mut undecided = 0;
    loop {
        let probe = if hi.is_finite() {
            (lo * hi).sqrt()
        } else {
            (lo * growth).min(cap)
        };
        if probe <= lo {
            // q_i is at or above the cap: kept by the threshold everywhere searched.
            return Ok(result);
        }
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
                if probe >= cap {
                    // Kept at the largest threshold searched: never rejected below it.
                    return Ok(result);
                }
                growth *= growth;
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
            return Ok(result);
        }
    }
}

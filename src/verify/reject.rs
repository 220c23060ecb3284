//! Reject certificates: a point `p = q + d` of the feasible set with `p_i = 0`, accepted only
//! when an exact point provably exists next to it ([`super::exact_point_exists`]).

use super::exact::{exact_point_exists, Absorber, Residual};
use super::{check_vocab, shared, CertificateError};
use crate::basis::Basis;
use crate::certificate::RejectCertificate;
use crate::compensated::{ETA, U};
use crate::step::Step;

/// Most probable tokens the point leaves untouched that are offered as absorbers, per row of
/// `[B 1]` (`m + 1` rows), besides every changed token with box slack. Two a row give `G` full
/// rank on generic bases; more raise its smallest eigenvalue, at `O(m^2)` each.
pub const ABSORBERS_PER_ROW: usize = 2;

/// Most probable tokens [`rejected_by`] selects for a point's untouched absorbers rather than
/// sorting the vocabulary (once per step) for them.
const SELECTED_HEAD: usize = 1024;

/// A change may exceed its upper bound `kappa q_j` by at most this many times `kappa q_j`: the
/// rounding of `fl(kappa q_j)`, the bound a solver's point is clamped to. The excess, bounded
/// exactly, is added to the residual (the correction moves such a token back to its bound), so
/// it can cost a reject but not falsify one. Larger excesses are [`CertificateError::OutOfBox`].
pub const BOX_ROUNDING: f64 = 8.0 * U;

/// Every token with `q_j > 0` that the point sets to zero, ascending, after proving that an exact
/// point of the feasible set with those zeros exists: the point's boxes are checked exactly, its
/// residual is summed with compensated arithmetic, and the tokens with box slack must provably
/// absorb that residual ([`exact_point_exists`]).
pub fn rejected_by(
    step: &Step,
    basis: &Basis,
    cert: &RejectCertificate,
) -> Result<Vec<u32>, CertificateError> {
    check_vocab(step, basis)?;
    let (q, kappa, m) = (step.q(), step.kappa(), basis.dim());
    let mut zeroed = Vec::new();
    let mut moved = Vec::new();
    let mut with_slack = Vec::new();
    // Exact excess over the upper bound, per token that has one (see BOX_ROUNDING).
    let mut excess: Vec<(u32, f64)> = Vec::new();
    let mut previous: Option<u32> = None;
    for (pos, &(token, d)) in cert.changes.iter().enumerate() {
        if previous.is_some_and(|p| token <= p) {
            return Err(CertificateError::Unordered(pos));
        }
        previous = Some(token);
        let j = token as usize;
        if j >= q.len() {
            return Err(CertificateError::TokenOutOfRange(token));
        }
        if !d.is_finite() {
            return Err(CertificateError::NonFinite(pos));
        }
        let qj = q[j];
        // `kappa q_j - d` with one rounding, which keeps its sign (up to underflow, see below).
        let room_up = kappa.mul_add(qj, -d);
        if d < -qj || (room_up < 0.0 && -room_up > BOX_ROUNDING * kappa * qj) {
            return Err(CertificateError::OutOfBox { token, p: qj + d });
        }
        if d == 0.0 {
            continue;
        }
        moved.push(token);
        if room_up <= 0.0 {
            // At or a rounding above the bound; a zero may hide an excess below ETA.
            excess.push((token, -room_up * (1.0 + 2.0 * U) + ETA));
        }
        if d == -qj {
            zeroed.push(token);
            continue;
        }
        let slack = (qj + d).min(room_up) * (1.0 - 4.0 * U) - 2.0 * ETA;
        if slack > 0.0 {
            with_slack.push(Absorber { token, slack });
        }
    }
    let mut residual = Residual::of_changes(basis, &cert.changes);
    for &(token, e) in &excess {
        for (bound, &b) in residual
            .bound
            .iter_mut()
            .zip(basis.token_row(token as usize))
        {
            *bound += e * f64::from(b).abs() * (1.0 + 2.0 * U);
        }
        residual.bound[m] += e;
    }
    let untouched = untouched_absorbers(step, &cert.changes, ABSORBERS_PER_ROW * (m + 1));
    if shared::untouched_absorb(step.id(), basis, &untouched, &residual) {
        return Ok(zeroed);
    }
    let mut absorbers = with_slack.clone();
    absorbers.extend(untouched);
    let mut verdict = exact_point_exists(basis, &residual, &moved, &absorbers);
    // Untouched absorbers can break an exact dependence of the rows over the moved tokens
    // (one shared direction, say) and so leave `G` singular; the moved ones alone may not.
    if verdict.is_err() && absorbers.len() > with_slack.len() && !with_slack.is_empty() {
        verdict = exact_point_exists(basis, &residual, &moved, &with_slack).or(verdict);
    }
    verdict?;
    Ok(zeroed)
}

/// The `count` most probable tokens with `q_j > 0` that `changes` does not list, each with its
/// slack `min(1, kappa) q_j` rounded down. They are among the `count + changes.len()` most
/// probable, which a short point takes by selection: a lazy draw's first reject of a step would
/// otherwise pay the sort of the whole vocabulary (about 2 ms at `V = 49152`), which a long point
/// (a full mask's, thousands of them a step) pays once.
fn untouched_absorbers(step: &Step, changes: &[(u32, f64)], count: usize) -> Vec<Absorber> {
    let (q, room) = (step.q(), step.kappa().min(1.0));
    let needed = count + changes.len();
    let selected;
    let head = if needed <= SELECTED_HEAD {
        selected = step.most_probable(needed);
        &selected[..]
    } else {
        step.by_probability()
    };
    head.iter()
        .copied()
        .filter(|&t| changes.binary_search_by_key(&t, |c| c.0).is_err())
        .take(count)
        .map(|token| Absorber {
            token,
            slack: room * q[token as usize] * (1.0 - 4.0 * U) - 2.0 * ETA,
        })
        .filter(|a| a.slack > 0.0)
        .collect()
}

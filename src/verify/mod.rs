//! The independent verifier. Every keep or reject the crate reports passed through here. It
//! recomputes everything from `q`, `tau` and `B` in f64 and shares no code with any solver (only
//! the basis's own product `B y`, which column generation also uses), so a wrong solver answer
//! can make a token undecided but never wrongly decided (beyond the stated tolerances).

mod bulk;
mod memo;

pub use bulk::{rejected_by_bulk, BulkError, BULK_MIN_ABSORBER_MASS};

use crate::basis::Basis;
use crate::certificate::{KeepCertificate, RejectCertificate};
use crate::step::Step;

/// Relative backward error allowed in a reject certificate's equations: each residual
/// `|sum_j b_jk d_j|` (and `|sum_j d_j|`) must be at most this times `sum_j |b_jk d_j|`
/// (resp. `sum_j |d_j|`). A point that passes is exactly feasible for a basis whose changed rows
/// differ from `B` by at most this relative amount: far below the rounding of f32 logits
/// (about `1e-7` relative in `q`), and far above f64 summation error (`V * 2^-53` is `3e-11` at
/// `V = 262144`).
pub const REJECT_RESIDUAL_TOL: f64 = 1e-9;

/// Relative margin a keep certificate must clear: token `i` is kept only if
/// `sigma q_i s_i - sum_j q_j g(s_j) > KEEP_MARGIN_TOL * (sigma q_i |s|_i + max(kappa, 1) sum_j q_j |s|_j)`,
/// where `|s|_j = |b_j|_1 |y|_inf + |y_0|` bounds the size of the terms each `s_j` sums
/// (`sum_k |b_jk y_k| + |y_0|`). This covers the f64 evaluation error of the check itself with
/// room to spare and makes the keep hold for every basis within this relative distance of `B`.
pub const KEEP_MARGIN_TOL: f64 = 1e-9;

/// Why a certificate was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    #[error("dual vector has {got} entries, expected m + 1 = {expected}")]
    DualLength { got: usize, expected: usize },
    #[error("certificate entry {0} is not finite")]
    NonFinite(usize),
    #[error("change list is not strictly increasing by token at position {0}")]
    Unordered(usize),
    #[error("token {0} is outside the vocabulary")]
    TokenOutOfRange(u32),
    #[error("token {token}: p = q + d = {p} leaves its box [0, sigma q]")]
    OutOfBox { token: u32, p: f64 },
    #[error("row {row}: residual {residual:e} exceeds {REJECT_RESIDUAL_TOL:e} x scale {scale:e}")]
    Residual {
        row: usize,
        residual: f64,
        scale: f64,
    },
    #[error("token {0} is not proven: the certificate does not cover it")]
    DoesNotCover(u32),
    #[error("basis has {basis} tokens but the step has {step}")]
    VocabMismatch { basis: usize, step: usize },
}

fn check_vocab(step: &Step, basis: &Basis) -> Result<(), CertificateError> {
    if step.vocab() == basis.vocab() {
        Ok(())
    } else {
        Err(CertificateError::VocabMismatch {
            basis: basis.vocab(),
            step: step.vocab(),
        })
    }
}

/// Every token (with `q_j > 0`) that the dual vector proves to be kept, ascending. One pass over
/// the basis checks all tokens at once.
pub fn kept_by(
    step: &Step,
    basis: &Basis,
    cert: &KeepCertificate,
) -> Result<Vec<u32>, CertificateError> {
    check_vocab(step, basis)?;
    let m = basis.dim();
    if cert.y.len() != m + 1 {
        return Err(CertificateError::DualLength {
            got: cert.y.len(),
            expected: m + 1,
        });
    }
    if let Some(k) = cert.y.iter().position(|v| !v.is_finite()) {
        return Err(CertificateError::NonFinite(k));
    }
    if let Some(kept) = memo::lookup(step.id(), basis.id(), &cert.y) {
        return Ok(kept);
    }
    let kept = kept_by_pass(step, basis, &cert.y);
    memo::store(step.id(), basis.id(), &cert.y, &kept);
    Ok(kept)
}

/// The check of [`kept_by`] on a finite `y` of the right length. A first pass bounds the size of
/// each `s_j` by `|b_j|_1 |y|_inf + |y_0|` (row norms precomputed with the basis), above the
/// `sum_k |b_jk y_k| + |y_0|` of [`KEEP_MARGIN_TOL`]: a token that clears that margin clears the
/// stated one. Tokens whose inequality holds but not by the wider margin (marginal ones) get a
/// second pass with the exact sizes, so the rule is the one [`KEEP_MARGIN_TOL`] states.
fn kept_by_pass(step: &Step, basis: &Basis, y: &[f64]) -> Vec<u32> {
    let m = basis.dim();
    let (yb, y0) = (&y[..m], y[m]);
    let y_max = yb.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let (sigma, kappa) = (step.sigma(), step.kappa());
    let (q, l1) = (step.q(), basis.row_l1());
    let mut s = vec![0.0; q.len()];
    basis.dots(yb, &mut s);
    let (mut total, mut weighted_l1, mut mass) = (0.0f64, 0.0f64, 0.0f64);
    for ((sj, &qj), &l1j) in s.iter_mut().zip(q).zip(l1) {
        if qj == 0.0 {
            continue;
        }
        *sj += y0;
        total += qj * if *sj > 0.0 { kappa * *sj } else { -*sj };
        weighted_l1 += qj * l1j;
        mass += qj;
    }
    let spread = (y_max * weighted_l1 + y0.abs() * mass) * kappa.max(1.0);
    // Token i is kept when sigma q_i (s_i - TOL |s|_i) > total + TOL spread.
    let bar = total + KEEP_MARGIN_TOL * spread;
    let (mut kept, mut marginal) = (Vec::new(), Vec::new());
    for (i, ((&si, &qi), &l1i)) in s.iter().zip(q).zip(l1).enumerate() {
        if qi == 0.0 {
            continue;
        }
        let size = l1i * y_max + y0.abs();
        if sigma * qi * (si - KEEP_MARGIN_TOL * size) > bar {
            kept.push(i as u32);
        } else if sigma * qi * si > total {
            marginal.push(i as u32);
        }
    }
    if !marginal.is_empty() {
        kept.extend(marginal_kept(step, basis, y, &s, total, &marginal));
        kept.sort_unstable();
    }
    kept
}

/// The tokens of `marginal` that clear [`KEEP_MARGIN_TOL`] with the exact term sizes
/// `sum_k |b_jk y_k| + |y_0|`: one more pass over the basis, only when a dual is that close.
fn marginal_kept(
    step: &Step,
    basis: &Basis,
    y: &[f64],
    s: &[f64],
    total: f64,
    marginal: &[u32],
) -> Vec<u32> {
    let m = basis.dim();
    let (yb, y0) = (&y[..m], y[m]);
    let (q, sigma, kappa) = (step.q(), step.sigma(), step.kappa());
    let size = |j: usize| -> f64 {
        let row: f64 = basis
            .row(j)
            .iter()
            .zip(yb)
            .map(|(&b, &v)| (f64::from(b) * v).abs())
            .sum();
        row + y0.abs()
    };
    let spread: f64 = (0..q.len())
        .filter(|&j| q[j] > 0.0)
        .map(|j| q[j] * size(j))
        .sum::<f64>()
        * kappa.max(1.0);
    marginal
        .iter()
        .copied()
        .filter(|&i| {
            let i = i as usize;
            let lhs = sigma * q[i] * s[i];
            lhs - total > KEEP_MARGIN_TOL * (sigma * q[i] * size(i) + spread)
        })
        .collect()
}

/// Every token with `q_j > 0` that the point sets to zero, ascending, after checking that the
/// point lies in the feasible set (box exactly, equations within [`REJECT_RESIDUAL_TOL`]).
pub fn rejected_by(
    step: &Step,
    basis: &Basis,
    cert: &RejectCertificate,
) -> Result<Vec<u32>, CertificateError> {
    check_vocab(step, basis)?;
    let (q, kappa, m) = (step.q(), step.kappa(), basis.dim());
    let mut residual = vec![0.0f64; m + 1];
    let mut scale = vec![0.0f64; m + 1];
    let mut zeroed = Vec::new();
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
        if d < -q[j] || d > kappa * q[j] {
            return Err(CertificateError::OutOfBox { token, p: q[j] + d });
        }
        if d == -q[j] && q[j] > 0.0 {
            zeroed.push(token);
        }
        for (k, &b) in basis.row(j).iter().enumerate() {
            let term = f64::from(b) * d;
            residual[k] += term;
            scale[k] += term.abs();
        }
        residual[m] += d;
        scale[m] += d.abs();
    }
    for (row, (&r, &s)) in residual.iter().zip(&scale).enumerate() {
        if r.abs() > REJECT_RESIDUAL_TOL * s {
            return Err(CertificateError::Residual {
                row,
                residual: r,
                scale: s,
            });
        }
    }
    Ok(zeroed)
}

/// Checks `cert` and that it settles `token`; returns every token it settles the same way
/// (ascending). Backends call this on their own answers, and [`crate::decide`] again on receipt.
pub fn check(
    step: &Step,
    basis: &Basis,
    token: u32,
    cert: &crate::certificate::Certificate,
) -> Result<Vec<u32>, CertificateError> {
    use crate::certificate::Certificate;
    let settled = match cert {
        Certificate::Keep(c) => kept_by(step, basis, c)?,
        Certificate::Reject(c) => rejected_by(step, basis, c)?,
    };
    if settled.binary_search(&token).is_ok() {
        Ok(settled)
    } else {
        Err(CertificateError::DoesNotCover(token))
    }
}

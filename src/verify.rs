//! The independent verifier. Every keep or reject the crate reports passed through here. It
//! recomputes everything from `q`, `tau` and `B` in f64 and shares no code with any solver, so a
//! wrong solver answer can make a token undecided but never wrongly decided (beyond the stated
//! tolerances).

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
/// where `|s|_j = sum_k |b_jk y_k| + |y_0|` bounds the size of the terms each `s_j` sums. This
/// covers the f64 evaluation error of the check itself with room to spare and makes the keep hold
/// for every basis within this relative distance of `B`.
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
    let (y, y0) = (&cert.y[..m], cert.y[m]);
    let (sigma, kappa) = (step.sigma(), step.kappa());
    let q = step.q();
    let mut s = vec![0.0; q.len()];
    let mut size = vec![0.0; q.len()];
    let (mut total, mut total_size) = (0.0f64, 0.0f64);
    for (j, &qj) in q.iter().enumerate() {
        if qj == 0.0 {
            continue;
        }
        let (dot, abs) = dot_and_size(basis.row(j), y);
        let (dot, abs) = (dot + y0, abs + y0.abs());
        s[j] = dot;
        size[j] = abs;
        total += qj * if dot > 0.0 { kappa * dot } else { -dot };
        total_size += qj * abs;
    }
    let spread = total_size * kappa.max(1.0);
    Ok((0..q.len())
        .filter(|&i| {
            let lhs = sigma * q[i] * s[i];
            q[i] > 0.0 && lhs - total > KEEP_MARGIN_TOL * (sigma * q[i] * size[i] + spread)
        })
        .map(|i| i as u32)
        .collect())
}

/// `b . y` and `sum_k |b_k y_k|` in f64, on four independent accumulators: a single running sum
/// waits on every add, which made this pass latency-bound. The margin of [`KEEP_MARGIN_TOL`] is
/// stated against `sum_k |b_k y_k|`, so it covers any summation order.
fn dot_and_size(row: &[f32], y: &[f64]) -> (f64, f64) {
    let (mut dot, mut abs) = ([0.0f64; 4], [0.0f64; 4]);
    let mut rows = row.chunks_exact(4);
    let mut ys = y.chunks_exact(4);
    for (b, yk) in (&mut rows).zip(&mut ys) {
        for lane in 0..4 {
            let term = f64::from(b[lane]) * yk[lane];
            dot[lane] += term;
            abs[lane] += term.abs();
        }
    }
    for (&b, &yk) in rows.remainder().iter().zip(ys.remainder()) {
        let term = f64::from(b) * yk;
        dot[0] += term;
        abs[0] += term.abs();
    }
    (
        (dot[0] + dot[1]) + (dot[2] + dot[3]),
        (abs[0] + abs[1]) + (abs[2] + abs[3]),
    )
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

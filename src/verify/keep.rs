//! Keep certificates: one dual vector checked for every token at once.

use std::cell::RefCell;

use super::{check_vocab, CertificateError};
use crate::basis::Basis;
use crate::certificate::KeepCertificate;
use crate::compensated::gamma;
use crate::step::Step;

/// Relative margin a keep certificate must clear: token `i` is kept only if
/// `sigma q_i s_i - sum_j q_j g(s_j) > tol * (sigma q_i |s|_i + max(kappa, 1) sum_j q_j |s|_j)`,
/// where `|s|_j = |b_j|_1 |y|_inf + |y_0|` bounds the size of the terms each `s_j` sums
/// (`sum_k |b_jk y_k| + |y_0|`) and `tol` is [`keep_margin`]: this constant, or the rounding
/// bound of the check where that is larger. The check's f64 evaluation errs by at most
/// `gamma_{V+m+4}` times those sizes (docs/architecture.md, "Keep certificates"), about `3e-11`
/// at `V = 262144`; the margin also makes the keep hold for every basis within this relative
/// distance of `B`.
pub const KEEP_MARGIN_TOL: f64 = 1e-9;

/// The margin in force for a step of `vocab` tokens and a basis of `dim` columns:
/// [`KEEP_MARGIN_TOL`], raised to twice the rounding bound `gamma_{V+m+4}` of the check itself
/// when that is larger (above about 4.5 million tokens), so no keep rests on rounding.
pub fn keep_margin(vocab: usize, dim: usize) -> f64 {
    KEEP_MARGIN_TOL.max(2.0 * gamma(vocab + dim + 4))
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
    Ok(kept_by_pass(step, basis, &cert.y))
}

/// The check of [`kept_by`] on a finite `y` of the right length. A first pass bounds the size of
/// each `s_j` by `|b_j|_1 |y|_inf + |y_0|` (row norms precomputed with the basis), above the
/// `sum_k |b_jk y_k| + |y_0|` of [`KEEP_MARGIN_TOL`]: a token that clears that margin clears the
/// stated one. Tokens whose inequality holds but not by the wider margin (marginal ones) get a
/// second pass with the exact sizes, so the rule is the one [`KEEP_MARGIN_TOL`] states.
fn kept_by_pass(step: &Step, basis: &Basis, y: &[f64]) -> Vec<u32> {
    let m = basis.dim();
    let tol = keep_margin(step.vocab(), m);
    let (q, l1) = (step.q(), basis.row_l1());
    SCORES.with_borrow_mut(|s| {
        // Every entry is written by `dots`: growing the buffer is the only fill it needs.
        s.resize(q.len(), 0.0);
        let s = &mut s[..q.len()];
        basis.dots(&y[..m], s);
        screen(step, basis, y, s, l1, tol)
    })
}

thread_local! {
    /// `s = A^T y` of [`kept_by_pass`], reused from check to check on each thread: a fresh
    /// `V`-long buffer a check would cost a zeroing pass as long as the check's own.
    static SCORES: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// The rest of [`kept_by_pass`] once `s` holds `B y_b` (the bias `y_0` not yet added).
fn screen(step: &Step, basis: &Basis, y: &[f64], s: &mut [f64], l1: &[f64], tol: f64) -> Vec<u32> {
    let m = basis.dim();
    let (yb, y0) = (&y[..m], y[m]);
    let y_max = yb.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let (sigma, kappa, q) = (step.sigma(), step.kappa(), step.q());
    let [total, weighted_l1, mass] = basis_aware_kernels::keep_sums(s, q, l1, y0, kappa);
    let spread = (y_max * weighted_l1 + y0.abs() * mass) * kappa.max(1.0);
    // Token i is kept when sigma q_i (s_i - tol |s|_i) > total + tol spread.
    let bar = total + tol * spread;
    let (mut kept, mut marginal) = (Vec::new(), Vec::new());
    // Both tests below imply `sigma q_i s_i > total` (`bar >= total`, `tol |s|_i >= 0`), which
    // few tokens pass: a block is looked at token by token only when one of its tokens does.
    let mut blocks = Vec::new();
    basis_aware_kernels::screen_blocks(s, q, sigma, total, SCREEN_BLOCK, &mut blocks);
    for start in blocks {
        let block = start..q.len().min(start + SCREEN_BLOCK);
        for i in block {
            let (si, qi) = (s[i], q[i]);
            if qi == 0.0 {
                continue;
            }
            let size = l1[i] * y_max + y0.abs();
            if sigma * qi * (si - tol * size) > bar {
                kept.push(i as u32);
            } else if sigma * qi * si > total {
                marginal.push(i as u32);
            }
        }
    }
    if !marginal.is_empty() {
        kept.extend(marginal_kept(step, basis, y, s, total, &marginal, tol));
        kept.sort_unstable();
    }
    kept
}

/// Tokens screened at once for a possible keep in [`kept_by_pass`].
const SCREEN_BLOCK: usize = 16;

/// The tokens of `marginal` that clear the margin `tol` with the exact term sizes
/// `sum_k |b_jk y_k| + |y_0|`: one more pass over the basis, only when a dual is that close.
fn marginal_kept(
    step: &Step,
    basis: &Basis,
    y: &[f64],
    s: &[f64],
    total: f64,
    marginal: &[u32],
    tol: f64,
) -> Vec<u32> {
    let m = basis.dim();
    let (yb, y0) = (&y[..m], y[m]);
    let (q, sigma, kappa) = (step.q(), step.sigma(), step.kappa());
    let size = |j: usize| -> f64 {
        let row: f64 = basis
            .token_row(j)
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
            lhs - total > tol * (sigma * q[i] * size(i) + spread)
        })
        .collect()
}

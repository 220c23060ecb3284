//! Keep certificates: one dual vector checked for every token at once.

use std::cell::RefCell;

use basis_aware_kernels::{tiled_keep_pass, KeepPass, TILE};

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
///
/// Both tests imply `sigma q_i s_i > sum_j q_j g(s_j)` (the bar is at least the sum and the
/// margin's term is not negative), which few tokens pass: a block of tokens is looked at token
/// by token only when one of them does. On a tiled basis the scores, the sums and each tile's
/// largest `sigma q_j s_j` come from one sweep ([`basis_aware_kernels::tiled_keep_pass`]) that
/// stores no score; a flagged tile's scores are computed again, bit for bit.
fn kept_by_pass(step: &Step, basis: &Basis, y: &[f64]) -> Vec<u32> {
    let m = basis.dim();
    let tol = keep_margin(step.vocab(), m);
    let (q, l1) = (step.q(), basis.row_l1());
    let (yb, y0) = (&y[..m], y[m]);
    let (mut kept, mut marginal) = (Vec::new(), Vec::new());
    let total = if let Some(tiles) = basis.tiles() {
        MAXIMA.with_borrow_mut(|maxima| {
            maxima.resize(q.len().div_ceil(TILE), 0.0);
            let pass = KeepPass {
                tiles,
                dim: m,
                y: yb,
                y0,
                q,
                l1,
                kappa: step.kappa(),
                scale: step.sigma(),
            };
            let test = Test::new(step, y, l1, tol, tiled_keep_pass(&pass, maxima));
            for (t, &best) in maxima.iter().enumerate() {
                if best > test.total {
                    let scores = basis_aware_kernels::tile_scores(tiles, m, yb, y0, t);
                    for (i, &si) in (t * TILE..q.len()).zip(&scores) {
                        test.token(i, si, q[i], &mut kept, &mut marginal);
                    }
                }
            }
            test.total
        })
    } else {
        SCORES.with_borrow_mut(|s| {
            // Every entry is written by `dots`: growing the buffer is the only fill it needs.
            s.resize(q.len(), 0.0);
            let s = &mut s[..q.len()];
            basis.dots(yb, s);
            let sums = basis_aware_kernels::keep_sums(s, q, l1, y0, step.kappa());
            let test = Test::new(step, y, l1, tol, sums);
            let mut blocks = Vec::new();
            basis_aware_kernels::screen_blocks(s, q, step.sigma(), test.total, TILE, &mut blocks);
            for start in blocks {
                for i in start..q.len().min(start + TILE) {
                    test.token(i, s[i], q[i], &mut kept, &mut marginal);
                }
            }
            test.total
        })
    };
    if !marginal.is_empty() {
        kept.extend(marginal_kept(step, basis, y, total, &marginal, tol));
        kept.sort_unstable();
    }
    kept
}

thread_local! {
    /// `s = A^T y` of [`kept_by_pass`] on a basis without tiles, reused from check to check on
    /// each thread: a fresh `V`-long buffer a check would cost a zeroing pass as long as the
    /// check's own.
    static SCORES: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
    /// Each tile's largest `sigma q_j s_j` of [`kept_by_pass`] on a tiled basis.
    static MAXIMA: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// A check's test of one token, once its sums are known: token `i` is kept when
/// `sigma q_i (s_i - tol |s|_i) > total + tol spread`.
struct Test<'a> {
    sigma: f64,
    total: f64,
    bar: f64,
    tol: f64,
    y_max: f64,
    y0: f64,
    l1: &'a [f64],
}

impl<'a> Test<'a> {
    /// From the sums `[sum q_j g(s_j), sum q_j |b_j|_1, sum q_j]`.
    fn new(step: &Step, y: &[f64], l1: &'a [f64], tol: f64, sums: [f64; 3]) -> Self {
        let (yb, y0) = y.split_at(y.len() - 1);
        let y0 = y0[0];
        let y_max = yb.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let [total, weighted_l1, mass] = sums;
        let spread = (y_max * weighted_l1 + y0.abs() * mass) * step.kappa().max(1.0);
        Self {
            sigma: step.sigma(),
            total,
            bar: total + tol * spread,
            tol,
            y_max,
            y0,
            l1,
        }
    }

    /// Token `i` of score `si`: kept, marginal (looked at again with the exact sizes), or
    /// neither.
    fn token(
        &self,
        i: usize,
        si: f64,
        qi: f64,
        kept: &mut Vec<u32>,
        marginal: &mut Vec<(u32, f64)>,
    ) {
        if qi == 0.0 {
            return;
        }
        let size = self.l1[i] * self.y_max + self.y0.abs();
        if self.sigma * qi * (si - self.tol * size) > self.bar {
            kept.push(i as u32);
        } else if self.sigma * qi * si > self.total {
            marginal.push((i as u32, si));
        }
    }
}

/// The tokens of `marginal` (with their scores) that clear the margin `tol` with the exact term
/// sizes `sum_k |b_jk y_k| + |y_0|`: one more pass over the basis, only when a dual is that
/// close.
fn marginal_kept(
    step: &Step,
    basis: &Basis,
    y: &[f64],
    total: f64,
    marginal: &[(u32, f64)],
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
        .filter(|&&(i, si)| {
            let i = i as usize;
            let lhs = sigma * q[i] * si;
            lhs - total > tol * (sigma * q[i] * size(i) + spread)
        })
        .map(|&(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::MatrixView;

    /// The one-sweep check of a tiled basis keeps exactly what the separate passes keep, on
    /// duals from keeping nothing to keeping most tokens, marginal ones included.
    #[test]
    fn the_sweep_keeps_what_the_separate_passes_keep() {
        let (vocab, dim) = (1003, 6);
        let b: Vec<f32> = (0..vocab * dim)
            .map(|k| (((k * 7_919) % 1_013) as f32 - 506.0) / 311.0)
            .collect();
        let tiled = Basis::explicit(MatrixView::new(&b, vocab, dim).unwrap()).unwrap();
        let plain = tiled.without_tiles();
        assert!(tiled.tiles().is_some() && plain.tiles().is_none());
        let mut q: Vec<f64> = (0..vocab)
            .map(|j| 1.0 / (j as f64 + 5.0).powf(1.3))
            .collect();
        q[17] = 0.0;
        let total: f64 = q.iter().sum();
        q.iter_mut().for_each(|v| *v /= total);
        let step = Step::from_probabilities(q, 2e-3).unwrap();
        let mut kept_any = 0;
        for token in [0usize, 3, 40, 500] {
            let row: Vec<f64> = b[token * dim..(token + 1) * dim]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            for shift in [-4.0, -1.0, -0.3, 0.0, 0.3, 2.0] {
                let mut y = row.clone();
                y.push(shift);
                let (a, c) = (
                    kept_by_pass(&step, &tiled, &y),
                    kept_by_pass(&step, &plain, &y),
                );
                assert_eq!(a, c, "token {token}, shift {shift}");
                kept_any += usize::from(!a.is_empty());
            }
        }
        assert!(kept_any > 0, "no dual kept anything: the test says nothing");
    }
}

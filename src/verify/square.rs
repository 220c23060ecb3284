//! The second way [`super::exact_point_exists`] proves a residual absorbable: a square system
//! over `n` absorbers chosen to span the kept rows of `[B 1]`, solved with a verified bound
//! (ARCHITECTURE.md, "Reject certificates", step 7).
//!
//! The Gram test weighs every absorber by its slack, which is what makes it strong on ordinary
//! steps and what breaks it when the slacks span more orders of magnitude than f64 can certify a
//! preconditioner across (a deep tail below a dominant token). Here nothing is weighted: with
//! `A` the `n x n` matrix of the chosen absorbers' columns (rows scaled by powers of two, exact),
//! any `X` and `C = I - X A`, `|C|_inf <= alpha < 1` proves `A` invertible, and the exact
//! correction `x = -A^{-1} r` satisfies `|x_i| <= |z_i| + alpha / (1 - alpha) |z|_inf` with
//! `z = X r` (because `x = -(I - C)^{-1} z` and `(I - C)^{-1} - I = (I - C)^{-1} C`). When
//! every `|x_i|` is within its absorber's slack, `p + x` is an exact point. `X` is any
//! approximate inverse: its accuracy only decides how often the test passes.

use nalgebra::DMatrix;

use super::exact::{entry, independent_rows, norm, row_scales, Absorber, Residual};
use super::CertificateError;
use crate::basis::Basis;
use crate::compensated::{gamma, Dot2, ETA};

/// An absorber joins the square system when its column keeps at least this fraction of its norm
/// after projecting out the columns chosen before it (most slack first). Any choice is sound; this
/// one keeps the system well enough conditioned for `alpha < 1/2`.
const INDEPENDENCE: f64 = 1e-6;

/// The largest `|I - X A|_inf` accepted: below one proves `A` invertible; one half keeps the
/// factor `alpha / (1 - alpha)` at most one.
const MAX_ALPHA: f64 = 0.5;

/// Whether the residual is provably absorbed by a square system of absorbers (module docs).
pub(super) fn absorbed_by_square_system(
    basis: &Basis,
    residual: &Residual,
    moved: &[u32],
    absorbers: &[Absorber],
) -> Result<(), CertificateError> {
    let refused = |needed: f64, capacity: f64| CertificateError::NotAbsorbed { needed, capacity };
    let absorbers: Vec<Absorber> = absorbers
        .iter()
        .copied()
        .filter(|a| a.slack.is_finite() && a.slack > 0.0)
        .collect();
    let rows = independent_rows(basis, moved, &absorbers);
    let n = rows.len();
    let row_scale = row_scales(basis, &rows, &absorbers);
    let column = |token: u32| -> Vec<f64> {
        rows.iter()
            .zip(&row_scale)
            .map(|(&k, &p)| p * entry(basis, token, k))
            .collect()
    };
    // Most slack first, each kept when it adds a direction (modified Gram-Schmidt).
    let mut order: Vec<usize> = (0..absorbers.len()).collect();
    order.sort_by(|&a, &b| absorbers[b].slack.total_cmp(&absorbers[a].slack));
    let mut chosen: Vec<usize> = Vec::with_capacity(n);
    let mut basis_vectors: Vec<Vec<f64>> = Vec::with_capacity(n);
    for i in order {
        if chosen.len() == n {
            break;
        }
        let mut v = column(absorbers[i].token);
        let size = norm(&v);
        if size == 0.0 {
            continue;
        }
        for q in &basis_vectors {
            let dot: f64 = q.iter().zip(&v).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(q).for_each(|(x, qk)| *x -= dot * qk);
        }
        let left = norm(&v);
        if left > INDEPENDENCE * size {
            v.iter_mut().for_each(|x| *x /= left);
            basis_vectors.push(v);
            chosen.push(i);
        }
    }
    if chosen.len() < n {
        return Err(refused(norm(&residual.value), 0.0));
    }
    let columns: Vec<Vec<f64>> = chosen.iter().map(|&i| column(absorbers[i].token)).collect();
    let a = DMatrix::from_fn(n, n, |r, c| columns[c][r]);
    let Some(x) = a.clone().try_inverse() else {
        return Err(refused(norm(&residual.value), 0.0));
    };
    if x.iter().any(|v| !v.is_finite()) {
        return Err(refused(norm(&residual.value), 0.0));
    }
    // alpha >= |I - X A|_inf, every entry an enclosure of the exact product's.
    let mut alpha = 0.0f64;
    for i in 0..n {
        let mut row_sum = 0.0;
        for k in 0..n {
            let mut dot = Dot2::default();
            if i == k {
                dot.add(1.0);
            }
            for l in 0..n {
                dot.add_product(-x[(i, l)], a[(l, k)]);
            }
            row_sum += dot.value().abs() + dot.error_bound();
        }
        alpha = alpha.max(row_sum * (1.0 + gamma(n + 1)) + n as f64 * ETA);
    }
    if alpha.is_nan() || alpha > MAX_ALPHA {
        return Err(refused(norm(&residual.value), 0.0));
    }
    // z = X P r with r the exact residual, |r_k - value_k| <= bound_k: |z_i| bounded above.
    let (w, ew) = residual.on_rows(&rows, &row_scale);
    let z: Vec<f64> = (0..n)
        .map(|i| {
            let mut dot = Dot2::default();
            let mut carried = 0.0;
            for k in 0..n {
                dot.add_product(x[(i, k)], w[k]);
                carried += x[(i, k)].abs() * ew[k];
            }
            (dot.value().abs() + dot.error_bound() + carried * (1.0 + gamma(n + 1)))
                * (1.0 + gamma(2))
                + 2.0 * n as f64 * ETA
        })
        .collect();
    let z_max = z.iter().copied().fold(0.0f64, f64::max);
    let spread = alpha / (1.0 - alpha) * z_max;
    for (zi, &i) in z.iter().zip(&chosen) {
        let bound = (zi + spread) * (1.0 + gamma(4));
        let slack = absorbers[i].slack;
        if bound.is_nan() || bound > slack {
            return Err(refused(bound, slack));
        }
    }
    Ok(())
}

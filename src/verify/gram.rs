//! The Gram test of [`super::exact_point_exists`], split in two: a [`GramFactor`] of a set of
//! absorbers (`L`, the kept rows and a certified lower bound on `lambda_min(G_L)`), which
//! depends only on the absorbers and the rows, and [`GramFactor::absorbs`], the per-residual
//! half (`|L r|_2` against that bound, `O(n^2)`). A factor built once serves every point of a
//! step that leaves the same absorbers untouched (`super::shared`), so their exact test costs the
//! residual and one triangular product instead of a factorization each.

use super::exact::{entry, exponent, independent_rows, norm, pow2, row_scales, Absorber, Residual};
use super::CertificateError;
use crate::basis::Basis;
use crate::compensated::{gamma, Dot2, ETA, U};

/// Scaled slacks below this (relative to the largest, about one) are dropped: their squares would
/// approach the subnormal range, and they add nothing measurable to `G`.
const MIN_SCALED_SLACK: f64 = 1e-150;

/// `L` for one set of absorbers and kept rows, with what it certifies.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct GramFactor {
    /// The kept rows of `[B 1]`.
    rows: Vec<usize>,
    /// Each kept row's power-of-two scale.
    row_scale: Vec<f64>,
    /// `L`, lower triangular, row-major `n x n`.
    l: Vec<f64>,
    /// The power of two the slacks were scaled by.
    slack_exp: i32,
    /// A certified lower bound on `sqrt(lambda_min(G_L))`, in scaled slack units (`0` when the
    /// bound failed: the factor then absorbs nothing but an exactly zero residual).
    capacity: f64,
}

impl GramFactor {
    /// The factor of `absorbers` over the rows of `[B 1]` independent over them and `moved`
    /// (`super::exact::independent_rows`); `None` when no absorber has slack or `R` is singular.
    pub fn new(basis: &Basis, moved: &[u32], absorbers: &[Absorber]) -> Option<Self> {
        let smax = absorbers
            .iter()
            .map(|a| a.slack)
            .filter(|s| s.is_finite())
            .fold(0.0f64, f64::max);
        if smax <= 0.0 {
            return None;
        }
        // Slacks scaled by a power of two (exact) so the largest is about one; those far below it
        // would only underflow in the squares, and dropping an absorber is always safe.
        let slack_exp = exponent(smax);
        let slack_scale = pow2(-slack_exp);
        let absorbers: Vec<Absorber> = absorbers
            .iter()
            .filter(|a| a.slack.is_finite() && a.slack > 0.0)
            .map(|a| Absorber {
                token: a.token,
                slack: a.slack * slack_scale,
            })
            .filter(|a| a.slack >= MIN_SCALED_SLACK)
            .collect();
        let rows = independent_rows(basis, moved, &absorbers);
        let n = rows.len();
        let row_scale = row_scales(basis, &rows, &absorbers);
        let column = |token: u32, v: &mut [f64]| {
            for ((vk, &k), &p) in v.iter_mut().zip(&rows).zip(&row_scale) {
                *vk = p * entry(basis, token, k);
            }
        };
        // R with R^T R = sum_j s_j^2 v_j v_j^T, by Givens rotations of the rows s_j v_j into R,
        // the largest first: slacks span tens of orders of magnitude on peaked steps, and this
        // graded order keeps the small directions that the Gram matrix's rounding would erase.
        // R only shapes L; nothing below relies on its accuracy.
        let mut order: Vec<usize> = (0..absorbers.len()).collect();
        let mut v = vec![0.0; n];
        let weighted_norm = |a: &Absorber, v: &mut [f64]| {
            column(a.token, v);
            a.slack * norm(v)
        };
        let norms: Vec<f64> = absorbers.iter().map(|a| weighted_norm(a, &mut v)).collect();
        order.sort_by(|&a, &b| norms[b].total_cmp(&norms[a]));
        let mut r = vec![0.0; n * n];
        for &i in &order {
            column(absorbers[i].token, &mut v);
            v.iter_mut().for_each(|x| *x *= absorbers[i].slack);
            rotate_into(&mut r, n, &mut v);
        }
        let l = upper_inverse_transposed(&r, n)?;
        let l_frobenius = l.iter().map(|x| x * x).sum::<f64>().sqrt() * (1.0 + gamma(n * n + 1));
        // G1 = sum_j s_j^2 c_j c_j^T with c_j = L v_j by compensated dot products, and the bound
        // on |G_L - G1|_2.
        let mut g1 = vec![0.0; n * n];
        let mut c = vec![0.0; n];
        let (mut cross, mut trace) = (0.0f64, 0.0f64);
        let gn = gamma(n + 1);
        for a in &absorbers {
            column(a.token, &mut v);
            for k in 0..n {
                let mut dot = Dot2::default();
                for j in 0..=k {
                    dot.add_product(l[k * n + j], v[j]);
                }
                c[k] = dot.value();
            }
            let v_norm = norm(&v);
            let c_norm = norm(&c);
            // Dot2's bound, u |c_k| + gamma_n^2 |L_k| |v|, summed over k with Cauchy-Schwarz.
            let g = 2.0
                * (U * c_norm + gn * gn * l_frobenius * v_norm + (n as f64).powf(1.5) * 4.0 * ETA);
            let w = a.slack * a.slack;
            cross += w * (2.0 * g * c_norm + g * g);
            trace += w * c_norm * c_norm;
            for k in 0..n {
                let wk = w * c[k];
                for j in 0..=k {
                    g1[k * n + j] += wk * c[j];
                }
            }
        }
        let count = absorbers.len();
        let g1_error =
            2.0 * (cross + gamma(count + 4) * trace + (4 * count * n) as f64 * ETA) * (1.0 + 1e-9);
        // Gershgorin: lambda_min(G1) >= min_i (G1_ii - sum_{k != i} |G1_ik|), less that sum's own
        // rounding.
        let mut lambda = f64::INFINITY;
        for i in 0..n {
            let off: f64 = (0..n)
                .filter(|&k| k != i)
                .map(|k| g1[i.max(k) * n + i.min(k)].abs())
                .sum();
            let diag = g1[i * n + i];
            let disc = diag - off - 2.0 * gn * (diag.abs() + off);
            lambda = lambda.min(disc);
        }
        let lambda = lambda - g1_error;
        let capacity = if lambda > 0.0 {
            (lambda * (1.0 - 4.0 * U)).sqrt() * (1.0 - 2.0 * U)
        } else {
            0.0
        };
        Some(Self {
            rows,
            row_scale,
            l,
            slack_exp,
            capacity,
        })
    }

    /// The kept rows this factor was built over.
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    /// Whether the exact residual `residual` encloses is provably cancelled by a correction
    /// within the absorbers' slacks: `|L r|_2`, bounded above with its rounding and the
    /// residual's enclosure, at most the certified `sqrt(lambda_min(G_L))`.
    pub fn absorbs(&self, residual: &Residual) -> Result<(), CertificateError> {
        let n = self.rows.len();
        let gn = gamma(n + 1);
        // The residual through L: t = fl(L P r~), and a bound on |L P r - t| (r the exact one).
        let (w, ew) = residual.on_rows(&self.rows, &self.row_scale);
        let (mut t_sq, mut e_sq) = (0.0f64, 0.0f64);
        for k in 0..n {
            let row = &self.l[k * n..k * n + k + 1];
            let mut dot = Dot2::default();
            for (a, b) in row.iter().zip(&w) {
                dot.add_product(*a, *b);
            }
            let t = dot.value();
            let carried: f64 = row.iter().zip(&ew).map(|(a, b)| a.abs() * b).sum();
            let e = dot.error_bound() + 2.0 * (carried * (1.0 + gn) + 2.0 * n as f64 * ETA);
            t_sq += t * t;
            e_sq += e * e;
        }
        let needed = (t_sq.sqrt() + e_sq.sqrt()) * (1.0 + gamma(2 * n + 4)) * pow2(-self.slack_exp);
        let capacity = self.capacity;
        if needed.is_finite() && needed <= capacity && capacity > 0.0 {
            Ok(())
        } else {
            Err(CertificateError::NotAbsorbed { needed, capacity })
        }
    }
}

/// Rotates the row `v` into the upper-triangular `r` (row-major `n x n`) with Givens rotations,
/// so that `R^T R` gains `v v^T`; `v` is consumed.
fn rotate_into(r: &mut [f64], n: usize, v: &mut [f64]) {
    for k in 0..n {
        if v[k] == 0.0 {
            continue;
        }
        let (a, b) = (r[k * n + k], v[k]);
        let h = a.hypot(b);
        let (cos, sin) = (a / h, b / h);
        r[k * n + k] = h;
        v[k] = 0.0;
        for j in k + 1..n {
            let (x, y) = (r[k * n + j], v[j]);
            r[k * n + j] = cos * x + sin * y;
            v[j] = cos * y - sin * x;
        }
    }
}

/// `L = R^{-T}` for the upper-triangular `r` (row-major `n x n`): lower triangular, upper part
/// exactly zero; `None` when a diagonal entry is not positive or anything is not finite.
fn upper_inverse_transposed(r: &[f64], n: usize) -> Option<Vec<f64>> {
    if (0..n).any(|i| !(r[i * n + i] > 0.0 && r[i * n + i].is_finite())) {
        return None;
    }
    // R^T X = I by forward substitution, column by column; (R^T)_{ip} = r[p][i].
    let mut x = vec![0.0; n * n];
    for col in 0..n {
        for i in col..n {
            let mut sum = if i == col { 1.0 } else { 0.0 };
            for p in col..i {
                sum -= r[p * n + i] * x[p * n + col];
            }
            x[i * n + col] = sum / r[i * n + i];
        }
    }
    let ok = x.iter().all(|v| v.is_finite()) && (0..n).all(|i| x[i * n + i] > 0.0);
    ok.then_some(x)
}

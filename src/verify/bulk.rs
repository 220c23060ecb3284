//! The bulk reject certificate: one closed-form body inside the step's zonotope rejects most of
//! the tail in one `O(V m^2)` pass (ARCHITECTURE.md, "Bulk
//! certificates", has the proof).
//!
//! Token `i` is rejected iff `sigma q_i a_i` lies in `Z = sum_j q_j [-1, kappa] a_j`
//! (`a_j = (b_j, 1)`). For weights `w_j >= 0` with `M = sum_j w_j a_j a_j^T` positive definite,
//! `u_j = (w_j / q_j) a_j . M^{-1} sigma q_i a_i` represents `sigma q_i a_i` exactly, and
//! `|a_j . M^{-1} a_i| <= rho_j rho_i` with `rho_j = |a_j|_{M^{-1}}`. So every token with
//! `sigma q_i rho_i R* <= min(1, kappa)`, `R* = max_j (w_j / q_j) rho_j`, is rejected (the
//! "plain" test); the "centred" test splits `a_i` along `c = M e_m` and rejects when
//! `sigma q_i (C + R* D_i) <= kappa` and `sigma q_i R* D_i <= 1`, with `C = max_j w_j / q_j` and
//! `D_i^2 = rho_i^2 - 2 + sum_j w_j`.
//!
//! The certificate is only the radius of the weight rule; this module recomputes the weights,
//! `M`, an inverse factor `K` of `M` and every `rho_j`, and bounds every rounding error on the
//! way, so the radii it uses are upper bounds of the exact ones for the exact `M` of its own
//! weights. Any weights give a valid proof: the rule only decides how strong it is, and a
//! tampered radius can only make it reject fewer tokens.

use faer::linalg::matmul::matmul;
use faer::linalg::triangular_inverse::invert_lower_triangular;
use faer::{Accum, Mat, MatRef, Par, Side};

use crate::basis::Basis;
use crate::certificate::BulkRejectCertificate;
use crate::step::Step;

/// Tokens with a smaller `q_j` are not absorbers (`w_j = 0`): above it the weights
/// `w_j = q_j r_j` and their products with the basis stay normal floating-point numbers, so
/// relative rounding bounds hold for them.
pub const BULK_MIN_ABSORBER_MASS: f64 = 1e-200;

/// Smaller weights are dropped (the token is no absorber), for the same reason.
const MIN_WEIGHT: f64 = 1e-280;

/// Tokens per block of the passes over the basis. Each entry of `M` is a sum within a block
/// (any order) and then a running sum over blocks, which keeps its rounding depth at
/// `BLOCK + V / BLOCK` additions instead of `V`.
const BLOCK: usize = 256;

/// Unit roundoff of f64.
const U: f64 = f64::EPSILON / 2.0;

/// The smallest subnormal f64: the absolute error bound of an operation that underflows.
const TINY: f64 = 5e-324;

/// Why a bulk certificate was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BulkError {
    /// The radius is not finite and positive.
    #[error("bulk radius {0} must be finite and positive")]
    Radius(f64),
    /// The basis and the step have different vocabularies.
    #[error("basis has {basis} tokens but the step has {step}")]
    VocabMismatch {
        /// The basis's vocabulary.
        basis: usize,
        /// The step's vocabulary.
        step: usize,
    },
    /// `M` is not positive definite (e.g. a rank-deficient basis).
    #[error("the weighted second moment of the basis rows is not positive definite")]
    NotPositiveDefinite,
    /// The inverse factor could not be certified (`epsilon >= 1`).
    #[error("the inverse factor is certified only to {0:e}, not below 1")]
    Conditioning(f64),
    /// A non-finite value arose in the pass.
    #[error("a non-finite value arose in the bulk pass")]
    NonFinite,
}

/// `gamma_k = k u / (1 - k u)`: the relative error bound of a sum of `k` terms in any order.
fn gamma(k: usize) -> f64 {
    let ku = k as f64 * U;
    ku / (1.0 - ku)
}

/// Every token with `0 < q_i < tau` that the bulk certificate rejects, ascending.
pub fn rejected_by_bulk(
    step: &Step,
    basis: &Basis,
    cert: &BulkRejectCertificate,
) -> Result<Vec<u32>, BulkError> {
    if step.vocab() != basis.vocab() {
        return Err(BulkError::VocabMismatch {
            basis: basis.vocab(),
            step: step.vocab(),
        });
    }
    let radius = cert.radius;
    if !(radius.is_finite() && radius > 0.0) {
        return Err(BulkError::Radius(radius));
    }
    let (q, vocab, n) = (step.q(), step.vocab(), basis.dim() + 1);
    let mut pass = Pass::new(basis);

    // Round 0: w = q on the absorbers; its radii only set the weights, so they need no bounds.
    let first: Vec<f64> = q
        .iter()
        .map(|&qj| {
            if qj >= BULK_MIN_ABSORBER_MASS {
                qj
            } else {
                0.0
            }
        })
        .collect();
    let k0 = inverse_factor(pass.moment(&first).matrix.as_ref())?;
    let mut ratio = vec![0.0f64; vocab];
    let (squares0, _) = radii(basis, k0.as_ref());
    for (j, &squared) in squares0.iter().enumerate() {
        if first[j] > 0.0 {
            let rho = squared.sqrt();
            ratio[j] = if rho > radius { radius / rho } else { 1.0 };
        }
    }
    if ratio.iter().any(|r| !r.is_finite()) {
        return Err(BulkError::NonFinite);
    }
    let weights: Vec<f64> = q
        .iter()
        .zip(ratio.iter_mut())
        .map(|(&qj, r)| {
            let w = qj * *r;
            // Far from the subnormal range, `w_j / q_j = r_j (1 + delta)` with `|delta| <= u`.
            if w >= MIN_WEIGHT {
                w
            } else {
                *r = 0.0;
                0.0
            }
        })
        .collect();
    let moment = pass.moment(&weights);
    let k = inverse_factor(moment.matrix.as_ref())?;
    let bound = certify(&moment, k.as_ref(), vocab)?;

    // Rigorous radii of every token, and the constants of the tests.
    let g = gamma(n + 1);
    let k_frobenius = bound.k_frobenius;
    let shrink = (1.0 - bound.epsilon).sqrt();
    let (squares, norms) = radii(basis, k.as_ref());
    let rho: Vec<f64> = squares
        .iter()
        .zip(&norms)
        .map(|(&squared, &norm_squared)| {
            // Squares of `K a_j` below the normal range lose at most one subnormal spacing each.
            let exact_part = (squared / (1.0 - g) + n as f64 * TINY).sqrt();
            let rounding = g * k_frobenius * (norm_squared / (1.0 - g)).sqrt();
            (exact_part + rounding + f64::MIN_POSITIVE) / shrink * (1.0 + 16.0 * U)
        })
        .collect();
    let (mut r_star, mut c_star) = (0.0f64, 0.0f64);
    for ((&w, &r), &p) in weights.iter().zip(&ratio).zip(&rho) {
        if w > 0.0 {
            // w_j / q_j = r_j (1 + delta), |delta| <= u: w_j was rounded once.
            r_star = r_star.max(r * p);
            c_star = c_star.max(r);
        }
    }
    let r_star = r_star * (1.0 + 4.0 * U);
    let c_star = c_star * (1.0 + 4.0 * U);
    let weight_sum = weights.iter().sum::<f64>() / (1.0 - gamma(vocab));
    if !(r_star.is_finite() && weight_sum.is_finite()) {
        return Err(BulkError::NonFinite);
    }
    let (sigma, kappa, tau) = (step.sigma(), step.kappa(), step.tau());
    let up = 1.0 + 8.0 * U;
    let limit = kappa.min(1.0);
    let mut rejected = Vec::new();
    for (i, (&qi, &p)) in q.iter().zip(&rho).enumerate() {
        if !(qi > 0.0 && qi < tau) {
            continue;
        }
        let plain = sigma * qi * p * r_star * up <= limit;
        let centred = || {
            // `p^2 - 2 + W` may cancel: its rounding is absolute, a few `u` of its terms.
            let squared =
                (p * p * up - 2.0 + weight_sum).max(0.0) + 8.0 * U * (p * p + 2.0 + weight_sum);
            let d = squared.sqrt() * up;
            let spread = sigma * qi * r_star * d * up;
            (sigma * qi * c_star + spread) * up <= kappa && spread <= 1.0
        };
        if plain || centred() {
            rejected.push(i as u32);
        }
    }
    Ok(rejected)
}

/// A computed `M~` with what bounds its distance to the exact `M`: entrywise
/// `|M~ - M| <= gamma(depth) N` with `N = sum_j w_j |a_j| |a_j|^T`, and `trace(N) = trace(M)`.
struct Moment {
    matrix: Mat<f64>,
    depth: usize,
    trace: f64,
}

/// The certified facts about `K`: `lambda_min(K M K^T) >= 1 - epsilon` for the exact `M`, and an
/// upper bound of `|K|_F`.
struct Bound {
    epsilon: f64,
    k_frobenius: f64,
}

/// Scratch for the passes over the basis, sized once per certificate.
struct Pass<'b> {
    basis: &'b Basis,
    n: usize,
    /// Column-major `n x BLOCK`: column `t` is `a_j` of the block's token `t`.
    x: Vec<f64>,
    y: Vec<f64>,
    /// `|a_j|^2` of the block's tokens, as computed.
    norms: Vec<f64>,
}

impl<'b> Pass<'b> {
    fn new(basis: &'b Basis) -> Self {
        let n = basis.dim() + 1;
        Self {
            basis,
            n,
            x: vec![0.0; n * BLOCK],
            y: vec![0.0; n * BLOCK],
            norms: vec![0.0; BLOCK],
        }
    }

    /// Loads tokens `start..start + len` into `x` (f32 to f64 is exact, as are the squares).
    fn load(&mut self, start: usize, len: usize) {
        let n = self.n;
        for t in 0..len {
            let column = &mut self.x[t * n..(t + 1) * n];
            let mut norm = 1.0;
            for (c, &b) in column.iter_mut().zip(self.basis.token_row(start + t)) {
                *c = f64::from(b);
                norm += *c * *c;
            }
            column[n - 1] = 1.0;
            self.norms[t] = norm;
        }
    }

    /// `sum_j w_j a_j a_j^T`, a block at a time.
    fn moment(&mut self, weights: &[f64]) -> Moment {
        let n = self.n;
        let mut total = Mat::<f64>::zeros(n, n);
        let mut block = Mat::<f64>::zeros(n, n);
        let mut blocks = 0;
        for start in (0..weights.len()).step_by(BLOCK) {
            let len = BLOCK.min(weights.len() - start);
            let w = &weights[start..start + len];
            if w.iter().all(|&v| v == 0.0) {
                continue;
            }
            blocks += 1;
            self.load(start, len);
            for (t, &wt) in w.iter().enumerate() {
                for k in 0..n {
                    self.y[t * n + k] = wt * self.x[t * n + k];
                }
            }
            let x = MatRef::from_column_major_slice(&self.x[..n * len], n, len);
            let y = MatRef::from_column_major_slice(&self.y[..n * len], n, len);
            matmul(
                block.as_mut(),
                Accum::Replace,
                x,
                y.transpose(),
                1.0,
                Par::Seq,
            );
            for c in 0..n {
                for r in 0..n {
                    total[(r, c)] += block[(r, c)];
                }
            }
        }
        // Symmetric by construction up to rounding; the Cholesky reads the lower half only and
        // the certificate check uses the whole matrix, so symmetrise it exactly.
        for c in 0..n {
            for r in c + 1..n {
                total[(c, r)] = total[(r, c)];
            }
        }
        let trace = (0..n).map(|k| total[(k, k)]).sum();
        Moment {
            matrix: total,
            // One rounding for `w_j a_jk`, one for the product with `a_jl`, then the sums.
            depth: BLOCK + blocks + 2,
            trace,
        }
    }
}

/// `|K a_j|^2` and `|a_j|^2` of every token, both as computed. `K` is lower triangular (the
/// inverse of a Cholesky factor); each block of tokens runs the rows of `K` against a token-minor
/// copy of the block, so the inner loop is over tokens and vectorizes. Blocks are independent
/// and run on the caller's rayon pool; every value is the same at any thread count.
fn radii(basis: &Basis, k: MatRef<'_, f64>) -> (Vec<f64>, Vec<f64>) {
    use rayon::prelude::*;
    let (n, vocab) = (basis.dim() + 1, basis.vocab());
    let k_rows: Vec<Vec<f64>> = (0..n)
        .map(|r| (0..=r).map(|c| k[(r, c)]).collect())
        .collect();
    let mut squares = vec![0.0f64; vocab];
    let mut norms = vec![0.0f64; vocab];
    squares
        .par_chunks_mut(BLOCK)
        .zip(norms.par_chunks_mut(BLOCK))
        .enumerate()
        .for_each_init(
            || (vec![0.0f64; n * BLOCK], vec![0.0f64; BLOCK]),
            |(by_row, row), (block, (squares, norms))| {
                let (start, len) = (block * BLOCK, squares.len());
                // `by_row[c * BLOCK + t]` is entry `c` of the block's token `t`'s `a_j`.
                for (t, norm) in norms.iter_mut().enumerate() {
                    let b = basis.token_row(start + t);
                    let mut sum = 1.0;
                    for (c, &v) in b.iter().enumerate() {
                        let v = f64::from(v);
                        by_row[c * BLOCK + t] = v;
                        sum += v * v;
                    }
                    by_row[(n - 1) * BLOCK + t] = 1.0;
                    *norm = sum;
                }
                for k_row in &k_rows {
                    let row = &mut row[..len];
                    row.fill(0.0);
                    for (c, &kc) in k_row.iter().enumerate() {
                        let column = &by_row[c * BLOCK..c * BLOCK + len];
                        for (v, &x) in row.iter_mut().zip(column) {
                            *v += kc * x;
                        }
                    }
                    for (s, &v) in squares.iter_mut().zip(row.iter()) {
                        *s += v * v;
                    }
                }
            },
        );
    (squares, norms)
}

/// `L^{-1}` for the Cholesky factor `L` of `m`: any matrix would do (the check certifies it),
/// this one makes `K M K^T` close to the identity.
fn inverse_factor(m: MatRef<'_, f64>) -> Result<Mat<f64>, BulkError> {
    if m.has_nan() || !m.is_all_finite() {
        return Err(BulkError::NonFinite);
    }
    let llt = m
        .to_owned()
        .llt(Side::Lower)
        .map_err(|_| BulkError::NotPositiveDefinite)?;
    let mut k = Mat::<f64>::zeros(m.nrows(), m.ncols());
    invert_lower_triangular(k.as_mut(), llt.L(), Par::Seq);
    // Exactly lower triangular, as the radii pass reads it (the check certifies this matrix).
    for c in 1..k.ncols() {
        for r in 0..c {
            k[(r, c)] = 0.0;
        }
    }
    if !k.is_all_finite() {
        return Err(BulkError::NonFinite);
    }
    Ok(k)
}

/// Certifies `lambda_min(K M K^T) >= 1 - epsilon` for the exact `M` behind `moment`:
/// `|K M K^T - I|_2 <= |H~ - I|_F + |H~ - K M~ K^T|_F + |K|_F^2 |M - M~|_2`, with
/// `H~ = fl(fl(K M~) K^T)`, `|H~ - K M~ K^T| <= gamma(n) (|P~| |K|^T + |K| |M~| |K|^T)` entrywise
/// (`P~ = fl(K M~)`), and `|M - M~|_2 <= |M - M~|_F <= gamma(depth) |N|_F <= gamma(depth) trace(M)`.
fn certify(moment: &Moment, k: MatRef<'_, f64>, vocab: usize) -> Result<Bound, BulkError> {
    let n = k.nrows();
    let m = moment.matrix.as_ref();
    let product = |a: MatRef<'_, f64>, b: MatRef<'_, f64>| {
        let mut out = Mat::<f64>::zeros(a.nrows(), b.ncols());
        matmul(out.as_mut(), Accum::Replace, a, b, 1.0, Par::Seq);
        out
    };
    let abs =
        |a: MatRef<'_, f64>| Mat::<f64>::from_fn(a.nrows(), a.ncols(), |r, c| a[(r, c)].abs());
    let p = product(k, m);
    let h = product(p.as_ref(), k.transpose());
    let (k_abs, m_abs, p_abs) = (abs(k), abs(m), abs(p.as_ref()));
    let first = product(p_abs.as_ref(), k_abs.transpose());
    let second = product(
        k_abs.as_ref(),
        product(m_abs.as_ref(), k_abs.transpose()).as_ref(),
    );
    let frobenius = |a: MatRef<'_, f64>| -> f64 {
        let mut s = 0.0;
        for c in 0..a.ncols() {
            for r in 0..a.nrows() {
                s += a[(r, c)] * a[(r, c)];
            }
        }
        s.sqrt()
    };
    let off_identity = {
        let mut s = 0.0;
        for c in 0..n {
            for r in 0..n {
                let e = h[(r, c)] - if r == c { 1.0 } else { 0.0 };
                s += e * e;
            }
        }
        s.sqrt()
    };
    let product_error = gamma(n) * (frobenius(first.as_ref()) + frobenius(second.as_ref()));
    let k_frobenius = frobenius(k);
    let depth = gamma(moment.depth);
    // Underflow adds at most one subnormal spacing per operation; the count is generous.
    let underflow = 4.0 * (vocab as f64) * (n * n) as f64 * TINY;
    let moment_error = depth * moment.trace / (1.0 - depth) + underflow;
    // Each quantity above is a sum of at most `n^2` (or `3 n`) nonnegative rounded terms.
    let inflate = 1.0 + 4.0 * gamma(n * n + 3 * n);
    let k_frobenius = k_frobenius * inflate;
    let epsilon =
        (off_identity + product_error + k_frobenius * k_frobenius * moment_error) * inflate;
    if !epsilon.is_finite() || epsilon >= 1.0 {
        return Err(BulkError::Conditioning(epsilon));
    }
    Ok(Bound {
        epsilon,
        k_frobenius,
    })
}

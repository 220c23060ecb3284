//! The per-token LP in the scaled form LP backends solve, and the way back from a solver's answer
//! to a certificate.
//!
//! Columns are `x_j = p_j / (sigma q_j)` in `[0, 1]`, so every box is the unit interval whatever
//! the size of `q_j`. Tokens that are not columns are fixed at `p_j = q_j`: this restricts `P_i`,
//! so a point found is still a valid reject, and a dual vector is still checked over the whole
//! vocabulary (fixed tokens included), so the restriction can cost a decision but never falsify
//! one. Backends use it to solve over the most probable tokens only, and to keep HiGHS away from
//! matrix entries below its `small_matrix_value`, which it would drop silently.

use nalgebra::{DMatrix, DVector};

use crate::basis::Basis;
use crate::certificate::{KeepCertificate, RejectCertificate};
use crate::compensated::Dot2;
use crate::step::Step;

/// Rounds of least-squares correction applied to a solver's point before it is offered as a
/// certificate; each round removes the residual up to f64 rounding unless a bound becomes active.
const POLISH_ROUNDS: usize = 3;

/// `min x_t` subject to `A x = b`, `0 <= x <= 1`, column-major.
#[derive(Debug, Clone)]
pub struct ScaledLp {
    /// Token of each column, ascending.
    pub columns: Vec<u32>,
    /// `m + 1`: one row per basis column, then the sum-to-one row.
    pub rows: usize,
    /// `A`, column-major, `rows x columns.len()`.
    pub matrix: Vec<f64>,
    /// `b`, one entry per row.
    pub rhs: Vec<f64>,
    /// Column of the token under test (the one minimised), if any.
    pub target: Option<usize>,
    /// Tokens fixed at `p_j = 0` (not columns), ascending.
    zeroed: Vec<u32>,
    /// Factor each basis row was multiplied by (its largest `|b_jk|` is brought to one).
    row_scale: Vec<f64>,
}

impl ScaledLp {
    /// The LP for `token` over `columns` (tokens with `q_j > 0`, any order, `token` added if
    /// missing); every other token is fixed at `q_j`.
    pub fn new(step: &Step, basis: &Basis, token: u32, mut columns: Vec<u32>) -> Self {
        columns.push(token);
        let mut lp = Self::build(step, basis, columns, Vec::new());
        lp.target = lp.columns.binary_search(&token).ok();
        lp
    }

    /// The feasibility LP with every token of `zeroed` fixed at `p_j = 0`, over `columns` (any
    /// order; members of `zeroed` are dropped); every other token is fixed at `q_j`. A feasible
    /// point rejects all of `zeroed` at once.
    pub fn zeroing(step: &Step, basis: &Basis, zeroed: &[u32], columns: Vec<u32>) -> Self {
        let mut zeroed = zeroed.to_vec();
        zeroed.sort_unstable();
        zeroed.dedup();
        let columns = columns
            .into_iter()
            .filter(|t| zeroed.binary_search(t).is_err())
            .collect();
        Self::build(step, basis, columns, zeroed)
    }

    fn build(step: &Step, basis: &Basis, mut columns: Vec<u32>, zeroed: Vec<u32>) -> Self {
        let (q, sigma, m) = (step.q(), step.sigma(), basis.dim());
        columns.sort_unstable();
        columns.dedup();
        let mut row_scale = vec![0.0f64; m];
        for &j in columns.iter().chain(&zeroed) {
            for (s, &b) in row_scale.iter_mut().zip(basis.token_row(j as usize)) {
                *s = s.max(f64::from(b).abs());
            }
        }
        row_scale
            .iter_mut()
            .for_each(|s| *s = if *s > 0.0 { 1.0 / *s } else { 1.0 });
        let rows = m + 1;
        let mut matrix = Vec::with_capacity(rows * columns.len());
        let mut rhs = vec![0.0; rows];
        for &j in &columns {
            let qj = q[j as usize];
            for (k, &b) in basis.token_row(j as usize).iter().enumerate() {
                let scaled = row_scale[k] * f64::from(b);
                matrix.push(sigma * qj * scaled);
                rhs[k] += qj * scaled;
            }
            matrix.push(sigma * qj);
            rhs[m] += qj;
        }
        // A zeroed token's share of `B^T q` must now come from the columns.
        for &j in &zeroed {
            let qj = q[j as usize];
            for (k, &b) in basis.token_row(j as usize).iter().enumerate() {
                rhs[k] += qj * row_scale[k] * f64::from(b);
            }
            rhs[m] += qj;
        }
        Self {
            columns,
            rows,
            matrix,
            rhs,
            target: None,
            zeroed,
            row_scale,
        }
    }

    /// The dual vector of the unscaled problem from the solver's row duals (convention: reduced
    /// costs are `c - A^T y`).
    pub fn keep_certificate(&self, row_duals: &[f64]) -> KeepCertificate {
        let m = self.rows - 1;
        let mut y: Vec<f64> = row_duals[..m]
            .iter()
            .zip(&self.row_scale)
            .map(|(d, s)| d * s)
            .collect();
        y.push(row_duals[m]);
        KeepCertificate { y }
    }

    /// The point `x` (the tested token and the zeroed ones at zero) as a change `d = p - q`,
    /// polished by least squares on the variables away from their bounds so its residual meets
    /// f64 accuracy.
    pub fn reject_certificate(&self, step: &Step, basis: &Basis, x: &[f64]) -> RejectCertificate {
        self.reject_certificate_pinning(step, basis, x, |c| Some(c) == self.target)
    }

    /// As [`ScaledLp::reject_certificate`], with every column `c` for which `pinned(c)` holds set
    /// exactly to zero first (a solver leaves its zeros within its tolerance of zero); the polish
    /// then removes the residual that the snapping left.
    pub fn reject_certificate_pinning(
        &self,
        step: &Step,
        basis: &Basis,
        x: &[f64],
        pinned: impl Fn(usize) -> bool,
    ) -> RejectCertificate {
        let (q, sigma, kappa) = (step.q(), step.sigma(), step.kappa());
        let qs: Vec<f64> = self.columns.iter().map(|&j| q[j as usize]).collect();
        let mut d: Vec<f64> = qs
            .iter()
            .zip(x)
            .map(|(&qj, &xj)| (sigma * qj * xj.clamp(0.0, 1.0) - qj).clamp(-qj, kappa * qj))
            .collect();
        for (c, dc) in d.iter_mut().enumerate() {
            if pinned(c) {
                *dc = -qs[c];
            }
        }
        for _ in 0..POLISH_ROUNDS {
            if !self.polish_once(step, basis, &qs, &mut d) {
                break;
            }
        }
        let mut changes: Vec<(u32, f64)> = self
            .columns
            .iter()
            .zip(&d)
            .filter(|(_, &dj)| dj != 0.0)
            .map(|(&j, &dj)| (j, dj))
            .chain(self.zeroed.iter().map(|&j| (j, -q[j as usize])))
            .collect();
        if !self.zeroed.is_empty() {
            changes.sort_unstable_by_key(|&(j, _)| j);
        }
        RejectCertificate { changes }
    }

    /// One least-norm correction of the free variables; false when there is nothing to correct.
    fn polish_once(&self, step: &Step, basis: &Basis, qs: &[f64], d: &mut [f64]) -> bool {
        let (m, kappa) = (self.rows - 1, step.kappa());
        let row_of = |c: usize, k: usize| {
            if k < m {
                f64::from(basis.token_row(self.columns[c] as usize)[k])
            } else {
                1.0
            }
        };
        // Compensated sums (as the verifier's): the residual the verifier sees, not one whose
        // rounding is the size of the large moves that cancel in it.
        let mut sums = vec![Dot2::default(); self.rows];
        for &j in &self.zeroed {
            let qj = step.q()[j as usize];
            for (acc, &b) in sums.iter_mut().zip(basis.token_row(j as usize)) {
                acc.add_product(qj, f64::from(b));
            }
            sums[m].add(qj);
        }
        for (c, &dc) in d.iter().enumerate() {
            for (k, acc) in sums.iter_mut().enumerate() {
                acc.add_product(-dc, row_of(c, k));
            }
        }
        let residual = DVector::<f64>::from_iterator(self.rows, sums.iter().map(Dot2::value));
        if residual.iter().all(|&r| r == 0.0) {
            return false;
        }
        // Each variable is weighted by its room, the distance to its nearer bound, capped at
        // `ROOM_CAP` times the size of move the residual calls for: the least-norm correction
        // then moves variables within what they can take, those at a bound (within rounding) not
        // at all, and no large-`q` variable dwarfs the rest. Weighted by `q_j` alone, one token
        // holding nearly all the mass put every tiny-`q` direction below the SVD's cutoff, and
        // on steps whose `q` spans 30 orders of magnitude no residual the size of those tokens
        // could be removed.
        let room: Vec<f64> = d
            .iter()
            .zip(qs)
            .map(|(&dc, &qc)| (dc + qc).min(kappa * qc - dc).max(0.0))
            .collect();
        let free: Vec<usize> = (0..d.len())
            .filter(|&c| room[c] > AT_BOUND * qs[c])
            .collect();
        let entry = free
            .iter()
            .flat_map(|&c| (0..self.rows).map(move |k| row_of(c, k).abs()))
            .fold(0.0f64, f64::max);
        if free.is_empty() || entry == 0.0 {
            return false;
        }
        let cap = ROOM_CAP * residual.amax() / entry;
        let weight: Vec<f64> = room.iter().map(|&r| r.min(cap)).collect();
        let a = DMatrix::from_fn(self.rows, free.len(), |k, f| {
            weight[free[f]] * row_of(free[f], k)
        });
        let Some(z) = min_norm_solution(a, &residual) else {
            return false;
        };
        for (f, &c) in free.iter().enumerate() {
            d[c] = (d[c] + weight[c] * z[f]).clamp(-qs[c], kappa * qs[c]);
        }
        true
    }
}

/// Room, relative to `q_j`, below which a variable counts as at its bound: above the rounding of
/// `d_j = sigma q_j x_j - q_j` at a solver's bound (a few ulps of `q_j`), below any `kappa` a step
/// has in practice.
const AT_BOUND: f64 = 1e-12;

/// A variable's weight in the polish is its room, at most this many times the size of the move
/// the residual calls for (its largest entry over the largest matrix entry).
const ROOM_CAP: f64 = 1e3;

/// Singular values below this fraction of the largest are treated as zero by the polish.
const SINGULAR_CUTOFF: f64 = 1e-13;

/// Rows from which the polish's SVD is faer's rather than nalgebra's. Measured on real SmolLM2
/// steps through the CLI: at 21 rows nalgebra's took about 0.15 ms less a reject (1.19 against
/// 1.35 ms for a whole `truncate --tokens` call); at 577 rows faer's took 0.75 s of work off a
/// 1.51 s reject.
const FAER_SVD_FROM_ROWS: usize = 48;

/// Largest 1-norm condition number at which a square polish system is solved by LU rather
/// than by the SVD. Below it every singular value is far above [`SINGULAR_CUTOFF`] times the
/// largest (`cond_2 <= n cond_1`, and `n` stays below [`FAER_SVD_FROM_ROWS`]), so the SVD would
/// drop nothing and both give the one solution. A square system is the common case: the free
/// variables of a basic LP point are its basic ones, one a row.
const LU_MAX_CONDITION: f64 = 1e10;

/// The least-squares solution of `a z = b` of least norm, from a thin SVD with the directions of
/// singular values below [`SINGULAR_CUTOFF`] times the largest dropped (by LU when `a` is square
/// and well conditioned, the same solution at a fraction of the cost); `None` when the SVD does
/// not converge.
fn min_norm_solution(a: DMatrix<f64>, b: &DVector<f64>) -> Option<Vec<f64>> {
    if a.is_square() && a.nrows() < FAER_SVD_FROM_ROWS {
        if let Some(z) = well_conditioned_solution(&a, b) {
            return Some(z);
        }
    }
    if a.nrows() < FAER_SVD_FROM_ROWS {
        let svd = a.svd(true, true);
        let cutoff = svd.singular_values.max() * SINGULAR_CUTOFF;
        return svd.solve(b, cutoff).ok().map(|z| z.data.into());
    }
    let a = faer::Mat::<f64>::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)]);
    let svd = a.thin_svd().ok()?;
    let (u, s, v) = (svd.U(), svd.S().column_vector(), svd.V());
    let largest = s.iter().fold(0.0f64, |m, &x| m.max(x));
    let mut z = vec![0.0; a.ncols()];
    for i in 0..s.nrows() {
        if s[i] <= largest * SINGULAR_CUTOFF {
            continue;
        }
        let coefficient = (0..b.len()).map(|k| u[(k, i)] * b[k]).sum::<f64>() / s[i];
        for (f, zf) in z.iter_mut().enumerate() {
            *zf += coefficient * v[(f, i)];
        }
    }
    Some(z)
}

/// `a^-1 b` when the square `a` has a 1-norm condition number of at most [`LU_MAX_CONDITION`].
fn well_conditioned_solution(a: &DMatrix<f64>, b: &DVector<f64>) -> Option<Vec<f64>> {
    let inverse = a.clone().lu().try_inverse()?;
    let one_norm = |m: &DMatrix<f64>| {
        m.column_iter()
            .map(|c| c.iter().map(|x| x.abs()).sum::<f64>())
            .fold(0.0f64, f64::max)
    };
    let condition = one_norm(a) * one_norm(&inverse);
    // A NaN condition (an overflowing inverse) is not well conditioned either.
    (condition <= LU_MAX_CONDITION).then(|| (inverse * b).data.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_conditioned_square_system_is_solved_exactly_by_lu() {
        let a = DMatrix::from_row_slice(2, 2, &[2.0, 1.0, 1.0, 3.0]);
        let b = DVector::from_vec(vec![3.0, 5.0]);
        let z = well_conditioned_solution(&a, &b).expect("well conditioned");
        assert!((z[0] - 0.8).abs() < 1e-15 && (z[1] - 1.4).abs() < 1e-15);
    }

    #[test]
    fn lu_takes_systems_up_to_its_condition_bound_and_the_svd_the_rest() {
        let b = DVector::from_vec(vec![1.0, 1.0]);
        // diag(1, s) has 1-norm condition 1 / s.
        let inside = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, 1.0 / LU_MAX_CONDITION]);
        assert!(well_conditioned_solution(&inside, &b).is_some());
        let outside = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, 0.5 / LU_MAX_CONDITION]);
        assert!(well_conditioned_solution(&outside, &b).is_none());
    }

    #[test]
    fn a_nearly_singular_square_system_gets_the_least_norm_solution() {
        let a = DMatrix::from_row_slice(2, 2, &[1.0, 1.0, 1.0, 1.0 + 1e-15]);
        let b = DVector::from_vec(vec![1.0, 1.0]);
        let z = min_norm_solution(a, &b).expect("svd");
        assert!(
            (z[0] - 0.5).abs() < 1e-9 && (z[1] - 0.5).abs() < 1e-9,
            "{z:?}"
        );
        let singular = DMatrix::from_row_slice(2, 2, &[1.0, 1.0, 1.0, 1.0]);
        let z = min_norm_solution(singular, &b).expect("svd");
        assert!(
            (z[0] - 0.5).abs() < 1e-12 && (z[1] - 0.5).abs() < 1e-12,
            "{z:?}"
        );
    }
}

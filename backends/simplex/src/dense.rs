//! Dense linear algebra of the simplex: columns of the constraint matrix, the explicit basis
//! inverse and its product-form update.

use nalgebra::{DMatrix, DVector};

use crate::{BoxLp, SimplexError};

/// Column `j` of the constraint matrix.
pub(crate) fn column<'a>(lp: &BoxLp<'a>, j: usize) -> &'a [f64] {
    &lp.matrix[j * lp.rows..(j + 1) * lp.rows]
}

/// Bases with at least this many rows are inverted by faer, smaller ones by nalgebra. Measured
/// side by side (`cd benches/linalg && cargo bench`): nalgebra 9.7 us against faer 21.5 us at 21
/// rows, faer 102 us against 319 us at 65, 25.6 ms against 182 ms at 577.
const FAER_FROM_ROWS: usize = 48;

/// The inverse of the basis matrix, or [`SimplexError::Singular`].
pub(crate) fn invert(b: DMatrix<f64>) -> Result<DMatrix<f64>, SimplexError> {
    let r = b.nrows();
    if r < FAER_FROM_ROWS {
        return b.try_inverse().ok_or(SimplexError::Singular);
    }
    use faer::linalg::solvers::DenseSolveCore;
    let lu = faer::Mat::<f64>::from_fn(r, r, |i, j| b[(i, j)]).partial_piv_lu();
    // Partial pivoting leaves an exact zero on U's diagonal for a singular matrix, and the
    // inverse then holds infinities or NaNs: refuse those as nalgebra's `try_inverse` does.
    let inverse = lu.inverse();
    let out = DMatrix::from_fn(r, r, |i, j| inverse[(i, j)]);
    if out.iter().all(|v| v.is_finite()) {
        Ok(out)
    } else {
        Err(SimplexError::Singular)
    }
}

/// `B^-1` of the basis `basic` (variables `0..n` structural, `n + k` the logical of row `k`).
pub(crate) fn basis_inverse(
    lp: &BoxLp<'_>,
    basic: &[usize],
    n: usize,
) -> Result<DMatrix<f64>, SimplexError> {
    let r = lp.rows;
    let mut b = DMatrix::<f64>::zeros(r, r);
    for (i, &v) in basic.iter().enumerate() {
        if v < n {
            b.set_column(i, &DVector::from_column_slice(column(lp, v)));
        } else {
            b[(v - n, i)] = 1.0;
        }
    }
    invert(b)
}

/// Product-form update of `B^-1` when the column with `B^-1 a = alpha` replaces the basic
/// variable of row `p`: row `i` loses `alpha_i` times the new row `p`, which is the old one over
/// the pivot `alpha_p`. Returns that new row.
pub(crate) fn replace_basic(
    inverse: &mut DMatrix<f64>,
    mut alpha: DVector<f64>,
    p: usize,
) -> DVector<f64> {
    let pivot_row = inverse.row(p).transpose() / alpha[p];
    alpha[p] = 0.0;
    inverse.ger(-1.0, &alpha, &pivot_row, 1.0);
    inverse.set_row(p, &pivot_row.transpose());
    pivot_row
}

/// `out[j] = v . A_j` for every column `j` not skipped (those get zero): the pivot row
/// (`v = rho`, row `p` of `B^-1`) is most of an iteration's work, and the reduced costs after a
/// refactorisation are one more such pass.
///
/// On x86-64 CPUs with AVX2 the same code is compiled with 4-wide f64 vectors; both builds add
/// the same products in the same order, so they agree bit for bit.
pub(crate) fn row_times_columns(lp: &BoxLp<'_>, v: &[f64], skip: &[bool], out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has just been found to support AVX2.
        return unsafe { row_times_columns_avx2(lp, v, skip, out) };
    }
    row_times_columns_portable(lp, v, skip, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_times_columns_avx2(lp: &BoxLp<'_>, v: &[f64], skip: &[bool], out: &mut [f64]) {
    row_times_columns_portable(lp, v, skip, out)
}

#[inline(always)]
fn row_times_columns_portable(lp: &BoxLp<'_>, v: &[f64], skip: &[bool], out: &mut [f64]) {
    for ((a, &skipped), o) in lp.matrix.chunks_exact(lp.rows).zip(skip).zip(out) {
        *o = if skipped { 0.0 } else { dot(v, a) };
    }
}

/// Eight accumulators: one running sum waits on every add.
#[inline(always)]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (mut xs, mut ys) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in (&mut xs).zip(&mut ys) {
        for lane in 0..8 {
            acc[lane] += x[lane] * y[lane];
        }
    }
    for (x, y) in xs.remainder().iter().zip(ys.remainder()) {
        acc[0] += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dispatched pivot-row kernel against plain sums, for row counts around its eight-lane
    /// blocks; skipped columns come back as zero.
    #[test]
    fn row_times_columns_matches_plain_sums() {
        for rows in [1usize, 3, 7, 8, 9, 21, 577] {
            let cols = 5;
            let matrix: Vec<f64> = (0..rows * cols)
                .map(|i| ((i * 37 % 101) as f64 - 50.0) / 7.0)
                .collect();
            let v: Vec<f64> = (0..rows)
                .map(|k| ((k * 13 % 29) as f64 - 14.0) / 3.0)
                .collect();
            let (upper, cost) = (vec![1.0; cols], vec![0.0; cols]);
            let lp = BoxLp {
                rows,
                cols,
                matrix: &matrix,
                rhs: &vec![0.0; rows],
                upper: &upper,
                cost: &cost,
                names: None,
            };
            let skip = [false, true, false, false, true];
            let mut out = vec![f64::NAN; cols];
            row_times_columns(&lp, &v, &skip, &mut out);
            for (j, &got) in out.iter().enumerate() {
                let a = column(&lp, j);
                let plain: f64 = a.iter().zip(&v).map(|(x, y)| x * y).sum();
                let size: f64 = a.iter().zip(&v).map(|(x, y)| (x * y).abs()).sum();
                let want = if skip[j] { 0.0 } else { plain };
                assert!(
                    (got - want).abs() <= 1e-14 * size,
                    "{rows} rows, column {j}: {got} vs {want}"
                );
            }
        }
    }

    /// Both inversion paths (below and from [`FAER_FROM_ROWS`]) on invertible and singular bases.
    #[test]
    fn bases_are_inverted_or_refused_as_singular_on_both_paths() {
        for r in [FAER_FROM_ROWS - 1, FAER_FROM_ROWS, 80] {
            let b = DMatrix::from_fn(r, r, |i, j| {
                let v = ((i * 31 + j * 17) % 23) as f64 / 23.0 - 0.5;
                if i == j {
                    v + r as f64 / 4.0
                } else {
                    v
                }
            });
            let inverse = invert(b.clone()).expect("invertible");
            let error = (&b * &inverse - DMatrix::identity(r, r)).amax();
            assert!(error < 1e-12, "{r} rows: |B B^-1 - I| = {error:e}");
            // An exact zero pivot is what either library detects (near-singular bases come
            // back with huge entries, and the refactorisation's caller copes with those).
            let mut singular = b;
            singular.column_mut(1).fill(0.0);
            assert_eq!(invert(singular), Err(SimplexError::Singular), "{r} rows");
        }
    }
}

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
/// [`basis_aware_kernels::column_dots`], compiled for the CPU's best instruction set.
pub(crate) fn row_times_columns(lp: &BoxLp<'_>, v: &[f64], skip: &[bool], out: &mut [f64]) {
    basis_aware_kernels::column_dots(lp.matrix, lp.rows, v, skip, out)
}

#[cfg(test)]
mod tests {
    use super::*;

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

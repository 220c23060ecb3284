//! Top-`c` right singular vectors of `W` through the Gram matrix `W^T W` (`d x d`). Only the
//! leading singular vectors are needed, whose accuracy the squared condition number of the Gram
//! route does not hurt, and it never holds more than a block of `W` in f64.

use nalgebra::{DMatrix, SymmetricEigen};

use crate::error::{Error, Result};
use crate::matrix::MatrixView;

/// Rows of `W` converted to f64 at a time: bounds the temporary memory to `BLOCK x d` doubles.
const BLOCK: usize = 4096;

/// `W V_c` as row-major f32, with each singular vector's sign fixed (largest entry positive) so
/// the result does not depend on the eigen-solver's sign choice. Computed in f64; an entry that
/// f32 cannot hold (`W` near `f32::MAX`: the projection of `[3e38, 3e38]` on its own direction is
/// `4.2e38`) is an [`Error::NonFiniteEntry`], never an infinite basis.
pub(super) fn project_on_top_singular_vectors(w: MatrixView<'_>, rank: usize) -> Result<Vec<f32>> {
    let (rows, d) = (w.rows(), w.cols());
    let block_of = |start: usize| {
        let end = (start + BLOCK).min(rows);
        DMatrix::<f64>::from_fn(end - start, d, |r, c| {
            f64::from(w.as_slice()[(start + r) * d + c])
        })
    };
    let mut gram = DMatrix::<f64>::zeros(d, d);
    for start in (0..rows).step_by(BLOCK) {
        let block = block_of(start);
        gram += block.tr_mul(&block);
    }
    let eigen = SymmetricEigen::new(gram);
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let mut top = DMatrix::<f64>::zeros(d, rank);
    for (k, &col) in order.iter().take(rank).enumerate() {
        let v = eigen.eigenvectors.column(col);
        let pivot = v
            .iter()
            .copied()
            .fold(0.0f64, |a, x| if x.abs() > a.abs() { x } else { a });
        let sign = if pivot < 0.0 { -1.0 } else { 1.0 };
        top.set_column(k, &(v * sign));
    }
    let mut out = Vec::with_capacity(rows * rank);
    for start in (0..rows).step_by(BLOCK) {
        let projected = block_of(start) * &top;
        for r in 0..projected.nrows() {
            for (col, &x) in projected.row(r).iter().enumerate() {
                let value = x as f32;
                if !value.is_finite() {
                    return Err(Error::NonFiniteEntry {
                        matrix: "svd basis",
                        row: start + r,
                        col,
                        value,
                    });
                }
                out.push(value);
            }
        }
    }
    Ok(out)
}

//! Batches: one truncation per row of a `[B, V]` logits matrix, rows in parallel on rayon's
//! current thread pool (run it inside `ThreadPool::install` to choose the threads). Each row gets
//! a backend of its own, fresh, so the result does not depend on the schedule.

use rayon::prelude::*;

use crate::backend::Backend;
use crate::basis::Basis;
use crate::error::{Error, Result};
use crate::rule::ThresholdRule;
use crate::truncate::{truncate, Truncation};

/// [`truncate`] for every row of `logits` (row-major `[rows, basis.vocab()]`), in row order.
///
/// ```
/// use basis_aware::{backends::SimplexBackend, truncate_batch, Basis, MatrixView, Rule};
///
/// let w = [1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, -1.0_f32];
/// let basis = Basis::full(MatrixView::new(&w, 4, 2)?)?;
/// let logits = [3.0, 1.0, 0.5, -2.0, 0.0, 2.0, 1.0, 1.0_f32];
/// let rows = truncate_batch(&logits, &basis, &Rule::Epsilon(0.1), SimplexBackend::default)?;
/// assert_eq!(rows.len(), 2);
/// # Ok::<(), basis_aware::Error>(())
/// ```
pub fn truncate_batch<B, F>(
    logits: &[f32],
    basis: &Basis,
    rule: &(dyn ThresholdRule + Sync),
    new_backend: F,
) -> Result<Vec<Truncation>>
where
    B: Backend,
    F: Fn() -> B + Sync,
{
    let vocab = basis.vocab();
    if logits.is_empty() || !logits.len().is_multiple_of(vocab) {
        return Err(Error::Shape(format!(
            "a batch of logits needs a positive multiple of the vocabulary ({vocab}) entries, got {}",
            logits.len()
        )));
    }
    logits
        .par_chunks(vocab)
        .map(|row| {
            let mut backend = new_backend();
            truncate(row, basis, rule, Some(&mut backend))
        })
        .collect()
}

//! The screen of a selection pass: which blocks of a vocabulary-long array hold a value that
//! reaches a floor, so that only those are looked at value by value.

use pulp::{Arch, Simd, WithSimd};

/// Pushes onto `out` the start of every block of `block` values (the last one may be shorter)
/// holding a value `v` with `v >= floor` and `v > 0`, in order.
///
/// ```
/// let mut out = Vec::new();
/// let values = [0.1, 0.2, 0.0, 0.0, 0.5];
/// basis_aware_kernels::blocks_reaching(&values, 0.2, 2, &mut out);
/// assert_eq!(out, [0, 4]);
/// ```
pub fn blocks_reaching(values: &[f64], floor: f64, block: usize, out: &mut Vec<usize>) {
    Arch::new().dispatch(BlocksReaching {
        values,
        floor,
        block: block.max(1),
        out,
    })
}

dispatched!(BlocksReaching<'a> {
    values: &'a [f64],
    floor: f64,
    block: usize,
    out: &'a mut Vec<usize>,
} => blocks_reaching_portable);

#[inline(always)]
fn blocks_reaching_portable(values: &[f64], floor: f64, block: usize, out: &mut Vec<usize>) {
    for (b, chunk) in values.chunks(block).enumerate() {
        // No early exit: the whole block's comparisons vectorize.
        let hit = chunk
            .iter()
            .fold(false, |hit, &v| hit | ((v >= floor) & (v > 0.0)));
        if hit {
            out.push(b * block);
        }
    }
}

//! The keep check's whole pass over a tiled basis in one sweep: each tile's scores
//! `s_j = b_j . y + y0`, the check's three sums and the tile's largest `scale q_j s_j`, without
//! storing `s`. The separate passes ([`crate::tiled_dots`], [`crate::keep_sums`],
//! [`crate::screen_blocks`]) write `s` and read it back twice, with `q` and `|b_j|_1`; here the
//! tiles and those two are read once. [`tile_scores`] gives a tile's scores again, bit for bit
//! the pass's, for the few tiles whose largest term asks for a look token by token.

use crate::keep::{add_term, LANES};
use crate::TILE;

/// What one keep pass reads: the tiles of `B` ([`crate::tile_rows`], `dim` wide), the dual
/// `(y, y0)`, and per token `q_j` and `|b_j|_1`.
#[derive(Debug, Clone, Copy)]
pub struct KeepPass<'a> {
    /// The tiled basis.
    pub tiles: &'a [f32],
    /// Its width `m`.
    pub dim: usize,
    /// The dual's first `m` entries.
    pub y: &'a [f64],
    /// The dual's last entry, added to every score.
    pub y0: f64,
    /// The step's probabilities, one per token.
    pub q: &'a [f64],
    /// `|b_j|_1` per token.
    pub l1: &'a [f64],
    /// The step's `kappa`.
    pub kappa: f64,
    /// The factor of each token's own term (`sigma`).
    pub scale: f64,
}

/// For every token `j < q.len()`, `s_j = b_j . y + y0` (summed as [`crate::tiled_dots`] sums,
/// then `y0` added); returns `[sum q_j g(s_j), sum q_j l1_j, sum q_j]` added exactly as
/// [`crate::keep_sums`] adds them, and writes into `maxima[t]` the largest `scale q_j s_j` of
/// tile `t`'s tokens (NaNs skipped; `-inf` for a tile without any). `maxima` holds one entry a
/// tile.
///
/// ```
/// use basis_aware_kernels::{tile_rows, tiled_keep_pass, KeepPass};
/// let rows = [1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0]; // three tokens, m = 2
/// let tiles = tile_rows(&rows, 2);
/// let (q, l1) = ([0.5, 0.25, 0.25], [1.0, 1.0, 2.0]);
/// let mut maxima = [0.0];
/// let pass = KeepPass { tiles: &tiles, dim: 2, y: &[1.0, -1.0], y0: 0.5, q: &q, l1: &l1, kappa: 2.0, scale: 1.0 };
/// let sums = tiled_keep_pass(&pass, &mut maxima);
/// // s = [1.5, -0.5, 0.5], g(s) = [3.0, 0.5, 1.0]
/// assert_eq!(sums, [0.5 * 3.0 + 0.25 * 0.5 + 0.25 * 1.0, 0.5 + 0.25 + 0.5, 1.0]);
/// assert_eq!(maxima, [0.75]);
/// ```
pub fn tiled_keep_pass(pass: &KeepPass<'_>, maxima: &mut [f64]) -> [f64; 3] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: AVX is present, checked just above.
        return unsafe { avx::pass(pass, maxima) };
    }
    portable(pass, maxima)
}

/// Tile `t`'s scores `s_j = b_j . y + y0`, bit for bit those [`tiled_keep_pass`] used (entries
/// past the last token are the padding's `y0`).
pub fn tile_scores(tiles: &[f32], dim: usize, y: &[f64], y0: f64, t: usize) -> [f64; TILE] {
    let mut s = dots(&tiles[t * TILE * dim..(t + 1) * TILE * dim], y);
    s.iter_mut().for_each(|v| *v += y0);
    s
}

/// One tile's dots, summed as `tiled_dots` sums them (its portable loop, on the one tile).
#[inline(always)]
fn dots(tile: &[f32], y: &[f64]) -> [f64; TILE] {
    let mut acc = [0.0f64; TILE];
    crate::tiled_dots_portable(tile, y.len(), y, &mut acc);
    acc
}

/// Token `j`'s part of the sums, `v` its score; returns its own term `scale q_j v`.
#[inline(always)]
fn add_token(
    pass: &KeepPass<'_>,
    acc: &mut [[f64; LANES]; 3],
    lane: usize,
    j: usize,
    v: f64,
) -> f64 {
    add_term(acc, lane, v, pass.q[j], pass.l1[j], pass.kappa);
    pass.scale * pass.q[j] * v
}

/// Tiles `from..` token by token, into `acc` and `maxima`.
fn tiles_by_token(
    pass: &KeepPass<'_>,
    from: usize,
    acc: &mut [[f64; LANES]; 3],
    maxima: &mut [f64],
) {
    let n = pass.q.len();
    // `keep_sums` puts the tokens past the last multiple of four in lane 0.
    let whole = n / LANES * LANES;
    for (t, best) in maxima.iter_mut().enumerate().skip(from) {
        let tile = &pass.tiles[t * TILE * pass.dim..(t + 1) * TILE * pass.dim];
        let s = dots(tile, pass.y);
        *best = f64::NEG_INFINITY;
        for (l, &sl) in s.iter().enumerate().take(n.saturating_sub(t * TILE)) {
            let j = t * TILE + l;
            let lane = if j < whole { j % LANES } else { 0 };
            let term = add_token(pass, acc, lane, j, sl + pass.y0);
            if term > *best {
                *best = term;
            }
        }
    }
}

fn finish(acc: &[[f64; LANES]; 3]) -> [f64; 3] {
    let sum = |a: &[f64; LANES]| (a[0] + a[1]) + (a[2] + a[3]);
    [sum(&acc[0]), sum(&acc[1]), sum(&acc[2])]
}

fn portable(pass: &KeepPass<'_>, maxima: &mut [f64]) -> [f64; 3] {
    let mut acc = [[0.0f64; LANES]; 3];
    tiles_by_token(pass, 0, &mut acc, maxima);
    finish(&acc)
}

/// The pass in AVX registers: a tile's sixteen scores in four registers, each summed over `k`
/// by a multiply and an add (no fused multiply-add), as the portable loop does; then each
/// register's four tokens land in the sums' four lanes, in token order. The tiles holding a token
/// past the last multiple of four (or past the end) go token by token.
#[cfg(target_arch = "x86_64")]
mod avx {
    use std::arch::x86_64::*;

    use super::{finish, tiles_by_token, KeepPass, LANES};
    use crate::keep::avx::{add_terms, lanes};
    use crate::TILE;

    /// # Safety
    /// The CPU must support AVX.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn pass(pass: &KeepPass<'_>, maxima: &mut [f64]) -> [f64; 3] {
        let (n, dim) = (pass.q.len(), pass.dim);
        let whole = n / LANES * LANES;
        let vector_tiles = (whole / TILE).min(maxima.len());
        let zero = _mm256_setzero_pd();
        let (y0, kappa) = (_mm256_set1_pd(pass.y0), _mm256_set1_pd(pass.kappa));
        let (scale, lowest) = (
            _mm256_set1_pd(pass.scale),
            _mm256_set1_pd(f64::NEG_INFINITY),
        );
        let mut sums = [zero; 3];
        for (t, best) in maxima.iter_mut().enumerate().take(vector_tiles) {
            let tile = &pass.tiles[t * TILE * dim..(t + 1) * TILE * dim];
            let mut acc = [zero; TILE / LANES];
            for (run, &yk) in tile.chunks_exact(TILE).zip(pass.y) {
                let yk = _mm256_set1_pd(yk);
                for (r, a) in acc.iter_mut().enumerate() {
                    // SAFETY: `run` holds `TILE = 16` f32s; `r < 4` reads four of them.
                    let b = _mm256_cvtps_pd(unsafe { _mm_loadu_ps(run.as_ptr().add(r * LANES)) });
                    *a = _mm256_add_pd(*a, _mm256_mul_pd(yk, b));
                }
            }
            let mut top = lowest;
            for (r, a) in acc.iter().enumerate() {
                let j = t * TILE + r * LANES;
                // SAFETY: `j + LANES <= whole <= n`, the length of `q` and of `l1`.
                let (q, l1) = unsafe {
                    (
                        _mm256_loadu_pd(pass.q.as_ptr().add(j)),
                        _mm256_loadu_pd(pass.l1.as_ptr().add(j)),
                    )
                };
                let v = _mm256_add_pd(*a, y0);
                add_terms(&mut sums, v, q, l1, kappa);
                let term = _mm256_mul_pd(_mm256_mul_pd(scale, q), v);
                let ordered = _mm256_cmp_pd::<_CMP_ORD_Q>(term, term);
                top = _mm256_max_pd(top, _mm256_blendv_pd(lowest, term, ordered));
            }
            let mut high = [0.0; LANES];
            // SAFETY: `high` holds `LANES = 4` f64s.
            unsafe { _mm256_storeu_pd(high.as_mut_ptr(), top) };
            *best = high[0].max(high[1]).max(high[2].max(high[3]));
        }
        let mut acc = lanes(&sums);
        tiles_by_token(pass, vector_tiles, &mut acc, maxima);
        finish(&acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{keep_sums, screen_blocks, tile_rows, tiled_dots};

    /// The separate passes' results: the sums of `keep_sums` after `tiled_dots`, and which
    /// tiles `screen_blocks` flags at `bar`.
    fn separate(pass: &KeepPass<'_>, bar: f64) -> ([f64; 3], Vec<usize>, Vec<f64>) {
        let n = pass.q.len();
        let mut s = vec![0.0; n];
        tiled_dots(pass.tiles, pass.dim, pass.y, &mut s);
        let sums = keep_sums(&mut s, pass.q, pass.l1, pass.y0, pass.kappa);
        let mut blocks = Vec::new();
        screen_blocks(&s, pass.q, pass.scale, bar, TILE, &mut blocks);
        (sums, blocks, s)
    }

    #[test]
    fn one_sweep_is_the_separate_passes_bit_for_bit() {
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for (n, dim) in [
            (0, 3),
            (1, 3),
            (5, 2),
            (16, 4),
            (37, 5),
            (64, 20),
            (1003, 21),
        ] {
            let rows: Vec<f32> = (0..n * dim)
                .map(|k| (((k * 7_919) % 1_013) as f32 - 506.0) / 97.0)
                .collect();
            let tiles = tile_rows(&rows, dim);
            let y: Vec<f64> = (0..dim).map(|k| (k as f64 - 2.3) * 0.37).collect();
            let q: Vec<f64> = (0..n)
                .map(|j| {
                    if j % 9 == 4 {
                        0.0
                    } else {
                        1.0 / (j as f64 + 3.0)
                    }
                })
                .collect();
            let l1: Vec<f64> = (0..n).map(|j| 0.5 + (j % 5) as f64).collect();
            let pass = KeepPass {
                tiles: &tiles,
                dim,
                y: &y,
                y0: -0.125,
                q: &q,
                l1: &l1,
                kappa: 0.75,
                scale: 1.5,
            };
            let mut maxima = vec![0.0; n.div_ceil(TILE)];
            let sums = tiled_keep_pass(&pass, &mut maxima);
            let (expected, _, s) = separate(&pass, 0.0);
            assert_eq!(bits(&sums), bits(&expected), "n = {n}, dim = {dim}");
            assert_eq!(bits(&portable(&pass, &mut maxima.clone())), bits(&expected));
            for (t, &best) in maxima.iter().enumerate() {
                let scores = tile_scores(&tiles, dim, &y, -0.125, t);
                let tokens = t * TILE..n.min((t + 1) * TILE);
                assert_eq!(bits(&scores[..tokens.len()]), bits(&s[tokens.clone()]));
                // The tile's largest term flags it exactly where the screen does, at any bar.
                for bar in [best, best.next_down(), -1.0, 0.0] {
                    let (_, blocks, _) = separate(&pass, bar);
                    assert_eq!(
                        blocks.contains(&(t * TILE)),
                        best > bar,
                        "tile {t} at {bar}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_nan_does_not_hide_a_tile_s_largest_term() {
        let rows = vec![1.0f32; 16];
        let tiles = tile_rows(&rows, 1);
        let mut q = vec![0.1; 16];
        q[0] = 0.0;
        let (y, l1) = ([f64::INFINITY], vec![1.0; 16]);
        // Token 0's term is 0 * inf; the others' are infinite.
        let pass = KeepPass {
            tiles: &tiles,
            dim: 1,
            y: &y,
            y0: 0.0,
            q: &q,
            l1: &l1,
            kappa: 1.0,
            scale: 1.0,
        };
        let mut maxima = [0.0];
        tiled_keep_pass(&pass, &mut maxima);
        assert_eq!(maxima, [f64::INFINITY]);
    }
}

//! The keep check's two passes over the vocabulary after the dots: [`keep_sums`], the sums a
//! dual's bar is made of, and [`screen_blocks`], which blocks hold a token that might clear it.
//! Like the dot kernels they are portable loops dispatched to the CPU's best instruction set
//! (the sums in explicit AVX registers where present, which the portable loop does not
//! vectorize to), and every build adds the same terms in the same order.

use pulp::{Arch, Simd, WithSimd};

/// Independent partial sums of [`keep_sums`], one SIMD register of f64 each with AVX2.
pub(crate) const LANES: usize = 4;

/// Adds `y0` to every `s[j]` and returns, over the tokens with `q[j] > 0`,
/// `[sum q_j g(s_j), sum q_j l1_j, sum q_j]` with `g(t) = kappa t` for `t > 0` and `-t`
/// otherwise. Each sum is taken in four partial sums (token `j` in lane `j mod 4`, the tokens
/// past the last multiple of four in lane 0), added as `(l0 + l1) + (l2 + l3)`. A token with
/// `q_j = 0` adds nothing, even where `g(s_j)` is infinite.
///
/// ```
/// let mut s = [1.0, -2.0, 0.5];
/// let sums = basis_aware_kernels::keep_sums(&mut s, &[0.5, 0.25, 0.0], &[1.0, 2.0, 3.0], 1.0, 0.5);
/// assert_eq!(s, [2.0, -1.0, 1.5]);
/// assert_eq!(sums, [0.5 * 1.0 + 0.25 * 1.0, 0.5 + 0.5, 0.75]);
/// ```
pub fn keep_sums(s: &mut [f64], q: &[f64], l1: &[f64], y0: f64, kappa: f64) -> [f64; 3] {
    let n = s.len().min(q.len()).min(l1.len());
    let (s, q, l1) = (&mut s[..n], &q[..n], &l1[..n]);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: AVX is present, checked just above.
        return unsafe { avx::keep_sums(s, q, l1, y0, kappa) };
    }
    let mut sums = [0.0; 3];
    Arch::new().dispatch(KeepSums {
        s,
        q,
        l1,
        y0,
        kappa,
        sums: &mut sums,
    });
    sums
}

/// [`keep_sums`] in AVX registers, one lane a register entry: the portable loop's four lanes
/// do not vectorize (15 instructions a token, measured), these take about four. Each lane does
/// the portable loop's operations in its order (no fused multiply-add), so the sums are the
/// same bit for bit.
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx {
    use std::arch::x86_64::*;

    use super::LANES;

    /// The three sums' four lanes, one register each.
    pub(crate) type Sums = [__m256d; 3];

    /// Adds four tokens' terms to `sums`, lane for lane: `v` their scores (`y0` added), `q`
    /// and `l1` theirs; the portable loop's operations in its order.
    #[target_feature(enable = "avx")]
    pub(crate) fn add_terms(sums: &mut Sums, v: __m256d, q: __m256d, l1: __m256d, kappa: __m256d) {
        let (zero, sign) = (_mm256_setzero_pd(), _mm256_set1_pd(-0.0));
        // `kappa v` where `v > 0` (false for NaN, as in the portable loop), else `-v`.
        let positive = _mm256_cmp_pd::<_CMP_GT_OQ>(v, zero);
        let g = _mm256_blendv_pd(_mm256_xor_pd(v, sign), _mm256_mul_pd(kappa, v), positive);
        let absent = _mm256_cmp_pd::<_CMP_EQ_OQ>(q, zero);
        sums[0] = _mm256_add_pd(sums[0], _mm256_blendv_pd(_mm256_mul_pd(q, g), zero, absent));
        sums[1] = _mm256_add_pd(sums[1], _mm256_mul_pd(q, l1));
        sums[2] = _mm256_add_pd(sums[2], q);
    }

    /// The registers' lanes, for the tail's tokens and the final additions.
    #[target_feature(enable = "avx")]
    pub(crate) fn lanes(sums: &Sums) -> [[f64; LANES]; 3] {
        let mut out = [[0.0; LANES]; 3];
        for (o, v) in out.iter_mut().zip(sums) {
            // SAFETY: `o` holds `LANES = 4` f64s.
            unsafe { _mm256_storeu_pd(o.as_mut_ptr(), *v) };
        }
        out
    }

    /// # Safety
    /// The CPU must support AVX; the slices must have the same length.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn keep_sums(
        s: &mut [f64],
        q: &[f64],
        l1: &[f64],
        y0: f64,
        kappa: f64,
    ) -> [f64; 3] {
        let n = s.len() / LANES * LANES;
        let (y0v, kv) = (_mm256_set1_pd(y0), _mm256_set1_pd(kappa));
        let mut sums = [_mm256_setzero_pd(); 3];
        for k in (0..n).step_by(LANES) {
            // SAFETY: `k + LANES <= n <= len` for all three slices.
            let (sp, qj, lj) = unsafe {
                (
                    s.as_mut_ptr().add(k),
                    _mm256_loadu_pd(q.as_ptr().add(k)),
                    _mm256_loadu_pd(l1.as_ptr().add(k)),
                )
            };
            let v = _mm256_add_pd(unsafe { _mm256_loadu_pd(sp) }, y0v);
            unsafe { _mm256_storeu_pd(sp, v) };
            add_terms(&mut sums, v, qj, lj, kv);
        }
        let mut acc = lanes(&sums);
        for ((sj, &qj), &l1j) in s[n..].iter_mut().zip(&q[n..]).zip(&l1[n..]) {
            *sj += y0;
            super::add_term(&mut acc, 0, *sj, qj, l1j, kappa);
        }
        let sum = |a: &[f64; LANES]| (a[0] + a[1]) + (a[2] + a[3]);
        [sum(&acc[0]), sum(&acc[1]), sum(&acc[2])]
    }
}

/// Pushes onto `out` the start of every block of `block` tokens (the last one may be shorter)
/// holding a token with `scale q_j s_j > bar`, in order.
///
/// ```
/// let mut out = Vec::new();
/// let s = [1.0, 1.0, 3.0, 1.0, 1.0];
/// basis_aware_kernels::screen_blocks(&s, &[1.0; 5], 1.0, 2.0, 2, &mut out);
/// assert_eq!(out, [2]);
/// ```
pub fn screen_blocks(
    s: &[f64],
    q: &[f64],
    scale: f64,
    bar: f64,
    block: usize,
    out: &mut Vec<usize>,
) {
    Arch::new().dispatch(ScreenBlocks {
        s,
        q,
        scale,
        bar,
        block: block.max(1),
        out,
    })
}

dispatched!(KeepSums<'a> {
    s: &'a mut [f64],
    q: &'a [f64],
    l1: &'a [f64],
    y0: f64,
    kappa: f64,
    sums: &'a mut [f64; 3],
} => keep_sums_into);

#[inline(always)]
fn keep_sums_into(s: &mut [f64], q: &[f64], l1: &[f64], y0: f64, kappa: f64, sums: &mut [f64; 3]) {
    *sums = keep_sums_portable(s, q, l1, y0, kappa);
}

dispatched!(ScreenBlocks<'a> {
    s: &'a [f64],
    q: &'a [f64],
    scale: f64,
    bar: f64,
    block: usize,
    out: &'a mut Vec<usize>,
} => screen_blocks_portable);

#[inline(always)]
fn screen_blocks_portable(
    s: &[f64],
    q: &[f64],
    scale: f64,
    bar: f64,
    block: usize,
    out: &mut Vec<usize>,
) {
    for (b, (sc, qc)) in s.chunks(block).zip(q.chunks(block)).enumerate() {
        // No early exit: the whole block's comparisons vectorize.
        let any = sc
            .iter()
            .zip(qc)
            .fold(false, |any, (&sj, &qj)| any | (scale * qj * sj > bar));
        if any {
            out.push(b * block);
        }
    }
}

/// Adds one token's terms to the sums' lane `lane`: `v` its score (`y0` added), `q` and `l1`
/// its `q_j` and `|b_j|_1`.
#[inline(always)]
pub(crate) fn add_term(
    acc: &mut [[f64; LANES]; 3],
    lane: usize,
    v: f64,
    q: f64,
    l1: f64,
    kappa: f64,
) {
    let g = if v > 0.0 { kappa * v } else { -v };
    // Selected rather than skipped, so the loop has no branch (`q_j g` alone could be
    // `0 * inf`).
    acc[0][lane] += if q == 0.0 { 0.0 } else { q * g };
    acc[1][lane] += q * l1;
    acc[2][lane] += q;
}

#[inline(always)]
fn keep_sums_portable(s: &mut [f64], q: &[f64], l1: &[f64], y0: f64, kappa: f64) -> [f64; 3] {
    let mut acc = [[0.0f64; LANES]; 3];
    let mut add = |lane: usize, sj: &mut f64, qj: f64, l1j: f64| {
        *sj += y0;
        add_term(&mut acc, lane, *sj, qj, l1j, kappa);
    };
    let n = s.len() / LANES * LANES;
    let (head, tail) = s.split_at_mut(n);
    for ((sc, qc), lc) in head
        .chunks_exact_mut(LANES)
        .zip(q.chunks_exact(LANES))
        .zip(l1.chunks_exact(LANES))
    {
        for lane in 0..LANES {
            add(lane, &mut sc[lane], qc[lane], lc[lane]);
        }
    }
    for ((sj, &qj), &l1j) in tail.iter_mut().zip(&q[n..]).zip(&l1[n..]) {
        add(0, sj, qj, l1j);
    }
    let total = |a: &[f64; LANES]| (a[0] + a[1]) + (a[2] + a[3]);
    [total(&acc[0]), total(&acc[1]), total(&acc[2])]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values with every case the loop distinguishes: signs, zeros of both signs, a zero `q_j`
    /// against an infinite `s_j`, a NaN, and a length that leaves a tail.
    fn case(n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let s: Vec<f64> = (0..n)
            .map(|j| match j % 11 {
                0 => 0.0,
                1 => -0.0,
                2 => f64::INFINITY,
                3 if j == 3 => f64::NAN,
                k => (k as f64 - 5.5) * 1.37e-3 * (j as f64).sqrt(),
            })
            .collect();
        let q: Vec<f64> = (0..n)
            .map(|j| {
                if j % 11 == 2 {
                    0.0
                } else {
                    1.0 / (j as f64 + 2.0)
                }
            })
            .collect();
        let l1: Vec<f64> = (0..n).map(|j| 0.5 + (j % 7) as f64).collect();
        (s, q, l1)
    }

    #[test]
    fn the_dispatched_sums_are_the_portable_ones_bit_for_bit() {
        for n in [0, 1, 3, 4, 5, 64, 1001] {
            for nan in [false, true] {
                let (mut s, q, l1) = case(n);
                if !nan {
                    s.iter_mut().filter(|v| v.is_nan()).for_each(|v| *v = 1.0);
                }
                let mut plain = s.clone();
                let expected = keep_sums_portable(&mut plain, &q, &l1, -2.5e-3, 0.75);
                let got = keep_sums(&mut s, &q, &l1, -2.5e-3, 0.75);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&expected), "n = {n}, nan = {nan}");
                assert_eq!(bits(&s), bits(&plain), "n = {n}, nan = {nan}");
            }
        }
    }
}

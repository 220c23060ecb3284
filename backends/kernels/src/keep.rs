//! The keep check's two passes over the vocabulary after the dots: [`keep_sums`], the sums a
//! dual's bar is made of, and [`screen_blocks`], which blocks hold a token that might clear it.
//! Like the dot kernels they are portable loops dispatched to the CPU's best instruction set, and
//! every build adds the same terms in the same order.

use pulp::{Arch, Simd, WithSimd};

/// Independent partial sums of [`keep_sums`], one SIMD register of f64 each with AVX2.
const LANES: usize = 4;

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

struct KeepSums<'a> {
    s: &'a mut [f64],
    q: &'a [f64],
    l1: &'a [f64],
    y0: f64,
    kappa: f64,
    sums: &'a mut [f64; 3],
}

impl WithSimd for KeepSums<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) {
        *self.sums = keep_sums_portable(self.s, self.q, self.l1, self.y0, self.kappa);
    }
}

struct ScreenBlocks<'a> {
    s: &'a [f64],
    q: &'a [f64],
    scale: f64,
    bar: f64,
    block: usize,
    out: &'a mut Vec<usize>,
}

impl WithSimd for ScreenBlocks<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) {
        let (scale, bar) = (self.scale, self.bar);
        for (b, (sc, qc)) in self
            .s
            .chunks(self.block)
            .zip(self.q.chunks(self.block))
            .enumerate()
        {
            // No early exit: the whole block's comparisons vectorize.
            let any = sc
                .iter()
                .zip(qc)
                .fold(false, |any, (&sj, &qj)| any | (scale * qj * sj > bar));
            if any {
                self.out.push(b * self.block);
            }
        }
    }
}

#[inline(always)]
fn keep_sums_portable(s: &mut [f64], q: &[f64], l1: &[f64], y0: f64, kappa: f64) -> [f64; 3] {
    let mut acc = [[0.0f64; LANES]; 3];
    let mut add = |lane: usize, sj: &mut f64, qj: f64, l1j: f64| {
        *sj += y0;
        let g = if *sj > 0.0 { kappa * *sj } else { -*sj };
        // Selected rather than skipped, so the loop has no branch (`q_j g` alone could be
        // `0 * inf`).
        acc[0][lane] += if qj == 0.0 { 0.0 } else { qj * g };
        acc[1][lane] += qj * l1j;
        acc[2][lane] += qj;
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

//! What the head engines ([`super::band`], [`super::full`]) share: a token's column, a solve
//! with the asked token's own column fixed at zero, the reject certificate of the point such
//! a solve finds, and the selection of the columns a dual prices worst.

use super::head_lp::{HeadAnswer, HeadLp};
use crate::basis::Basis;
use crate::certificate::RejectCertificate;

/// Token `j`'s column `a_j = (b_j, 1)` in f64.
pub(crate) fn column(basis: &Basis, j: u32, a: &mut [f64]) {
    let m = basis.dim();
    for (x, &b) in a.iter_mut().zip(basis.token_row(j as usize)) {
        *x = f64::from(b);
    }
    a[m] = 1.0;
}

/// Solves `lp` for `rhs` with column `own` (the asked token's, when it is a column) fixed at
/// zero, reading a feasible point into `point` before the bounds are restored.
pub(crate) fn solve_without(
    lp: &mut HeadLp,
    rhs: &[f64],
    own: Option<usize>,
    point: &mut Vec<f64>,
) -> HeadAnswer {
    let saved = own.map(|j| {
        let bounds = lp.bounds(j);
        lp.set_bounds(j, 0.0, 0.0);
        (j, bounds)
    });
    let answer = lp.solve(rhs);
    if answer == HeadAnswer::Feasible {
        lp.point(point);
    }
    if let Some((j, (lower, upper))) = saved {
        lp.set_bounds(j, lower, upper);
    }
    answer
}

/// The reject point of token `t` from a point `d` of the head LP with `t`'s own column (if
/// any) fixed at zero: `d_j` for the other head tokens and `-q_t` for `t` (a point of `P_t`:
/// `sum_{j != t} d_j a_j = q_t a_t`).
pub(crate) fn reject_point(
    tokens: &[u32],
    d: &[f64],
    t: u32,
    q: &[f64],
    kappa: f64,
) -> RejectCertificate {
    let mut changes: Vec<(u32, f64)> = tokens
        .iter()
        .zip(d)
        .filter(|(&j, &dj)| j != t && dj != 0.0)
        .map(|(&j, &dj)| {
            let qj = q[j as usize];
            (j, dj.clamp(-qj, kappa * qj))
        })
        .collect();
    changes.push((t, -q[t as usize]));
    changes.sort_unstable_by_key(|c| c.0);
    RejectCertificate { changes }
}

/// Tokens sampled (evenly spaced) to estimate the floor of [`largest_scores`].
const FLOOR_SAMPLE: usize = 512;

/// How many times `want` tokens the floor of [`largest_scores`] aims to let through, so that
/// fewer than `want` (which costs a second pass) is rare.
const FLOOR_SLACK: usize = 4;

/// Collects into `scores` the `want` largest positive `score(j)`, `j < n` (ties to the lower
/// index), in index order, and returns how many that is (all of them when fewer).
///
/// Only scores at or above a floor join `scores`: the score of rank about `FLOOR_SLACK * want`
/// estimated from a strided sample, so the pass pushes and the selection sorts a few times
/// `want` entries instead of nearly `n`. When fewer than `want` reach the floor, the pass runs
/// again without it. Either way the result is the `want` largest of all positive scores: when
/// at least `want` reach the floor, the `want`-th largest score does too, and so does every
/// score above it.
pub(crate) fn largest_scores(
    n: usize,
    want: usize,
    scores: &mut Vec<(f64, u32)>,
    score: impl Fn(usize) -> f64,
) -> usize {
    let mut floor = sampled_floor(n, want, &score);
    loop {
        scores.clear();
        for j in 0..n {
            let g = score(j);
            if g > 0.0 && g >= floor {
                scores.push((g, j as u32));
            }
        }
        if scores.len() >= want || floor == 0.0 {
            return largest_first(scores, want);
        }
        floor = 0.0;
    }
}

/// The sampled score of rank `FLOOR_SLACK * want` (scaled to the sample), or zero (no floor)
/// when that rank reaches past the sample's positive scores: a pass that keeps only scores at or
/// above it most likely keeps `want` of them, and then the `want` largest of all.
pub(crate) fn sampled_floor(n: usize, want: usize, score: &impl Fn(usize) -> f64) -> f64 {
    let stride = n / FLOOR_SAMPLE;
    if stride < 2 {
        return 0.0;
    }
    let mut sample: Vec<f64> = (0..FLOOR_SAMPLE)
        .map(|k| score(k * stride))
        .filter(|&g| g > 0.0)
        .collect();
    let rank = (FLOOR_SLACK * want).div_ceil(stride);
    if rank >= sample.len() {
        return 0.0;
    }
    let (_, &mut floor, _) = sample.select_nth_unstable_by(rank, |a, b| b.total_cmp(a));
    floor
}

/// Moves the `want` largest scores (ties to the lower index) to the front of `scores`, in index
/// order, and returns how many that is (all of them when fewer).
pub(crate) fn largest_first(scores: &mut [(f64, u32)], want: usize) -> usize {
    let k = want.min(scores.len());
    if k == 0 {
        return 0;
    }
    if k < scores.len() {
        scores.select_nth_unstable_by(k - 1, |x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    }
    scores[..k].sort_unstable_by_key(|x| x.1);
    k
}

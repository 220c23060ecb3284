//! The largest scores over a vocabulary: the columns a dual prices worst, the most probable
//! tokens of a step. A floor estimated from a strided sample lets a single pass keep only a few
//! times as many candidates as wanted, so the selection sorts those instead of all `V`.

/// Tokens sampled (evenly spaced) to estimate the floor of [`largest_scores`].
const FLOOR_SAMPLE: usize = 512;

/// How many times `want` tokens the floor of [`largest_scores`] aims to let through, so that
/// fewer than `want` (which costs a second pass) is rare.
const FLOOR_SLACK: usize = 4;

/// Collects into `scores` the `want` largest positive `score(j)`, `j < n` (ties to the lower
/// index), in index order, and returns how many that is (all of them when fewer).
pub(crate) fn largest_scores(
    n: usize,
    want: usize,
    scores: &mut Vec<(f64, u32)>,
    score: impl Fn(usize) -> f64,
) -> usize {
    candidates(n, want, scores, score);
    largest_first(scores, want)
}

/// Collects into `scores`, in index order, positive `score(j)`, `j < n`, among which are the
/// `want` largest (ties to the lower index) and a few times as many others at most, typically.
///
/// Only scores at or above a floor join `scores`: the score of rank about `FLOOR_SLACK * want`
/// estimated from a strided sample, so the pass pushes and a selection then sorts a few times
/// `want` entries instead of nearly `n`. When fewer than `want` reach the floor, the pass runs
/// again without it. Either way the `want` largest of all positive scores are collected: when
/// at least `want` reach the floor, the `want`-th largest score does too, and so does every
/// score above it.
pub(crate) fn candidates(
    n: usize,
    want: usize,
    scores: &mut Vec<(f64, u32)>,
    score: impl Fn(usize) -> f64,
) {
    above_floor(n, want, scores, &score, |floor, scores| {
        for j in 0..n {
            let g = score(j);
            if g > 0.0 && g >= floor {
                scores.push((g, j as u32));
            }
        }
    })
}

/// [`candidates`] of the scores `values[j]`: the pass looks at a block of [`SCREEN_BLOCK`]
/// values token by token only when one of them reaches the floor, so its comparisons vectorize
/// (a lazy draw's step selects its heads over the whole vocabulary).
pub(crate) fn candidates_in(values: &[f64], want: usize, scores: &mut Vec<(f64, u32)>) {
    let n = values.len();
    // Sized for the floor's typical yield at once, not grown push by push.
    let mut blocks = Vec::with_capacity(n.div_ceil(SCREEN_BLOCK).min(FLOOR_SLACK * want));
    scores.reserve(FLOOR_SLACK * want);
    above_floor(n, want, scores, &|j| values[j], |floor, scores| {
        blocks.clear();
        basis_aware_kernels::blocks_reaching(values, floor, SCREEN_BLOCK, &mut blocks);
        for &start in &blocks {
            let block = &values[start..n.min(start + SCREEN_BLOCK)];
            for (k, &v) in block.iter().enumerate() {
                if v >= floor && v > 0.0 {
                    scores.push((v, (start + k) as u32));
                }
            }
        }
    })
}

/// Values screened at once by [`candidates_in`].
const SCREEN_BLOCK: usize = 16;

/// Runs `pass(floor, scores)` (which pushes the positive scores at or above `floor`, in index
/// order) from the sampled floor, and once more without a floor when fewer than `want` reach it.
fn above_floor(
    n: usize,
    want: usize,
    scores: &mut Vec<(f64, u32)>,
    score: &impl Fn(usize) -> f64,
    mut pass: impl FnMut(f64, &mut Vec<(f64, u32)>),
) {
    let mut floor = sampled_floor(n, want, score);
    loop {
        scores.clear();
        pass(floor, scores);
        if scores.len() >= want || floor == 0.0 {
            return;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_screened_pass_finds_what_the_plain_one_does() {
        let values: Vec<f64> = (0..5000u64)
            .map(|j| match j % 7 {
                0 => 0.0,
                k => ((j * 2_654_435_761) % 1000) as f64 * k as f64,
            })
            .collect();
        for want in [1, 10, 300, 4999, 6000] {
            let (mut plain, mut screened) = (Vec::new(), Vec::new());
            candidates(values.len(), want, &mut plain, |j| values[j]);
            candidates_in(&values, want, &mut screened);
            assert_eq!(plain, screened, "want {want}");
        }
    }
}

//! Code shared by the benches (a directory module, so cargo does not take it for a bench). Each
//! bench uses part of it.
#![allow(dead_code)]

use basis_aware::synthetic;
use basis_aware::{sample_step, Basis, SampleBudget, Step};

/// The model's own unembedding cost, `W h` in f32 for a row-major `W` with `h.len()` columns,
/// with eight independent accumulators per row so the compiler can vectorise it the way an
/// engine's own kernel would. Every bench compares against this one kernel, so ratios from
/// different benches share a baseline.
pub fn unembedding(w: &[f32], h: &[f32]) -> Vec<f32> {
    w.chunks_exact(h.len())
        .map(|row| {
            let mut lanes = [0.0f32; 8];
            for (r, x) in row.chunks_exact(8).zip(h.chunks_exact(8)) {
                for k in 0..8 {
                    lanes[k] += r[k] * x[k];
                }
            }
            lanes.iter().sum()
        })
        .collect()
}

/// Whether the first candidate drawn from `seed` is below `tau`: without a backend the sampler
/// refuses such a candidate, so it shows up in `refused`. Such draws are the ones that need an
/// LP, which the lazy-sampling figures time.
pub fn first_draw_below_tau(step: &Step, basis: &Basis, seed: u64) -> bool {
    let draw = sample_step(
        step,
        basis,
        None,
        SampleBudget::unlimited(),
        &mut synthetic::rng(seed),
    )
    .expect("draw without a backend");
    !draw.refused.is_empty()
}

/// The same distribution and threshold as `step`, built anew: nothing computed on the way
/// (the probability order, the selected head, the verifier's shared factors) carries over, as
/// for the fresh step of each decode step. A timed draw starts from one, built outside its timer.
pub fn fresh(step: &Step) -> Step {
    Step::from_probabilities(step.q().to_vec(), step.tau()).expect("a step's own q and tau")
}

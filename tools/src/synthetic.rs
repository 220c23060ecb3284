//! Synthetic decode steps with a known generator, for the demo, tests and benchmarks: a Gaussian
//! output embedding `W` and hidden states `h`, with logits `W h`. The draws come from
//! xoshiro256++ seeded by [`rng`] and `rand_distr`'s standard normal, so an instance is the same
//! on every machine for a given seed.

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::instance::{Constraint, Instance};

/// The seeded generator behind every synthetic draw of the tools (instances, the evaluation's
/// world and fit, the samplers' draws).
pub fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// A standard normal draw.
pub fn gaussian(rng: &mut Xoshiro256PlusPlus) -> f64 {
    StandardNormal.sample(rng)
}

/// `steps` decode steps over a `vocab x dim` Gaussian embedding (entries of variance `1 / dim`),
/// hidden states of norm about `scale`.
///
/// ```
/// let instance = basis_aware_tools::synthetic::gaussian_instance(100, 4, 2, 6.0, 1);
/// assert_eq!((instance.steps, instance.vocab), (2, 100));
/// assert_eq!(instance.step_logits(1)?.len(), 100);
/// # Ok::<(), basis_aware::Error>(())
/// ```
pub fn gaussian_instance(
    vocab: usize,
    dim: usize,
    steps: usize,
    scale: f64,
    seed: u64,
) -> Instance {
    let mut rng = rng(seed);
    let std = 1.0 / (dim as f64).sqrt();
    let w: Vec<f32> = (0..vocab * dim)
        .map(|_| (gaussian(&mut rng) * std) as f32)
        .collect();
    let mut logits = Vec::with_capacity(steps * vocab);
    for _ in 0..steps {
        let h: Vec<f64> = (0..dim).map(|_| gaussian(&mut rng) * scale * std).collect();
        logits.extend(w.chunks_exact(dim).map(|row| {
            row.iter()
                .zip(&h)
                .map(|(&a, &b)| f64::from(a) * b)
                .sum::<f64>() as f32
        }));
    }
    Instance {
        logits,
        steps,
        vocab,
        constraint: Constraint::Embedding(w, dim),
    }
}

//! Synthetic decode steps for the library's tests: a Gaussian output embedding `W` (entries of
//! variance `1 / dim`) and hidden states of norm about `scale`, with logits `W h`, drawn from
//! xoshiro256++ and `rand_distr`'s standard normal. `basis-aware-tools` draws its instances the
//! same way, so `basis-aware synth` writes these steps for the same seed.

use basis_aware::{Basis, MatrixView, Result};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The seeded generator of every test's draws.
pub fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// A standard normal draw.
pub fn gaussian(rng: &mut Xoshiro256PlusPlus) -> f64 {
    StandardNormal.sample(rng)
}

/// `steps` decode steps over one embedding.
#[derive(Debug, Clone)]
pub struct Synthetic {
    /// Row-major `[steps, vocab]`.
    pub logits: Vec<f32>,
    pub steps: usize,
    pub vocab: usize,
    /// Row-major `[vocab, dim]`.
    pub w: Vec<f32>,
    pub dim: usize,
}

impl Synthetic {
    /// Step `k`'s logits.
    pub fn step_logits(&self, k: usize) -> Result<&[f32]> {
        assert!(k < self.steps, "step {k} of {}", self.steps);
        Ok(&self.logits[k * self.vocab..(k + 1) * self.vocab])
    }

    /// The embedding whole (`svd = None`) or through its top `svd` singular vectors.
    pub fn basis(&self, svd: Option<usize>) -> Result<Basis> {
        let w = MatrixView::new(&self.w, self.vocab, self.dim)?;
        match svd {
            None => Basis::full(w),
            Some(c) => Basis::svd(w, c),
        }
    }
}

/// `steps` decode steps over a `vocab x dim` Gaussian embedding, hidden states of norm about
/// `scale`, from `seed`.
pub fn gaussian_instance(
    vocab: usize,
    dim: usize,
    steps: usize,
    scale: f64,
    seed: u64,
) -> Synthetic {
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
    Synthetic {
        logits,
        steps,
        vocab,
        w,
        dim,
    }
}

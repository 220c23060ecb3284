//! Synthetic decode steps with a known generator (feature `synthetic`), for tests, benchmarks
//! and demos: a Gaussian output embedding `W` (entries of variance `1 / dim`) and hidden states
//! of norm about `scale`, with logits `W h`. The draws come from xoshiro256++ seeded by [`rng`]
//! and `rand_distr`'s standard normal, so the steps are the same on every machine for a seed.
//!
//! ```
//! let steps = basis_aware::synthetic::gaussian_instance(100, 4, 2, 6.0, 1);
//! assert_eq!((steps.steps, steps.vocab), (2, 100));
//! assert_eq!(steps.step_logits(1)?.len(), 100);
//! let basis = steps.basis(Some(3))?;
//! assert_eq!(basis.dim(), 3);
//! # Ok::<(), basis_aware::Error>(())
//! ```

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::basis::Basis;
use crate::error::{Error, Result};
use crate::matrix::MatrixView;

/// Most f32 entries (`vocab * dim` for the embedding, `steps * vocab` for the logits) a synthetic
/// instance may have: 2^30, 4 GiB each. Larger requests are refused before anything is allocated.
pub const MAX_ENTRIES: usize = 1 << 30;

/// Checks the sizes of a [`gaussian_instance`] before anything is allocated: all positive, and
/// `vocab * dim` and `steps * vocab` within [`MAX_ENTRIES`] (no `usize` overflow).
///
/// ```
/// use basis_aware::synthetic::check_size;
/// assert!(check_size(100, 4, 2).is_ok());
/// assert!(check_size(100_000_000_000, 100_000, 1).is_err());
/// ```
pub fn check_size(vocab: usize, dim: usize, steps: usize) -> Result<()> {
    if vocab == 0 || dim == 0 || steps == 0 {
        return Err(Error::Shape(format!(
            "a synthetic instance needs vocab, dim and steps >= 1, got {vocab}, {dim}, {steps}"
        )));
    }
    for (what, a, b) in [("vocab x dim", vocab, dim), ("steps x vocab", steps, vocab)] {
        match a.checked_mul(b) {
            Some(n) if n <= MAX_ENTRIES => {}
            _ => {
                return Err(Error::Shape(format!(
                    "{what} = {a} x {b} exceeds the {MAX_ENTRIES} entries a synthetic instance may have"
                )))
            }
        }
    }
    Ok(())
}

/// The seeded generator behind every synthetic draw.
pub fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// A standard normal draw.
pub fn gaussian(rng: &mut Xoshiro256PlusPlus) -> f64 {
    StandardNormal.sample(rng)
}

/// Decode steps over one embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Synthetic {
    /// Row-major `[steps, vocab]`.
    pub logits: Vec<f32>,
    /// Number of steps.
    pub steps: usize,
    /// Vocabulary size `V`.
    pub vocab: usize,
    /// The embedding `W`, row-major `[vocab, dim]`.
    pub w: Vec<f32>,
    /// Hidden size `d`.
    pub dim: usize,
}

impl Synthetic {
    /// Step `k`'s logits.
    pub fn step_logits(&self, k: usize) -> Result<&[f32]> {
        if k >= self.steps {
            return Err(Error::Shape(format!(
                "step {k} does not exist: there are {} steps",
                self.steps
            )));
        }
        Ok(&self.logits[k * self.vocab..(k + 1) * self.vocab])
    }

    /// The embedding whole (`svd = None`) or through its top `svd` right singular vectors.
    pub fn basis(&self, svd: Option<usize>) -> Result<Basis> {
        let w = MatrixView::new(&self.w, self.vocab, self.dim)?;
        match svd {
            None => Basis::full(w),
            Some(c) => Basis::svd(w, c),
        }
    }
}

/// `steps` decode steps over a `vocab x dim` Gaussian embedding, hidden states of norm about
/// `scale`, drawn from `seed`. Sizes a user chose go through [`check_size`] first.
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

//! Synthetic decode steps with a known generator, for the demo, tests and benchmarks: a Gaussian
//! output embedding `W` and hidden states `h`, with logits `W h / temperature`. The generator is
//! a fixed SplitMix64 stream so an instance is the same on every machine for a given seed.

use crate::error::{Error, Result};
use crate::instance::{Constraint, Instance};

/// Most f32 entries (`vocab * dim` for the embedding, `steps * vocab` for the logits) a synthetic
/// instance may have: 2^30, 4 GiB each. Larger requests are refused before anything is allocated.
pub const MAX_ENTRIES: usize = 1 << 30;

/// Checks the sizes of a [`gaussian_instance`] before anything is allocated: all positive,
/// and `vocab * dim` and `steps * vocab` within [`MAX_ENTRIES`] (no `usize` overflow).
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

/// Deterministic 64-bit generator (SplitMix64) with Gaussian draws (Box-Muller).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

/// So a seed can drive [`crate::sample`] as well as the synthetic instances.
impl rand_core::TryRng for SplitMix64 {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.next_u64() >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.next_u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `(0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub fn gaussian(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// `steps` decode steps over a `vocab x dim` Gaussian embedding (entries of variance `1 / dim`),
/// hidden states of norm about `scale`.
///
/// # Panics
/// When [`check_size`] refuses the sizes (call it first on sizes a user chose).
pub fn gaussian_instance(
    vocab: usize,
    dim: usize,
    steps: usize,
    scale: f64,
    seed: u64,
) -> Instance {
    if let Err(e) = check_size(vocab, dim, steps) {
        panic!("{e}");
    }
    let mut rng = SplitMix64::new(seed);
    let std = 1.0 / (dim as f64).sqrt();
    let w: Vec<f32> = (0..vocab * dim)
        .map(|_| (rng.gaussian() * std) as f32)
        .collect();
    let mut logits = Vec::with_capacity(steps * vocab);
    for _ in 0..steps {
        let h: Vec<f64> = (0..dim).map(|_| rng.gaussian() * scale * std).collect();
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

//! The synthetic world: `N` contexts over `V` tokens whose true next-token distributions `p*_c`
//! are known exactly. Each `p*_c` has a sparse support of random size with Zipf weights.
//!
//! Supports are not independent random subsets: they are the top tokens of a latent score
//! `u_j . z_c` of rank `latent` (larger than the fitted model's `d`), so contexts share structure
//! a rank-`d` softmax can partly capture, as in language, and the rest is what the bottleneck
//! forces it to smooth over.

use basis_aware::{Error, Result};
use rand::RngExt;

use basis_aware::synthetic;

/// Sizes and shape of a world.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldConfig {
    /// Number of contexts (true distributions).
    pub contexts: usize,
    /// Vocabulary size.
    pub vocab: usize,
    /// Rank of the latent scores that pick each support.
    pub latent: usize,
    /// Support sizes are drawn log-uniformly from `min_support..=max_support`.
    pub min_support: usize,
    /// Largest support size.
    pub max_support: usize,
    /// Zipf exponent: the `r`-th token of a support (by latent score) has weight `r^-zipf`.
    pub zipf: f64,
    /// Seed of the world's generator.
    pub seed: u64,
}

/// The true distributions, one sparse vector per context.
#[derive(Debug, Clone)]
pub struct World {
    /// Vocabulary size.
    pub vocab: usize,
    /// `support[c]`: `(token, p*)` pairs, ascending by token, all `p* > 0`, summing to one.
    pub support: Vec<Vec<(u32, f64)>>,
}

impl World {
    /// Draws a world from `config` (same seed, same world on every machine).
    pub fn generate(config: &WorldConfig) -> Result<Self> {
        let WorldConfig {
            contexts,
            vocab,
            latent,
            min_support,
            max_support,
            zipf,
            seed,
        } = *config;
        if contexts == 0 || vocab == 0 || latent == 0 {
            return Err(Error::Shape(
                "a world needs at least one context, token and latent dimension".into(),
            ));
        }
        if min_support == 0 || min_support > max_support || max_support > vocab {
            return Err(Error::Shape(format!(
                "support sizes must satisfy 1 <= {min_support} <= {max_support} <= vocab {vocab}"
            )));
        }
        if !(zipf.is_finite() && zipf >= 0.0) {
            return Err(Error::Shape(format!(
                "zipf exponent must be >= 0, got {zipf}"
            )));
        }
        let mut rng = synthetic::rng(seed);
        let u: Vec<f64> = (0..vocab * latent)
            .map(|_| synthetic::gaussian(&mut rng))
            .collect();
        let (lo, hi) = ((min_support as f64).ln(), (max_support as f64 + 1.0).ln());
        let support = (0..contexts)
            .map(|_| {
                let z: Vec<f64> = (0..latent).map(|_| synthetic::gaussian(&mut rng)).collect();
                let size = ((lo + (hi - lo) * rng.random::<f64>()).exp() as usize)
                    .clamp(min_support, max_support);
                let score = |j: usize| -> f64 {
                    u[j * latent..(j + 1) * latent]
                        .iter()
                        .zip(&z)
                        .map(|(a, b)| a * b)
                        .sum()
                };
                let mut order: Vec<(f64, u32)> = (0..vocab).map(|j| (score(j), j as u32)).collect();
                order.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                let weights: Vec<f64> = (1..=size).map(|r| (r as f64).powf(-zipf)).collect();
                let total: f64 = weights.iter().sum();
                let mut pairs: Vec<(u32, f64)> = order[..size]
                    .iter()
                    .zip(&weights)
                    .map(|(&(_, j), &w)| (j, w / total))
                    .collect();
                pairs.sort_unstable_by_key(|&(j, _)| j);
                pairs
            })
            .collect();
        Ok(Self { vocab, support })
    }

    /// Number of contexts.
    pub fn contexts(&self) -> usize {
        self.support.len()
    }

    /// `p*_c` as a dense vector.
    pub fn dense(&self, context: usize) -> Vec<f64> {
        let mut p = vec![0.0; self.vocab];
        for &(j, v) in &self.support[context] {
            p[j as usize] = v;
        }
        p
    }

    /// Entropy of `p*_c` in nats: the least cross-entropy any model can reach on context `c`.
    pub fn entropy(&self, context: usize) -> f64 {
        self.support[context]
            .iter()
            .map(|&(_, v)| -v * v.ln())
            .sum()
    }
}

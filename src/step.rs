//! One decode step: the model distribution `q = softmax(logits)` in f64 and the threshold `tau`
//! with its box factor `sigma = 1 / (1 - tau)`. Everything downstream reads `q` from here, so the
//! certificate checks and the solvers see the same numbers.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::rule::ThresholdRule;

/// Largest threshold used. `sigma` must stay finite; `tau` is capped here only on steps where one
/// token holds more than `1 - TAU_CAP` of the mass, where the threshold keeps that token alone
/// either way.
pub const TAU_CAP: f64 = 1.0 - 1.0 / (1u64 << 20) as f64;

/// The distribution and threshold of one decode step.
#[derive(Debug, Clone)]
pub struct Step {
    q: Vec<f64>,
    tau: f64,
    sigma: f64,
    kappa: f64,
    /// Tokens with `q_j > 0` by decreasing `q_j`, sorted on first use: only steps that reach an
    /// LP pay for the sort, and they pay once.
    by_probability: OnceLock<Vec<u32>>,
    /// Identifies this distribution and threshold for what is kept per step (verified
    /// certificates, the engines' state, the verifier's shared absorbers); clones share it (a
    /// step never changes).
    id: u64,
}

impl Step {
    /// Softmax of `logits` (max-shifted, in f64) and the threshold that `rule` gives for it.
    ///
    /// `-inf` logits are masked tokens (`q_j = 0`). The threshold is lowered to `max(q)` when the
    /// rule would keep nothing, so at least one token is always kept, and capped at [`TAU_CAP`].
    pub fn new(logits: &[f32], rule: &dyn ThresholdRule) -> Result<Self> {
        let q = softmax(logits)?;
        let tau = rule.threshold(&q)?;
        Self::with_threshold(q, tau)
    }

    /// A step from a probability vector already computed by the caller (entries `>= 0`, finite,
    /// summing to one within `1e-6`) and an explicit threshold `tau` in `(0, 1]`.
    pub fn from_probabilities(q: Vec<f64>, tau: f64) -> Result<Self> {
        if q.is_empty() {
            return Err(Error::EmptyVocabulary);
        }
        if let Some(index) = q.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(Error::Shape(format!(
                "probability {index} is {}: probabilities must be finite and >= 0",
                q[index]
            )));
        }
        let total: f64 = q.iter().sum();
        if (total - 1.0).abs() > 1e-6 {
            return Err(Error::Shape(format!("probabilities sum to {total}, not 1")));
        }
        Self::with_threshold(q, tau)
    }

    /// The same distribution under another threshold (clamped as in [`Step::new`]), sharing
    /// nothing mutable; the probability order already sorted is carried over.
    pub fn at_threshold(&self, tau: f64) -> Result<Self> {
        let step = Self::with_threshold(self.q.clone(), tau)?;
        if let Some(order) = self.by_probability.get() {
            let _ = step.by_probability.set(order.clone());
        }
        Ok(step)
    }

    fn with_threshold(q: Vec<f64>, tau: f64) -> Result<Self> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        if !(tau > 0.0 && tau <= 1.0) {
            return Err(Error::Threshold(format!(
                "the rule produced tau = {tau}; it must lie in (0, 1]"
            )));
        }
        let q_max = q.iter().copied().fold(0.0, f64::max);
        let tau = tau.min(q_max).min(TAU_CAP);
        let sigma = 1.0 / (1.0 - tau);
        // `sigma - 1` is exact in f64 for sigma in [1, 2^53], so the box `[0, sigma q_j]` and the
        // change bound `kappa q_j` describe the same set.
        let kappa = sigma - 1.0;
        Ok(Self {
            q,
            tau,
            sigma,
            kappa,
            by_probability: OnceLock::new(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// The model distribution, one entry per token.
    pub fn q(&self) -> &[f64] {
        &self.q
    }

    /// Vocabulary size `V`.
    pub fn vocab(&self) -> usize {
        self.q.len()
    }

    /// The threshold in force (after the at-least-one-token and cap adjustments).
    pub fn tau(&self) -> f64 {
        self.tau
    }

    /// `1 / (1 - tau)`: no token's true probability exceeds `sigma q_j`.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// `sigma - 1`: the largest relative increase of a token's probability.
    pub fn kappa(&self) -> f64 {
        self.kappa
    }

    /// Tokens with `q_j > 0`, most probable first (ties by token id).
    pub fn by_probability(&self) -> &[u32] {
        self.by_probability.get_or_init(|| {
            let mut order: Vec<u32> = (0..self.q.len() as u32)
                .filter(|&j| self.q[j as usize] > 0.0)
                .collect();
            order.sort_unstable_by(|&a, &b| {
                self.q[b as usize]
                    .total_cmp(&self.q[a as usize])
                    .then(a.cmp(&b))
            });
            order
        })
    }

    /// The `k` most probable tokens with `q_j > 0` (all of them if fewer), in the order of
    /// [`Step::by_probability`]. Found in one pass with a heap of the best `k` so far when the
    /// full order has not been sorted yet: a lazy draw that needs one LP needs only the head of
    /// the order (measured at V = 49152 on a real step, the 168 most probable: 2.4 ms for the
    /// full sort, 0.32 ms by selection, 0.05 ms by the heap, which rejects most tokens with one
    /// comparison).
    pub fn most_probable(&self, k: usize) -> Vec<u32> {
        // Never more than the vocabulary: the heap below is allocated for `k` entries.
        let k = k.min(self.q.len());
        if let Some(order) = self.by_probability.get() {
            return order[..k.min(order.len())].to_vec();
        }
        let mut best: BinaryHeap<Reverse<Ranked>> = BinaryHeap::with_capacity(k + 1);
        // The smallest `q` in the heap once it is full: most tokens fall below it, and one
        // comparison against a register turns them away.
        let mut floor = f64::NEG_INFINITY;
        for (j, &qj) in self.q.iter().enumerate() {
            if qj == 0.0 || k == 0 || qj < floor {
                continue;
            }
            let entry = Ranked(qj, j as u32);
            if best.len() < k {
                best.push(Reverse(entry));
                if best.len() < k {
                    continue;
                }
            } else if let Some(mut worst) = best.peek_mut() {
                if entry > worst.0 {
                    *worst = Reverse(entry);
                }
            }
            floor = best.peek().map_or(f64::INFINITY, |w| w.0 .0);
        }
        let mut head: Vec<Ranked> = best.into_iter().map(|Reverse(r)| r).collect();
        head.sort_unstable_by(|a, b| b.cmp(a));
        head.into_iter().map(|Ranked(_, j)| j).collect()
    }

    /// Tokens with `0 < q_j < tau`, most probable first: the ones BAT has to decide. A suffix
    /// of [`Step::by_probability`], so it costs the sort once and no copy.
    pub fn below_threshold(&self) -> &[u32] {
        let order = self.by_probability();
        let first = order.partition_point(|&j| self.q[j as usize] >= self.tau);
        &order[first..]
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Whether the threshold alone keeps `token` (ties at `tau` are kept). A token outside the
    /// vocabulary has no mass and is not kept: `false`, never a panic.
    pub fn above_threshold(&self, token: u32) -> bool {
        self.q.get(token as usize).is_some_and(|&qt| qt >= self.tau)
    }
}

/// A token ranked as [`Step::by_probability`] orders them: larger `q` first, then smaller id.
#[derive(Debug, Clone, Copy)]
struct Ranked(f64, u32);

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0).then(other.1.cmp(&self.1))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Ranked {}

/// `softmax(logits)` in f64 with the max-shift; `-inf` gives an exact zero.
pub fn softmax(logits: &[f32]) -> Result<Vec<f64>> {
    if logits.is_empty() {
        return Err(Error::EmptyVocabulary);
    }
    let mut max = f32::NEG_INFINITY;
    for (index, &value) in logits.iter().enumerate() {
        if value.is_nan() || value == f32::INFINITY {
            return Err(Error::InvalidLogit { index, value });
        }
        max = max.max(value);
    }
    if max == f32::NEG_INFINITY {
        return Err(Error::AllMasked);
    }
    let max = f64::from(max);
    let mut q: Vec<f64> = logits.iter().map(|&l| (f64::from(l) - max).exp()).collect();
    let total: f64 = q.iter().sum();
    q.iter_mut().for_each(|v| *v /= total);
    Ok(q)
}

//! One decode step: the model distribution `q = softmax(logits)` in f64 and the threshold `tau`
//! with its box factor `sigma = 1 / (1 - tau)`. Everything downstream reads `q` from here, so the
//! certificate checks and the solvers see the same numbers.

use std::cmp::Reverse;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::rule::ThresholdRule;
use crate::select::candidates_in;

/// Largest threshold used. `sigma` must stay finite; `tau` is capped here only on steps where one
/// token holds more than `1 - TAU_CAP` of the mass, where the threshold keeps that token alone
/// either way.
pub const TAU_CAP: f64 = 1.0 - 1.0 / (1u64 << 20) as f64;

/// Sizes of the heads [`Step::most_probable`] selects, each once, the smallest that holds a
/// request serving it: a lazy draw's LPs (168 columns, then four times as many while the mass
/// is short) and its reject checks ask for the head again and again. Larger requests sort the
/// whole order.
const HEAD_SIZES: [usize; 4] = [256, 1024, 4096, 16384];

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
    /// For each of [`HEAD_SIZES`], that many most probable tokens in that order, selected on
    /// first use while the full order is not sorted.
    heads: [OnceLock<Vec<u32>>; HEAD_SIZES.len()],
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
        for (from, to) in self.heads.iter().zip(&step.heads) {
            if let Some(head) = from.get() {
                let _ = to.set(head.clone());
            }
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
            heads: Default::default(),
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
    /// [`Step::by_probability`]. Found by selection when the full order has not been sorted yet:
    /// a lazy draw that needs one LP needs only the head of the order.
    pub fn most_probable(&self, k: usize) -> Vec<u32> {
        let tier = HEAD_SIZES.iter().position(|&size| size >= k);
        let order = match (self.by_probability.get(), tier) {
            (Some(order), _) => order,
            (None, Some(t)) => self.heads[t].get_or_init(|| self.select(HEAD_SIZES[t])),
            (None, None) => self.by_probability(),
        };
        order[..k.min(order.len())].to_vec()
    }

    /// The `k` most probable tokens, by selection.
    fn select(&self, k: usize) -> Vec<u32> {
        if k == 0 {
            return Vec::new();
        }
        let mut head = Vec::new();
        candidates_in(&self.q, k, &mut head);
        // Positive finite f64s order as their bits do: integer keys, cheaper than `total_cmp`.
        let rank = |&(qj, j): &(f64, u32)| (Reverse(qj.to_bits()), j);
        if head.len() > k {
            head.select_nth_unstable_by_key(k - 1, rank);
            head.truncate(k);
        }
        head.sort_unstable_by_key(rank);
        head.into_iter().map(|(_, j)| j).collect()
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

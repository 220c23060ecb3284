//! Lazy sampling (METHOD.md, "Lazy sampling"): to draw one token it is enough to decide the
//! candidates drawn. Candidates come from `q` without replacement and the first kept one is
//! returned, which is exactly a draw from `q` renormalised over the kept set: most draws land at
//! or above `tau` and need no LP at all.

use std::time::{Duration, Instant};

use rand_core::Rng;

use crate::backend::Backend;
use crate::basis::Basis;
use crate::certificate::{KeepProof, Outcome, UndecidedReason};
use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::reduction::{default_pipeline, Reduction};
use crate::rule::ThresholdRule;
use crate::step::Step;
use crate::truncate::decide_in;

/// Limits on the LP work of one draw. Once one is reached, each later candidate that needs an LP
/// is left undecided and refused (the threshold's own decision), so the draw then comes from the
/// tokens kept by the threshold or already proven kept; [`Sampled::budget_exhausted`] says so.
/// The default has no limits, and then the law of the draw is exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SampleBudget {
    /// Most backend calls.
    pub max_solves: Option<usize>,
    /// Most wall time spent inside the backend.
    pub max_backend_time: Option<Duration>,
}

impl SampleBudget {
    /// No limits: the exact law.
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// At most `solves` backend calls per draw.
    pub fn solves(solves: usize) -> Self {
        Self {
            max_solves: Some(solves),
            ..Self::default()
        }
    }

    /// At most `time` inside the backend per draw.
    pub fn backend_time(time: Duration) -> Self {
        Self {
            max_backend_time: Some(time),
            ..Self::default()
        }
    }
}

/// One draw and what it cost.
#[derive(Debug, Clone)]
pub struct Sampled {
    /// The token drawn.
    pub token: u32,
    /// Why it is kept: [`KeepProof::Threshold`] (`q >= tau`) or a verified dual vector.
    pub proof: KeepProof,
    /// The threshold in force.
    pub tau: f64,
    /// Candidates drawn before it and refused, in draw order, with their outcome (rejected, or
    /// undecided and so refused).
    pub refused: Vec<(u32, Outcome)>,
    /// Backend calls made.
    pub solves: usize,
    /// Whether the budget ran out, so that some candidate was refused without a decision.
    pub budget_exhausted: bool,
    /// Wall time spent inside the backend.
    pub backend_time: Duration,
    /// Wall time of the whole draw.
    pub elapsed: Duration,
}

impl Sampled {
    /// Whether the draw is a token the threshold alone would have dropped.
    pub fn below_threshold(&self) -> bool {
        !matches!(self.proof, KeepProof::Threshold)
    }
}

/// One draw from `softmax(logits)` renormalised over the tokens BAT keeps, with no budget.
/// Without a backend, tokens below the threshold are refused (the threshold sampler).
/// [`crate::Bat::sample`] is the same draw from a configured, stateful object.
///
/// ```
/// use basis_aware::{sample, Basis, MatrixView, Rule};
/// use rand_xoshiro::{rand_core::SeedableRng, Xoshiro256PlusPlus};
///
/// let w = [1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, -1.0_f32];
/// let basis = Basis::full(MatrixView::new(&w, 4, 2)?)?;
/// let mut rng = Xoshiro256PlusPlus::seed_from_u64(7); // or any rand_core::Rng
/// let draw = sample(&[3.0, 1.0, 0.5, -2.0], &basis, &Rule::Epsilon(0.1), None, &mut rng)?;
/// assert!(draw.token < 4);
/// # Ok::<(), basis_aware::Error>(())
/// ```
pub fn sample<R: Rng + ?Sized>(
    logits: &[f32],
    basis: &Basis,
    rule: &dyn ThresholdRule,
    backend: Option<&mut dyn Backend>,
    rng: &mut R,
) -> Result<Sampled> {
    let step = Step::new(logits, rule)?;
    sample_step(&step, basis, backend, SampleBudget::default(), rng)
}

/// One draw from a step already built, within `budget`, through the default pipeline.
pub fn sample_step<R: Rng + ?Sized>(
    step: &Step,
    basis: &Basis,
    backend: Option<&mut dyn Backend>,
    budget: SampleBudget,
    rng: &mut R,
) -> Result<Sampled> {
    let start = Instant::now();
    let mut ledger = Ledger::new(step, basis)?;
    let draw = Draw {
        weights: None,
        budget,
    };
    draw.run(
        &mut ledger,
        backend,
        &mut default_pipeline(),
        &mut Vec::new(),
        rng,
        start,
    )
}

/// How one lazy draw runs: where its candidates come from and the limits on its LP work.
pub(crate) struct Draw<'w> {
    /// Unnormalised weights of the distribution candidates are drawn from; `None` draws from
    /// the step's own `q`.
    pub weights: Option<&'w [f64]>,
    pub budget: SampleBudget,
}

impl Draw<'_> {
    /// Candidates from the weights without replacement, each decided through `pipeline` in
    /// `ledger`, until one is kept: a draw from the weights restricted to the kept set.
    /// `refused` is all-false scratch of any length, and is left all-false.
    pub fn run<R: Rng + ?Sized, P: Reduction + ?Sized>(
        &self,
        ledger: &mut Ledger<'_>,
        mut backend: Option<&mut dyn Backend>,
        pipeline: &mut [Box<P>],
        refused_mask: &mut Vec<bool>,
        rng: &mut R,
        start: Instant,
    ) -> Result<Sampled> {
        let step = ledger.step;
        let weights = self.weights.unwrap_or(step.q());
        if weights.len() != step.vocab() {
            return Err(Error::Shape(format!(
                "{} proposal weights for a vocabulary of {}",
                weights.len(),
                step.vocab()
            )));
        }
        let mut refused: Vec<(u32, Outcome)> = Vec::new();
        let result = loop {
            let mask = (!refused.is_empty()).then_some(&refused_mask[..]);
            let Some(token) = draw(weights, mask, rng) else {
                break Err(Error::NoKeptToken);
            };
            if !ledger.settle_without_lp(token) {
                let budget = self.budget;
                let out_of_budget = budget.max_solves.is_some_and(|n| ledger.solves >= n)
                    || budget
                        .max_backend_time
                        .is_some_and(|t| ledger.backend_time >= t);
                if out_of_budget && backend.is_some() {
                    ledger.leave_undecided(token, UndecidedReason::Budget);
                } else if let Err(e) = decide_in(ledger, &[token], reborrow(&mut backend), pipeline)
                {
                    break Err(e);
                }
            }
            let (outcome, _) = ledger.get(token).expect("the candidate was just settled");
            if let Outcome::Keep(proof) = outcome {
                break Ok((token, proof.clone()));
            }
            refused.push((token, outcome.clone()));
            if refused_mask.len() != step.vocab() {
                // Only once a candidate is refused: most draws keep their first. Zeroed memory
                // from the allocator, as `resize` writes the flags one by one.
                *refused_mask = vec![false; step.vocab()];
            }
            refused_mask[token as usize] = true;
        };
        for &(t, _) in &refused {
            refused_mask[t as usize] = false;
        }
        let (token, proof) = result?;
        Ok(Sampled {
            token,
            proof,
            tau: step.tau(),
            budget_exhausted: refused
                .iter()
                .any(|(_, o)| matches!(o, Outcome::Undecided(UndecidedReason::Budget))),
            refused,
            solves: ledger.solves,
            backend_time: ledger.backend_time,
            elapsed: start.elapsed(),
        })
    }
}

/// The backend for one more call, its trait object's lifetime shortened to the borrow's.
fn reborrow<'s>(backend: &'s mut Option<&mut dyn Backend>) -> Option<&'s mut dyn Backend> {
    backend.as_mut().map(|b| &mut **b as &mut dyn Backend)
}

/// Tokens per block of [`draw`]: the walk adds a block's sum at a time and only walks the
/// tokens of the block where it stops.
const DRAW_BLOCK: usize = 64;

/// A token drawn from `weights` restricted to the tokens not refused, walking them in token
/// order; `None` when no weight is left. The walk goes by block sums (each taken in four lanes,
/// so the pass is not one chain of dependent additions), then token by token inside the block
/// where the running sum passes the uniform draw. If rounding carries the walk past the end, the
/// last eligible token is taken.
fn draw<R: Rng + ?Sized>(weights: &[f64], refused: Option<&[bool]>, rng: &mut R) -> Option<u32> {
    let weight = |j: usize| {
        let w = weights[j];
        if w > 0.0 && !refused.is_some_and(|r| r[j]) {
            w
        } else {
            0.0
        }
    };
    let blocks: Vec<f64> = (0..weights.len())
        .step_by(DRAW_BLOCK)
        .map(|start| {
            let end = weights.len().min(start + DRAW_BLOCK);
            block_sum(&weights[start..end], refused.map(|r| &r[start..end]))
        })
        .collect();
    let remaining: f64 = blocks.iter().sum();
    if remaining <= 0.0 {
        return None;
    }
    let u = uniform(rng) * remaining;
    let mut acc = 0.0;
    for (b, &sum) in blocks.iter().enumerate() {
        if acc + sum <= u {
            acc += sum;
            continue;
        }
        let start = b * DRAW_BLOCK;
        for j in start..weights.len().min(start + DRAW_BLOCK) {
            let w = weight(j);
            if w > 0.0 {
                acc += w;
                if acc > u {
                    return Some(j as u32);
                }
            }
        }
    }
    (0..weights.len())
        .rev()
        .find(|&j| weight(j) > 0.0)
        .map(|j| j as u32)
}

/// The sum of the positive `w_j` not refused, in four partial sums.
fn block_sum(w: &[f64], refused: Option<&[bool]>) -> f64 {
    let mut lanes = [0.0f64; 4];
    let mut add = |lane: usize, x: f64, no: bool| {
        lanes[lane] += if x > 0.0 && !no { x } else { 0.0 };
    };
    let n = w.len() / 4 * 4;
    match refused {
        None => {
            for c in w[..n].chunks_exact(4) {
                for (lane, &x) in c.iter().enumerate() {
                    add(lane, x, false);
                }
            }
            w[n..].iter().for_each(|&x| add(0, x, false));
        }
        Some(r) => {
            for (c, rc) in w[..n].chunks_exact(4).zip(r[..n].chunks_exact(4)) {
                for lane in 0..4 {
                    add(lane, c[lane], rc[lane]);
                }
            }
            w[n..]
                .iter()
                .zip(&r[n..])
                .for_each(|(&x, &no)| add(0, x, no));
        }
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
}

/// Unnormalised weights `exp((logits_j - max) / t)` of `softmax(logits / t)` into `out`; `-inf`
/// gives an exact zero. Errors name the first NaN or `+inf` entry; all `-inf` leaves no weight.
pub(crate) fn weights_into(logits: &[f32], t: f64, out: &mut Vec<f64>) -> Result<()> {
    let mut max = f32::NEG_INFINITY;
    for (index, &value) in logits.iter().enumerate() {
        if value.is_nan() || value == f32::INFINITY {
            return Err(Error::InvalidProposal { index, value });
        }
        max = max.max(value);
    }
    if max == f32::NEG_INFINITY {
        return Err(Error::NoKeptToken);
    }
    let max = f64::from(max);
    out.clear();
    out.extend(logits.iter().map(|&l| ((f64::from(l) - max) / t).exp()));
    Ok(())
}

/// Uniform in `[0, 1)` with 53 random bits.
fn uniform<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

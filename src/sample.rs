//! Lazy sampling (METHOD.md, "Lazy sampling"): to draw one token it is enough to decide the
//! candidates drawn. Candidates come from `q` without replacement and the first kept one is
//! returned, which is exactly a draw from `q` renormalised over the kept set: most draws land at
//! or above `tau` and need no LP at all.

use std::time::{Duration, Instant};

use rand_core::Rng;

use crate::backend::Backend;
use crate::basis::Basis;
use crate::certificate::{KeepProof, Outcome, UndecidedReason};
use crate::error::Result;
use crate::ledger::Ledger;
use crate::rule::ThresholdRule;
use crate::step::Step;

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
    pub backend_time: Duration,
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

/// One draw from a step already built, within `budget`.
pub fn sample_step<R: Rng + ?Sized>(
    step: &Step,
    basis: &Basis,
    mut backend: Option<&mut dyn Backend>,
    budget: SampleBudget,
    rng: &mut R,
) -> Result<Sampled> {
    let start = Instant::now();
    let mut ledger = Ledger::new(step, basis)?;
    let q = step.q();
    let mut refused_mask: Vec<bool> = Vec::new();
    let mut refused = Vec::new();
    let mut budget_exhausted = false;
    loop {
        let token = draw(q, &refused_mask, rng);
        if !ledger.settle_without_lp(token) {
            let out_of_budget = budget.max_solves.is_some_and(|n| ledger.solves >= n)
                || budget
                    .max_backend_time
                    .is_some_and(|t| ledger.backend_time >= t);
            match backend.as_deref_mut() {
                Some(solver) if !out_of_budget => ledger.solve(token, solver),
                Some(_) => {
                    budget_exhausted = true;
                    ledger.leave_undecided(token, UndecidedReason::Budget);
                }
                None => ledger.leave_undecided(token, UndecidedReason::NoBackend),
            }
        }
        let (outcome, _) = ledger.get(token).expect("the candidate was just settled");
        if let Outcome::Keep(proof) = outcome {
            return Ok(Sampled {
                token,
                proof: proof.clone(),
                tau: step.tau(),
                refused,
                solves: ledger.solves,
                budget_exhausted,
                backend_time: ledger.backend_time,
                elapsed: start.elapsed(),
            });
        }
        refused.push((token, outcome.clone()));
        if refused_mask.is_empty() {
            refused_mask = vec![false; q.len()];
        }
        refused_mask[token as usize] = true;
    }
}

/// A token drawn from `q` restricted to the tokens not refused, by one pass in token order. The
/// token with the largest `q` is kept by the threshold and never refused, so the remaining mass
/// is positive; if rounding carries the walk past the end, the last eligible token is taken.
fn draw<R: Rng + ?Sized>(q: &[f64], refused: &[bool], rng: &mut R) -> u32 {
    let eligible = |j: usize| q[j] > 0.0 && !refused.get(j).copied().unwrap_or(false);
    let remaining: f64 = if refused.is_empty() {
        q.iter().sum()
    } else {
        (0..q.len()).filter(|&j| eligible(j)).map(|j| q[j]).sum()
    };
    let u = uniform(rng) * remaining;
    let (mut acc, mut last) = (0.0, 0);
    for (j, &qj) in q.iter().enumerate() {
        if !eligible(j) {
            continue;
        }
        acc += qj;
        last = j;
        if acc > u {
            return j as u32;
        }
    }
    last as u32
}

/// Uniform in `[0, 1)` with 53 random bits.
fn uniform<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

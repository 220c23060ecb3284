//! Decisions: the threshold pass, then a backend for what the threshold cannot settle, every
//! answer checked by the verifier. A verified certificate settles every token it covers, not only
//! the one it was solved for, and the tail is rejected a chunk at a time.

use std::time::{Duration, Instant};

use crate::backend::Backend;
use crate::basis::Basis;
use crate::certificate::{KeepProof, Outcome, RejectProof, UndecidedReason};
use crate::error::{Error, Result};
use crate::ledger::{Ledger, Via};
use crate::reduction::{default_pipeline, Reduction, Workspace};
use crate::rule::ThresholdRule;
use crate::step::Step;

/// How each token's decision was reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Kept because `q_i >= tau`.
    pub threshold_kept: usize,
    /// Kept by a verified dual vector.
    pub dual_kept: usize,
    /// Rejected because `q_i = 0`.
    pub zero_mass_rejected: usize,
    /// Rejected by a verified point solved for one token.
    pub point_rejected: usize,
    /// Rejected by a verified point that zeroes a whole chunk of the tail.
    pub chunk_rejected: usize,
    /// Rejected by a verified bulk certificate (one closed-form pass over the vocabulary).
    pub bulk_rejected: usize,
    /// Assumed by an approximate reduction, kept or rejected, without a certificate.
    pub approximate: usize,
    /// Neither (treated as rejected).
    pub undecided: usize,
    /// Backend calls made for single tokens.
    pub solves: usize,
    /// Backend calls made for chunks of the tail.
    pub set_solves: usize,
}

impl Counts {
    fn add(&mut self, outcome: &Outcome, via: Via) {
        let slot = match (outcome, via) {
            (_, Via::Assumed) => &mut self.approximate,
            (Outcome::Keep(KeepProof::Threshold), _) => &mut self.threshold_kept,
            (Outcome::Keep(_), _) => &mut self.dual_kept,
            (Outcome::Reject(RejectProof::ZeroMass), _) => &mut self.zero_mass_rejected,
            (Outcome::Reject(_), Via::Chunk) => &mut self.chunk_rejected,
            (Outcome::Reject(_), Via::Bulk) => &mut self.bulk_rejected,
            (Outcome::Reject(_), _) => &mut self.point_rejected,
            (Outcome::Undecided(_), _) => &mut self.undecided,
        };
        *slot += 1;
    }
}

/// Field by field, so that decisions made in several calls can be reported as one.
impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, other: Self) {
        self.threshold_kept += other.threshold_kept;
        self.dual_kept += other.dual_kept;
        self.zero_mass_rejected += other.zero_mass_rejected;
        self.point_rejected += other.point_rejected;
        self.chunk_rejected += other.chunk_rejected;
        self.bulk_rejected += other.bulk_rejected;
        self.approximate += other.approximate;
        self.undecided += other.undecided;
        self.solves += other.solves;
        self.set_solves += other.set_solves;
    }
}

/// The result of truncating one step.
#[derive(Debug, Clone)]
pub struct Truncation {
    /// The threshold in force.
    pub tau: f64,
    /// Kept token ids, ascending. Undecided tokens are not in it (the threshold's decision).
    pub kept: Vec<u32>,
    /// One outcome per token of the vocabulary.
    pub outcomes: Vec<Outcome>,
    pub counts: Counts,
    /// Wall time of the whole call, and the part spent inside the backend.
    pub elapsed: Duration,
    pub backend_time: Duration,
}

impl Truncation {
    /// Token ids left undecided (no certificate within the budget, or no backend), ascending.
    /// They are not in [`Truncation::kept`]: the default policy treats them as rejected.
    pub fn undecided(&self) -> Vec<u32> {
        (0..self.outcomes.len() as u32)
            .filter(|&t| self.outcomes[t as usize].is_undecided())
            .collect()
    }
}

/// The full-vocabulary decision for one step: softmax, threshold, then the default pipeline of
/// exact reductions ([`crate::reduction::default_pipeline`]) with the backend (if any) for every
/// token below the threshold. Without a backend those tokens are undecided.
pub fn truncate(
    logits: &[f32],
    basis: &Basis,
    rule: &dyn ThresholdRule,
    backend: Option<&mut dyn Backend>,
) -> Result<Truncation> {
    truncate_with(logits, basis, rule, backend, &mut default_pipeline())
}

/// [`truncate`] through the caller's own pipeline of reductions, run in order; tokens no
/// reduction settles are undecided ([`UndecidedReason::NotReached`]).
pub fn truncate_with(
    logits: &[f32],
    basis: &Basis,
    rule: &dyn ThresholdRule,
    backend: Option<&mut dyn Backend>,
    pipeline: &mut [Box<dyn Reduction + '_>],
) -> Result<Truncation> {
    let start = Instant::now();
    let step = Step::new(logits, rule)?;
    truncate_step(&step, basis, backend, pipeline, None, start)
}

/// Every token of `step` through `pipeline`, no backend call starting after `deadline`; the
/// body of [`truncate_with`] and [`crate::Bat::truncate`]. `start` is when the call began.
pub(crate) fn truncate_step<P: Reduction + ?Sized>(
    step: &Step,
    basis: &Basis,
    backend: Option<&mut dyn Backend>,
    pipeline: &mut [Box<P>],
    deadline: Option<Instant>,
    start: Instant,
) -> Result<Truncation> {
    let all: Vec<u32> = (0..step.vocab() as u32).collect();
    let (outcomes, counts, backend_time) =
        decide_all(step, basis, &all, backend, pipeline, deadline)?;
    let kept = all
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| o.is_keep())
        .map(|(&t, _)| t)
        .collect();
    Ok(Truncation {
        tau: step.tau(),
        kept,
        outcomes,
        counts,
        elapsed: start.elapsed(),
        backend_time,
    })
}

/// The decision for one token.
pub fn decide(
    step: &Step,
    basis: &Basis,
    token: u32,
    backend: Option<&mut dyn Backend>,
) -> Result<Outcome> {
    let (mut outcomes, _, _) = decide_all(
        step,
        basis,
        &[token],
        backend,
        &mut default_pipeline(),
        None,
    )?;
    Ok(outcomes.remove(0))
}

/// Decisions for the listed tokens (in the listed order, repeats allowed), sharing every verified
/// certificate among them; returns the outcomes, how they were reached, and the backend time.
pub fn decide_tokens(
    step: &Step,
    basis: &Basis,
    tokens: &[u32],
    backend: Option<&mut dyn Backend>,
) -> Result<(Vec<Outcome>, Counts)> {
    decide_tokens_with(step, basis, tokens, backend, &mut default_pipeline())
}

/// [`decide_tokens`] through the caller's own pipeline of reductions.
pub fn decide_tokens_with(
    step: &Step,
    basis: &Basis,
    tokens: &[u32],
    backend: Option<&mut dyn Backend>,
    pipeline: &mut [Box<dyn Reduction + '_>],
) -> Result<(Vec<Outcome>, Counts)> {
    let (outcomes, counts, _) = decide_all(step, basis, tokens, backend, pipeline, None)?;
    Ok((outcomes, counts))
}

pub(crate) fn decide_all<P: Reduction + ?Sized>(
    step: &Step,
    basis: &Basis,
    tokens: &[u32],
    backend: Option<&mut dyn Backend>,
    pipeline: &mut [Box<P>],
    deadline: Option<Instant>,
) -> Result<(Vec<Outcome>, Counts, Duration)> {
    let mut ledger = Ledger::new(step, basis)?;
    ledger.deadline = deadline;
    decide_in(&mut ledger, tokens, backend, pipeline)?;
    let mut counts = Counts {
        solves: ledger.solves,
        set_solves: ledger.set_solves,
        ..Counts::default()
    };
    let vocab = step.vocab();
    let mut seen = vec![false; if tokens.len() > 1 { vocab } else { 0 }];
    let mut outcomes = Vec::with_capacity(tokens.len());
    for &t in tokens {
        let (outcome, via) = ledger.get(t).expect("every requested token is settled");
        outcomes.push(outcome.clone());
        if let Some(seen) = seen.get_mut(t as usize) {
            if std::mem::replace(seen, true) {
                continue;
            }
        }
        counts.add(outcome, *via);
    }
    Ok((outcomes, counts, ledger.backend_time))
}

/// Settles every listed token in `ledger`: the threshold and zero-mass rules first, then the
/// pipeline on the rest, most probable first; what no reduction settles is undecided. The one
/// driver of the pipeline, for full masks and lazy draws alike.
pub(crate) fn decide_in<P: Reduction + ?Sized>(
    ledger: &mut Ledger<'_>,
    tokens: &[u32],
    mut backend: Option<&mut dyn Backend>,
    pipeline: &mut [Box<P>],
) -> Result<()> {
    let step = ledger.step;
    let vocab = step.vocab();
    if let Some(&token) = tokens.iter().find(|&&t| t as usize >= vocab) {
        return Err(Error::TokenOutOfRange { token, vocab });
    }
    let mut pending: Vec<u32> = tokens
        .iter()
        .copied()
        .filter(|&t| !ledger.settle_without_lp(t))
        .collect();
    if pending.len() > 1 {
        // Most probable first, in the step's own order (which the backends sort once and reuse),
        // without repeats.
        let mut is_pending = vec![false; vocab];
        pending.iter().for_each(|&t| is_pending[t as usize] = true);
        pending = step
            .by_probability()
            .iter()
            .copied()
            .filter(|&t| is_pending[t as usize])
            .collect();
    }
    let has_backend = backend.is_some();
    let mut work = Workspace {
        ledger: &mut *ledger,
        // A reborrow with the trait object's lifetime shortened to the workspace's.
        backend: backend.as_mut().map(|b| &mut **b as &mut dyn Backend),
        current: "",
    };
    for reduction in pipeline.iter_mut() {
        pending.retain(|&t| !work.is_settled(t));
        if pending.is_empty() {
            break;
        }
        work.current = reduction.name();
        reduction.reduce(&mut work, &pending);
    }
    let leftover = if !has_backend {
        UndecidedReason::NoBackend
    } else if ledger.out_of_time() {
        UndecidedReason::Budget
    } else {
        UndecidedReason::NotReached
    };
    for &t in &pending {
        ledger.leave_undecided(t, leftover.clone());
    }
    Ok(())
}

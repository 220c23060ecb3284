//! Decisions: the threshold pass, then a backend for what the threshold cannot settle, every
//! answer checked by the verifier. A verified certificate settles every token it covers, not only
//! the one it was solved for, and the tail is rejected a chunk at a time.

use std::time::{Duration, Instant};

use crate::backend::Backend;
use crate::basis::Basis;
use crate::budget::Budget;
use crate::certificate::{Decision, KeepProof, Outcome, RejectProof, UndecidedReason};
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

/// The result of truncating one step. It holds no certificate: `outcomes` names how each token
/// was decided; [`truncate_with_certificates`] returns the certificates as well.
#[derive(Debug, Clone)]
pub struct Truncation {
    /// The threshold in force.
    pub tau: f64,
    /// Kept token ids, ascending. Undecided tokens are not in it (the threshold's decision).
    pub kept: Vec<u32>,
    /// How each token of the vocabulary was decided.
    pub outcomes: Vec<Decision>,
    /// How many tokens each kind of decision settled, and the backend calls made.
    pub counts: Counts,
    /// Wall time of the whole call.
    pub elapsed: Duration,
    /// The part of `elapsed` spent inside the backend.
    pub backend_time: Duration,
}

impl Truncation {
    /// Undecided token ids, ascending (treated as rejected: not in `kept`).
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
    truncate_within(logits, basis, rule, backend, pipeline, Budget::unlimited())
}

/// [`truncate_with`] within `budget`: no backend call starts after its deadline and each is
/// told the time left, so the call returns within the deadline plus about one LP's worth;
/// tokens not settled by then are undecided ([`UndecidedReason::Budget`]).
///
/// ```
/// use std::time::Duration;
/// use basis_aware::{reduction::default_pipeline, truncate_within, Basis, Budget, MatrixView, Rule};
///
/// let w = [1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, -1.0_f32];
/// let basis = Basis::full(MatrixView::new(&w, 4, 2)?)?;
/// let budget = Budget::within(Duration::from_millis(100));
/// let t = truncate_within(&[3.0, 1.0, 0.5, -2.0], &basis, &Rule::Epsilon(0.1), None,
///     &mut default_pipeline(), budget)?;
/// assert!(t.kept.contains(&0));
/// # Ok::<(), basis_aware::Error>(())
/// ```
pub fn truncate_within(
    logits: &[f32],
    basis: &Basis,
    rule: &dyn ThresholdRule,
    backend: Option<&mut dyn Backend>,
    pipeline: &mut [Box<dyn Reduction + '_>],
    budget: Budget,
) -> Result<Truncation> {
    let start = Instant::now();
    let step = Step::new(logits, rule)?;
    truncate_step(&step, basis, backend, pipeline, budget, start)
}

/// [`truncate_within`], returning every token's full outcome (with the certificate that proves
/// it) beside the compact [`Truncation`]. Certificates can be large (a point has up to `V`
/// entries) and one step can hold hundreds: ask for them only when they are needed.
pub fn truncate_with_certificates(
    logits: &[f32],
    basis: &Basis,
    rule: &dyn ThresholdRule,
    backend: Option<&mut dyn Backend>,
    pipeline: &mut [Box<dyn Reduction + '_>],
    budget: Budget,
) -> Result<(Truncation, Vec<Outcome>)> {
    let start = Instant::now();
    let step = Step::new(logits, rule)?;
    let mut decided = run_vocabulary(&step, basis, backend, pipeline, budget, true)?;
    let outcomes = std::mem::take(&mut decided.outcomes);
    Ok((decided.truncation(&step, start), outcomes))
}

/// Every token of `step` through `pipeline` within `budget`: the body of [`crate::Bat::truncate`].
/// `start` is when the call began.
pub(crate) fn truncate_step<P: Reduction + ?Sized>(
    step: &Step,
    basis: &Basis,
    backend: Option<&mut dyn Backend>,
    pipeline: &mut [Box<P>],
    budget: Budget,
    start: Instant,
) -> Result<Truncation> {
    let decided = run_vocabulary(step, basis, backend, pipeline, budget, false)?;
    Ok(decided.truncation(step, start))
}

/// [`run`] over every token of the vocabulary, with full outcomes when `certificates`.
fn run_vocabulary<P: Reduction + ?Sized>(
    step: &Step,
    basis: &Basis,
    backend: Option<&mut dyn Backend>,
    pipeline: &mut [Box<P>],
    budget: Budget,
    certificates: bool,
) -> Result<Decided> {
    let all: Vec<u32> = (0..step.vocab() as u32).collect();
    run(step, basis, &all, backend, pipeline, budget, certificates)
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
        Budget::unlimited(),
    )?;
    Ok(outcomes.remove(0))
}

/// Decisions for the listed tokens (in the listed order, repeats allowed), sharing every verified
/// certificate among them; returns the outcomes and how they were reached.
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
    decide_tokens_within(step, basis, tokens, backend, pipeline, Budget::unlimited())
}

/// [`decide_tokens_with`] within `budget` (see [`truncate_within`]).
pub fn decide_tokens_within(
    step: &Step,
    basis: &Basis,
    tokens: &[u32],
    backend: Option<&mut dyn Backend>,
    pipeline: &mut [Box<dyn Reduction + '_>],
    budget: Budget,
) -> Result<(Vec<Outcome>, Counts)> {
    let (outcomes, counts, _) = decide_all(step, basis, tokens, backend, pipeline, budget)?;
    Ok((outcomes, counts))
}

/// The full outcomes of the listed tokens, how they were reached, and the backend time.
pub(crate) fn decide_all<P: Reduction + ?Sized>(
    step: &Step,
    basis: &Basis,
    tokens: &[u32],
    backend: Option<&mut dyn Backend>,
    pipeline: &mut [Box<P>],
    budget: Budget,
) -> Result<(Vec<Outcome>, Counts, Duration)> {
    let decided = run(step, basis, tokens, backend, pipeline, budget, true)?;
    Ok((decided.outcomes, decided.counts, decided.backend_time))
}

/// What [`run`] decided for the listed tokens, in their order.
pub(crate) struct Decided {
    pub decisions: Vec<Decision>,
    /// Full outcomes, only when asked for (empty otherwise).
    pub outcomes: Vec<Outcome>,
    pub counts: Counts,
    pub backend_time: Duration,
}

impl Decided {
    /// The compact result of a whole-vocabulary run (`decisions` in token order).
    fn truncation(self, step: &Step, start: Instant) -> Truncation {
        let kept = (0..self.decisions.len() as u32)
            .filter(|&t| self.decisions[t as usize].is_keep())
            .collect();
        Truncation {
            tau: step.tau(),
            kept,
            outcomes: self.decisions,
            counts: self.counts,
            elapsed: start.elapsed(),
            backend_time: self.backend_time,
        }
    }
}

/// The compact form of an outcome.
pub(crate) fn decision_of(outcome: &Outcome, via: Via) -> Decision {
    match (outcome, via) {
        (Outcome::Keep(_), Via::Assumed) => Decision::ApproximateKeep,
        (Outcome::Reject(_), Via::Assumed) => Decision::ApproximateReject,
        (Outcome::Keep(KeepProof::Threshold), _) => Decision::ThresholdKeep,
        (Outcome::Keep(KeepProof::Approximate { .. }), _) => Decision::ApproximateKeep,
        (Outcome::Keep(_), _) => Decision::DualKeep,
        (Outcome::Reject(RejectProof::ZeroMass), _) => Decision::ZeroMassReject,
        (Outcome::Reject(RejectProof::Approximate { .. }), _) => Decision::ApproximateReject,
        (Outcome::Reject(_), Via::Chunk) => Decision::ChunkReject,
        (Outcome::Reject(_), Via::Bulk) => Decision::BulkReject,
        (Outcome::Reject(_), _) => Decision::PointReject,
        (Outcome::Undecided(reason), _) => Decision::Undecided(reason.kind()),
    }
}

/// The pipeline over the listed tokens within `budget`, in a ledger of its own; full outcomes
/// only when `full`.
fn run<P: Reduction + ?Sized>(
    step: &Step,
    basis: &Basis,
    tokens: &[u32],
    backend: Option<&mut dyn Backend>,
    pipeline: &mut [Box<P>],
    budget: Budget,
    full: bool,
) -> Result<Decided> {
    let mut ledger = Ledger::new(step, basis)?;
    ledger.budget = budget;
    decide_in(&mut ledger, tokens, backend, pipeline)?;
    let mut counts = Counts {
        solves: ledger.solves,
        set_solves: ledger.set_solves,
        ..Counts::default()
    };
    let mut seen = vec![false; if tokens.len() > 1 { step.vocab() } else { 0 }];
    let mut decisions = Vec::with_capacity(tokens.len());
    let mut outcomes = Vec::with_capacity(if full { tokens.len() } else { 0 });
    for &t in tokens {
        let Some((outcome, via)) = ledger.get(t) else {
            return Err(Error::Shape(format!("token {t} was left unsettled")));
        };
        decisions.push(decision_of(outcome, *via));
        if full {
            outcomes.push(outcome.clone());
        }
        if let Some(seen) = seen.get_mut(t as usize) {
            if std::mem::replace(seen, true) {
                continue;
            }
        }
        counts.add(outcome, *via);
    }
    Ok(Decided {
        decisions,
        outcomes,
        counts,
        backend_time: ledger.backend_time,
    })
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
        if pending.is_empty() || (has_backend && work.out_of_time()) {
            break;
        }
        work.current = reduction.name();
        reduction.reduce(&mut work, &pending);
    }
    let leftover = if !has_backend {
        UndecidedReason::NoBackend
    } else if ledger.budget.expired() {
        UndecidedReason::Budget
    } else {
        UndecidedReason::NotReached
    };
    for &t in &pending {
        ledger.leave_undecided(t, leftover.clone());
    }
    Ok(())
}

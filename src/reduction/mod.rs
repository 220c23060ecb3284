//! Reductions: the steps of the pipeline that decide a step's tokens below the threshold. An
//! exact reduction only chooses *which* LPs to solve (one token, a chunk of the tail) or submits
//! certificates it computed itself; the [`Workspace`] verifies everything before it becomes a
//! decision, so it can waste time but cannot change the rule. An approximate one may also
//! [`Workspace::assume`] decisions, which are labelled with its name in every outcome and
//! counted apart. `basis_aware::testing::check_reduction` (feature `proptest`) compares any
//! reduction with the exact rule.
//!
//! The default pipeline ([`default_pipeline`]): [`BulkRejects`], then [`HeadKeeps`], then
//! [`TailChunks`], then [`EachToken`] for whatever is left.

mod band;
mod bulk;
mod chunks;
mod each;
mod fusion;
mod head;

use crate::backend::{Backend, BackendError};
use crate::basis::Basis;
use crate::certificate::{BulkRejectCertificate, Certificate, Outcome};
use crate::ledger::Ledger;
use crate::step::Step;

pub use crate::engine::band::{BandStats, TIME_CLASSES};
pub use crate::engine::head_lp::HeadStats;
pub use band::{
    BandLp, BandReport, BAND_CHUNK, BAND_GROW, BAND_HEAD, BAND_MIN_PENDING, BAND_POOL, BAND_PRICED,
    BAND_WAVE, QUICK_HEAD,
};
pub use bulk::{BulkRejects, BULK_MAX_ROWS, BULK_MIN_PENDING, DEFAULT_BULK_RADIUS};
pub use chunks::{TailChunks, CHUNK_MASS};
pub use each::EachToken;
pub use fusion::{ApproxKMeansFusion, DEFAULT_FUSION_HEAD};
pub use head::HeadKeeps;

/// Whether a reduction's decisions all carry certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Exactness {
    /// Every decision it makes is a verified certificate: the rule is unchanged.
    Exact,
    /// It may assume decisions (labelled, counted apart); the direction of its error is stated
    /// in its documentation.
    Approximate,
}

/// One step of the decision pipeline.
pub trait Reduction {
    /// Short name; approximate decisions carry it.
    fn name(&self) -> &'static str;

    /// [`Exactness::Exact`] unless the reduction assumes decisions.
    fn exactness(&self) -> Exactness {
        Exactness::Exact
    }

    /// Settles what it can of `pending`: tokens with `0 < q_j < tau` not settled before it, most
    /// probable first. Tokens it leaves go to the next reduction.
    fn reduce(&mut self, work: &mut Workspace<'_, '_>, pending: &[u32]);

    /// A new reduction with this one's configuration, for one row of
    /// [`crate::Bat::truncate_batch`] (rows run in parallel only when every reduction of the
    /// pipeline can make one). `None`, the default, runs the batch's rows in order.
    fn fresh(&self) -> Option<Box<dyn Reduction + Send>> {
        None
    }
}

/// A borrowed reduction is one too, so a caller can put its own in a pipeline and keep it.
impl<R: Reduction + ?Sized> Reduction for &mut R {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn exactness(&self) -> Exactness {
        (**self).exactness()
    }

    fn reduce(&mut self, work: &mut Workspace<'_, '_>, pending: &[u32]) {
        (**self).reduce(work, pending)
    }

    fn fresh(&self) -> Option<Box<dyn Reduction + Send>> {
        (**self).fresh()
    }
}

/// The default pipeline: most of the tail rejected by one bulk certificate, keeps near the
/// threshold one token at a time, the rest of the tail in chunks, then every token left one at a
/// time. Exact.
pub fn default_pipeline() -> Vec<Box<dyn Reduction>> {
    default_send_pipeline()
        .into_iter()
        .map(|r| r as Box<dyn Reduction>)
        .collect()
}

/// [`default_pipeline`] as [`crate::Bat`] holds it: reductions that can move to another thread.
pub(crate) fn default_send_pipeline() -> Vec<Box<dyn Reduction + Send>> {
    vec![
        Box::new(BulkRejects::default()),
        Box::new(BandLp::default()),
        Box::new(HeadKeeps),
        Box::new(TailChunks),
        Box::new(EachToken),
    ]
}

/// What a reduction works with: the step, the basis, the backend, and the outcomes so far.
pub struct Workspace<'w, 'a> {
    pub(crate) ledger: &'w mut Ledger<'a>,
    pub(crate) backend: Option<&'w mut dyn Backend>,
    pub(crate) current: &'static str,
}

impl<'a> Workspace<'_, 'a> {
    /// The step being decided.
    pub fn step(&self) -> &'a Step {
        self.ledger.step
    }

    /// The constraint matrix.
    pub fn basis(&self) -> &'a Basis {
        self.ledger.basis
    }

    /// Whether `token` has an outcome already.
    pub fn is_settled(&self, token: u32) -> bool {
        self.ledger.is_settled(token)
    }

    /// The outcome of `token`, if settled.
    pub fn outcome(&self, token: u32) -> Option<&Outcome> {
        self.ledger.get(token).map(|(o, _)| o)
    }

    /// The backend, for auxiliary problems a reduction builds itself (e.g. a fused step). Its
    /// answers decide nothing here: only [`Workspace::submit`] (verified) and
    /// [`Workspace::assume`] (labelled) write outcomes.
    pub fn backend(&mut self) -> Option<&mut dyn Backend> {
        match self.backend.as_deref_mut() {
            Some(b) => Some(b),
            None => None,
        }
    }

    /// Whether the call's deadline has passed ([`crate::Budget`]): no backend call starts after
    /// it, so a reduction should stop planning more.
    pub fn out_of_time(&self) -> bool {
        self.ledger.budget.expired()
    }

    /// The ledger's verifier as a shareable handle (for engines on worker threads).
    pub(crate) fn checker(&self) -> crate::ledger::Checker<'_, 'a> {
        self.ledger.checker()
    }

    /// Records what [`crate::ledger::Checker::check`] accepted; returns how many open tokens
    /// it settled.
    pub(crate) fn record_verified(&mut self, verified: crate::ledger::Verified) -> usize {
        self.ledger.record_verified(verified)
    }

    /// Counts LP work done by a decision engine of the core as one backend call taking
    /// `elapsed`, so budgets ([`crate::SampleBudget`]) and counts see it.
    pub(crate) fn count_solve(&mut self, elapsed: std::time::Duration) {
        self.ledger.solves += 1;
        self.ledger.backend_time += elapsed;
    }

    /// Whether a backend is present (without one, `solve` and `solve_set` do nothing).
    pub fn has_backend(&self) -> bool {
        self.backend.is_some()
    }

    /// Solves `token` alone with the backend; the verified certificate settles every token it
    /// covers, a failure leaves `token` undecided. Returns false without a backend, for a token
    /// outside the vocabulary, or past the call's deadline (the token is then undecided for
    /// [`crate::UndecidedReason::Budget`]).
    pub fn solve(&mut self, token: u32) -> bool {
        if token as usize >= self.ledger.step.vocab() {
            return false;
        }
        match self.backend.as_deref_mut() {
            Some(backend) => {
                self.ledger.solve(token, backend);
                !self.ledger.budget.expired()
            }
            None => false,
        }
    }

    /// Asks the backend for a point zeroing all of `set` (distinct tokens, ascending); every
    /// token a verified point zeroes is rejected. `Ok(true)` when that is the whole set.
    pub fn solve_set(&mut self, set: &[u32]) -> Result<bool, BackendError> {
        let vocab = self.ledger.step.vocab();
        let q = self.ledger.step.q();
        if set.is_empty()
            || set.windows(2).any(|w| w[0] >= w[1])
            || set
                .iter()
                .any(|&t| t as usize >= vocab || q[t as usize] == 0.0)
        {
            return Err(BackendError::Solver(
                "a set must hold distinct tokens with q > 0, ascending".into(),
            ));
        }
        match self.backend.as_deref_mut() {
            Some(backend) => self.ledger.solve_set(set, backend),
            None => Err(BackendError::Unsupported("no backend")),
        }
    }

    /// A certificate the reduction computed itself, for `token`: verified, then it settles every
    /// token it covers. Returns whether it verified.
    pub fn submit(&mut self, token: u32, certificate: Certificate) -> bool {
        self.ledger.submit(token, certificate)
    }

    /// A certificate the reduction computed for no token in particular (e.g. a dual found for
    /// one token, which may keep others but not it): verified, then it settles every token it
    /// covers. Returns how many open tokens it settled, or `None` when it was refused.
    pub fn submit_shared(&mut self, certificate: Certificate) -> Option<usize> {
        self.ledger.submit_shared(certificate)
    }

    /// A bulk certificate: verified by the ledger (the one place its pass runs), then it rejects
    /// every token it covers. Returns whether it verified.
    pub fn submit_bulk(&mut self, certificate: BulkRejectCertificate) -> bool {
        self.ledger.submit_bulk(certificate)
    }

    /// Decides `tokens` without a certificate: an approximation, labelled with the current
    /// reduction's name and counted apart. Tokens already settled keep their outcome.
    pub fn assume(&mut self, tokens: &[u32], keep: bool) {
        self.ledger.assume(tokens, keep, self.current);
    }
}

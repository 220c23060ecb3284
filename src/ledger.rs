//! What one step knows so far: the outcome of every token settled, each pointing at the verified
//! certificate that settled it. Every decision of [`crate::truncate`] and [`crate::sample`] is
//! written here, and only after the verifier accepted its certificate, so the reductions that
//! drive a ledger can choose *which* LPs to solve but cannot invent a decision.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::{Backend, BackendError, SetProblem, TokenProblem};
use crate::basis::Basis;
use crate::budget::Budget;
use crate::certificate::{
    BulkRejectCertificate, Certificate, KeepProof, Outcome, RejectProof, UndecidedReason,
};
use crate::error::{Error, Result};
use crate::step::Step;
use crate::verify;

/// How a token's outcome was reached; [`crate::Counts`] tallies these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// `q_i >= tau` or `q_i = 0`: no LP.
    NoLp,
    /// A certificate solved for one token (possibly shared with others it covers).
    Token,
    /// A point that zeroes a whole chunk of the tail at once.
    Chunk,
    /// A bulk certificate ([`crate::BulkRejectCertificate`]).
    Bulk,
    /// Assumed by an approximate reduction, without a certificate.
    Assumed,
}

/// A certificate the verifier accepted, with every open-or-not token it settles. Only
/// [`Checker::check`] makes one and only [`Ledger::record_verified`] consumes one, so a
/// certificate checked on a worker thread is still checked once, by the ledger's verifier, and
/// recorded by the ledger alone.
#[derive(Debug)]
pub(crate) struct Verified {
    cert: Certificate,
    covered: Vec<u32>,
}

impl Verified {
    /// The tokens it settles, ascending.
    pub fn covered(&self) -> &[u32] {
        &self.covered
    }

    /// The certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }
}

/// The ledger's verifier, shareable across threads while the ledger is not written: decision
/// engines check their certificates on their own thread and hand the [`Verified`] results back
/// for [`Ledger::record_verified`], in an order that does not depend on the threads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checker<'l, 'a> {
    ledger: &'l Ledger<'a>,
}

impl<'a> Checker<'_, 'a> {
    /// Verifies `cert` (for no token in particular).
    pub fn check(&self, cert: Certificate) -> Option<Verified> {
        let (step, basis) = (self.ledger.step, self.ledger.basis);
        let covered = match &cert {
            Certificate::Keep(c) => verify::kept_by(step, basis, c),
            Certificate::Reject(c) => verify::rejected_by(step, basis, c),
        };
        covered.ok().map(|covered| Verified { cert, covered })
    }

    /// Whether `token` was settled when the checker was taken.
    pub fn is_settled(&self, token: u32) -> bool {
        self.ledger.is_settled(token)
    }

    /// Whether the call's deadline has passed.
    pub fn out_of_time(&self) -> bool {
        self.ledger.out_of_time()
    }

    pub fn step(&self) -> &'a Step {
        self.ledger.step
    }

    pub fn basis(&self) -> &'a Basis {
        self.ledger.basis
    }
}

/// Outcomes of one step's tokens, shared: a certificate that settles a thousand tokens is stored
/// once and pointed at a thousand times.
#[derive(Debug)]
pub(crate) struct Ledger<'a> {
    pub step: &'a Step,
    pub basis: &'a Basis,
    /// `0`: not settled; `k`: `outcomes[k - 1]`. Four bytes a token, allocated on first write.
    slot: Vec<u32>,
    outcomes: Vec<(Outcome, Via)>,
    /// Backend calls made (single tokens, then chunks).
    pub solves: usize,
    pub set_solves: usize,
    pub backend_time: Duration,
    /// The caller's limits on this call; no backend call starts once its deadline has passed.
    pub budget: Budget,
}

impl<'a> Ledger<'a> {
    pub fn new(step: &'a Step, basis: &'a Basis) -> Result<Self> {
        if basis.vocab() != step.vocab() {
            return Err(Error::Shape(format!(
                "the basis has {} rows but the logits have {} entries",
                basis.vocab(),
                step.vocab()
            )));
        }
        Ok(Self {
            step,
            basis,
            slot: Vec::new(),
            outcomes: Vec::new(),
            solves: 0,
            set_solves: 0,
            backend_time: Duration::ZERO,
            budget: Budget::default(),
        })
    }

    /// Whether the call's deadline has passed, so no backend call may start.
    pub fn out_of_time(&self) -> bool {
        self.budget.expired()
    }

    /// The outcome of `token` and how it was reached, if settled.
    pub fn get(&self, token: u32) -> Option<&(Outcome, Via)> {
        match self.slot.get(token as usize) {
            Some(&k) if k > 0 => Some(&self.outcomes[k as usize - 1]),
            _ => None,
        }
    }

    pub fn is_settled(&self, token: u32) -> bool {
        self.get(token).is_some()
    }

    /// Settles `token` without an LP when its mass decides it: kept at `q_i >= tau`, rejected at
    /// `q_i = 0`. Returns whether it is settled now.
    pub fn settle_without_lp(&mut self, token: u32) -> bool {
        if self.is_settled(token) {
            return true;
        }
        let outcome = if self.step.above_threshold(token) {
            Outcome::Keep(KeepProof::Threshold)
        } else if self.step.q()[token as usize] == 0.0 {
            Outcome::Reject(RejectProof::ZeroMass)
        } else {
            return false;
        };
        self.record([token], outcome, Via::NoLp);
        true
    }

    /// Writes `outcome` for every listed token not yet settled; returns how many it settled.
    fn record(
        &mut self,
        tokens: impl IntoIterator<Item = u32>,
        outcome: Outcome,
        via: Via,
    ) -> usize {
        if self.slot.is_empty() {
            self.slot = vec![0; self.step.vocab()];
        }
        self.outcomes.push((outcome, via));
        let k = self.outcomes.len() as u32;
        let (q, tau) = (self.step.q(), self.step.tau());
        let mut settled = 0;
        for t in tokens {
            // A certificate also covers tokens whose mass decides them; those keep their
            // mass-based proof, written by `settle_without_lp`, so no keep above `tau` is ever
            // reported as a dual one.
            let qt = q[t as usize];
            if via != Via::NoLp && (qt >= tau || qt == 0.0) {
                continue;
            }
            let s = &mut self.slot[t as usize];
            if *s == 0 {
                *s = k;
                settled += 1;
            }
        }
        settled
    }

    /// A certificate for `token` from outside any backend: verified, then it settles every token
    /// it covers. Returns whether it verified (a refused one changes nothing).
    pub fn submit(&mut self, token: u32, cert: Certificate) -> bool {
        match verify::check(self.step, self.basis, token, &cert) {
            Ok(covered) => {
                self.record(covered, proof_of(cert), Via::Token);
                true
            }
            Err(_) => false,
        }
    }

    /// A certificate from a reduction's own engine, made for no token in particular: verified,
    /// then it settles every token it covers (a dual found for one token often keeps others but
    /// not that one). Returns how many tokens it settled that were open, or `None` when it was
    /// refused.
    pub fn submit_shared(&mut self, cert: Certificate) -> Option<usize> {
        let verified = self.checker().check(cert)?;
        Some(self.record_verified(verified))
    }

    /// The verifier as a shareable handle, for engines that check certificates on worker
    /// threads.
    pub fn checker(&self) -> Checker<'_, 'a> {
        Checker { ledger: self }
    }

    /// Records a certificate [`Checker::check`] accepted: it settles every token it covers
    /// that is still open. Returns how many that was.
    pub fn record_verified(&mut self, verified: Verified) -> usize {
        let Verified { cert, covered } = verified;
        self.record(covered, proof_of(cert), Via::Token)
    }

    /// A bulk certificate: verified once here (the verifier recomputes everything it rests on),
    /// then it rejects every token it covers. Returns whether it verified.
    pub fn submit_bulk(&mut self, cert: BulkRejectCertificate) -> bool {
        match verify::rejected_by_bulk(self.step, self.basis, &cert) {
            Ok(rejected) => {
                let proof = Outcome::Reject(RejectProof::Bulk(Arc::new(cert)));
                self.record(rejected, proof, Via::Bulk);
                true
            }
            Err(_) => false,
        }
    }

    /// Approximate decisions, labelled with the reduction that made them.
    pub fn assume(&mut self, tokens: &[u32], keep: bool, by: &'static str) {
        let outcome = if keep {
            Outcome::Keep(KeepProof::Approximate { by })
        } else {
            Outcome::Reject(RejectProof::Approximate { by })
        };
        let open: Vec<u32> = tokens
            .iter()
            .copied()
            .filter(|&t| (t as usize) < self.step.vocab() && !self.settle_without_lp(t))
            .collect();
        self.record(open, outcome, Via::Assumed);
    }

    /// One backend call for `token`. A verified certificate settles every token it covers; any
    /// failure leaves `token` (only) undecided.
    pub fn solve(&mut self, token: u32, backend: &mut dyn Backend) {
        if self.out_of_time() {
            self.leave_undecided(token, UndecidedReason::Budget);
            return;
        }
        let problem = TokenProblem {
            step: self.step,
            basis: self.basis,
            token,
        };
        let answer = self.call(backend, |b| b.solve(&problem));
        self.solves += 1;
        if matches!(answer, Err(BackendError::Limit(_))) && self.budget.expired() {
            self.leave_undecided(token, UndecidedReason::Budget);
            return;
        }
        let checked = answer.map_err(UndecidedReason::Backend).and_then(|cert| {
            let covered = verify::check(self.step, self.basis, token, &cert)
                .map_err(UndecidedReason::Unverified)?;
            Ok((cert, covered))
        });
        match checked {
            Ok((cert, covered)) => {
                self.record(covered, proof_of(cert), Via::Token);
            }
            Err(reason) => {
                self.record([token], Outcome::Undecided(reason), Via::Token);
            }
        }
    }

    /// One backend call to zero every token of `set` at once. Every token the backend's point
    /// zeroes is rejected once the point verifies; `Ok(true)` when that is the whole set. A point
    /// that zeroes only part of it, or none, proves nothing about the rest, which stays pending.
    pub fn solve_set(
        &mut self,
        set: &[u32],
        backend: &mut dyn Backend,
    ) -> std::result::Result<bool, BackendError> {
        if self.out_of_time() {
            return Err(BackendError::Limit("the call's deadline has passed".into()));
        }
        let problem = SetProblem {
            step: self.step,
            basis: self.basis,
            tokens: set,
        };
        let answer = self.call(backend, |b| b.solve_set(&problem));
        if !matches!(answer, Err(BackendError::Unsupported(_))) {
            self.set_solves += 1;
        }
        let Some(cert) = answer? else {
            return Ok(false);
        };
        let Ok(zeroed) = verify::rejected_by(self.step, self.basis, &cert) else {
            return Ok(false);
        };
        let all = set.iter().all(|t| zeroed.binary_search(t).is_ok());
        self.record(
            zeroed,
            Outcome::Reject(RejectProof::Point(Arc::new(cert))),
            Via::Chunk,
        );
        Ok(all)
    }

    /// One backend call under the budget: the backend is told the call's deadline, and the
    /// bound is lifted after, so the backend is left as it was given.
    fn call<T>(
        &mut self,
        backend: &mut dyn Backend,
        f: impl FnOnce(&mut dyn Backend) -> std::result::Result<T, BackendError>,
    ) -> std::result::Result<T, BackendError> {
        let deadline = self.budget.call_deadline();
        if deadline.is_some() {
            backend.set_deadline(deadline);
        }
        let started = Instant::now();
        let answer = f(backend);
        self.backend_time += started.elapsed();
        if deadline.is_some() {
            backend.set_deadline(None);
        }
        answer
    }

    /// Marks `token` undecided for `reason` unless it is settled.
    pub fn leave_undecided(&mut self, token: u32, reason: UndecidedReason) {
        if !self.is_settled(token) {
            self.record([token], Outcome::Undecided(reason), Via::NoLp);
        }
    }
}

fn proof_of(cert: Certificate) -> Outcome {
    match cert {
        Certificate::Keep(c) => Outcome::Keep(KeepProof::Dual(Arc::new(c))),
        Certificate::Reject(c) => Outcome::Reject(RejectProof::Point(Arc::new(c))),
    }
}

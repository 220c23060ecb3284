//! What one step knows so far: the outcome of every token settled, each pointing at the verified
//! certificate that settled it. Every decision of [`crate::truncate`] and [`crate::sample`] is
//! written here, and only after the verifier accepted its certificate, so the reductions that
//! drive a ledger can choose *which* LPs to solve but cannot invent a decision.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::{Answer, Backend, BackendError, SetProblem, TokenProblem};
use crate::basis::Basis;
use crate::budget::Budget;
use crate::certificate::{
    BulkRejectCertificate, Certificate, KeepProof, Outcome, RejectProof, UndecidedReason,
};
use crate::error::{Error, Result};
use crate::step::Step;
use crate::verify::{self, CertificateError};

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

/// A certificate the verifier accepted for one step and basis, with every token it settles. Only
/// the verifier's checks make one ([`TokenProblem::check`], [`TokenProblem::check_shared`]), so a
/// backend that answers with one ([`Answer::Verified`]) has it recorded without a second check;
/// one checked against any other step or basis is verified again, as a plain certificate.
#[derive(Debug, Clone)]
pub struct Verified {
    cert: Certificate,
    covered: Vec<u32>,
    /// Ids of the step and basis it was checked against: neither ever changes after
    /// construction and clones share them, so equal ids mean equal inputs.
    step: u64,
    basis: u64,
}

impl Verified {
    /// `cert` checked against `step` and `basis`, for no token in particular.
    pub(crate) fn new(
        step: &Step,
        basis: &Basis,
        cert: Certificate,
    ) -> std::result::Result<Self, CertificateError> {
        let covered = match &cert {
            Certificate::Keep(c) => verify::kept_by(step, basis, c),
            Certificate::Reject(c) => verify::rejected_by(step, basis, c),
        }?;
        Ok(Self {
            cert,
            covered,
            step: step.id(),
            basis: basis.id(),
        })
    }

    /// The tokens it settles, ascending.
    pub fn covered(&self) -> &[u32] {
        &self.covered
    }

    /// Whether it settles `token`.
    pub fn settles(&self, token: u32) -> bool {
        self.covered.binary_search(&token).is_ok()
    }

    /// The certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The certificate, without the verifier's verdict.
    pub fn into_certificate(self) -> Certificate {
        self.cert
    }

    /// Whether it was checked against `step` and `basis` (or clones of them).
    fn is_for(&self, step: &Step, basis: &Basis) -> bool {
        (self.step, self.basis) == (step.id(), basis.id())
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
        Verified::new(self.ledger.step, self.ledger.basis, cert).ok()
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
    /// `0`: not settled; `k`: `outcomes[k - 1]`. Four bytes a token, taken on first write from
    /// the thread's spare arrays ([`SPARE_SLOTS`]) and given back, zeroed, on drop.
    slot: Vec<u32>,
    /// The tokens written in `slot`, while they are at most [`TRACKED_WRITES`]: zeroing those
    /// alone is cheaper than zeroing the array (a lazy draw writes a few hundred of `V`).
    written: Vec<u32>,
    outcomes: Vec<(Outcome, Via)>,
    /// Backend calls made (single tokens, then chunks).
    pub solves: usize,
    pub set_solves: usize,
    pub backend_time: Duration,
    /// The caller's limits on this call; no backend call starts once its deadline has passed.
    pub budget: Budget,
}

/// Most writes a ledger tracks to zero its slot array entry by entry; past them it zeroes the
/// whole array.
const TRACKED_WRITES: usize = 4096;

/// Spare slot arrays kept per thread.
const SPARE: usize = 2;

thread_local! {
    /// All-zero slot arrays of dropped ledgers: a fresh `V`-long array costs a zeroing pass
    /// (196 kB at `V = 49152`) that a lazy draw's few hundred writes do not.
    static SPARE_SLOTS: RefCell<Vec<Vec<u32>>> = const { RefCell::new(Vec::new()) };
}

/// An all-zero slot array of `vocab` entries, a spare one when the thread has it.
fn spare_slots(vocab: usize) -> Vec<u32> {
    SPARE_SLOTS
        .with_borrow_mut(|spare| {
            let at = spare.iter().position(|s| s.len() == vocab)?;
            Some(spare.swap_remove(at))
        })
        .unwrap_or_else(|| vec![0; vocab])
}

impl Drop for Ledger<'_> {
    fn drop(&mut self) {
        if self.slot.is_empty() {
            return;
        }
        let mut slot = std::mem::take(&mut self.slot);
        if self.written.len() > TRACKED_WRITES {
            slot.fill(0);
        } else {
            for &t in &self.written {
                slot[t as usize] = 0;
            }
        }
        SPARE_SLOTS.with_borrow_mut(|spare| {
            if spare.len() >= SPARE {
                spare.remove(0);
            }
            spare.push(slot);
        });
    }
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
            written: Vec::new(),
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
            self.slot = spare_slots(self.step.vocab());
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
                if self.written.len() <= TRACKED_WRITES {
                    self.written.push(t);
                }
            }
        }
        settled
    }

    /// A certificate for `token` from outside any backend: verified, then it settles every token
    /// it covers. Returns whether it verified (a refused one changes nothing).
    pub fn submit(&mut self, token: u32, cert: Certificate) -> bool {
        match Verified::new(self.step, self.basis, cert) {
            Ok(verified) if verified.settles(token) => {
                self.record_verified(verified);
                true
            }
            _ => false,
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

    /// Records a certificate the verifier accepted ([`Checker::check`], or a backend's
    /// [`Answer::Verified`]): it settles every token it covers that is still open. Returns how
    /// many that was (none when it was checked against another step or basis and refused here).
    pub fn record_verified(&mut self, verified: Verified) -> usize {
        match self.own(verified) {
            Ok(Verified { cert, covered, .. }) => self.record(covered, proof_of(cert), Via::Token),
            Err(_) => 0,
        }
    }

    /// `verified` when it was checked against this step and basis, or else its certificate
    /// checked against them now.
    fn own(&self, verified: Verified) -> std::result::Result<Verified, CertificateError> {
        if verified.is_for(self.step, self.basis) {
            Ok(verified)
        } else {
            Verified::new(self.step, self.basis, verified.cert)
        }
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
    /// failure leaves `token` (only) undecided. The answer is verified once: here, or already
    /// when the backend had it checked through the problem ([`Answer::Verified`]).
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
        let answer = self.call(backend, |b| b.answer(&problem));
        self.solves += 1;
        if matches!(answer, Err(BackendError::Limit(_))) && self.budget.expired() {
            self.leave_undecided(token, UndecidedReason::Budget);
            return;
        }
        let checked = answer.map_err(UndecidedReason::Backend).and_then(|answer| {
            let verified = match answer {
                Answer::Verified(verified) => self.own(verified),
                Answer::Certificate(cert) => Verified::new(self.step, self.basis, cert),
            }
            .map_err(UndecidedReason::Unverified)?;
            if verified.settles(token) {
                Ok(verified)
            } else {
                Err(UndecidedReason::Unverified(CertificateError::DoesNotCover(
                    token,
                )))
            }
        });
        match checked {
            Ok(verified) => {
                self.record_verified(verified);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate::KeepCertificate;
    use crate::MatrixView;

    /// Answers every token with one result, whatever the problem.
    struct Replaying(Verified);

    impl Backend for Replaying {
        fn name(&self) -> &'static str {
            "replaying"
        }

        fn solve(
            &mut self,
            problem: &TokenProblem<'_>,
        ) -> std::result::Result<Certificate, BackendError> {
            self.answer(problem).map(Answer::into_certificate)
        }

        fn answer(&mut self, _: &TokenProblem<'_>) -> std::result::Result<Answer, BackendError> {
            Ok(Answer::Verified(self.0.clone()))
        }
    }

    /// With a zero basis only `sum p = 1` constrains `p`, so no dual keeps a token below `tau`:
    /// the sum-row dual `y = (0, 1)` keeps tokens 0 to 2 here, not token 3 (`q = 0.04 < tau`).
    fn zero_basis_step() -> (Step, Basis) {
        let q = vec![0.5, 0.3, 0.15, 0.04, 0.01];
        let basis = Basis::explicit(MatrixView::new(&[0.0; 5], 5, 1).unwrap()).unwrap();
        (Step::from_probabilities(q, 0.05).unwrap(), basis)
    }

    /// A verdict the verifier never gave, that the sum-row dual keeps token 3, labelled with the
    /// ids of `ids_of`: what the ledger does with it shows whether it checks the answer again.
    fn forged(ids_of: &Step, basis: &Basis) -> Verified {
        Verified {
            cert: Certificate::Keep(KeepCertificate { y: vec![0.0, 1.0] }),
            covered: vec![0, 1, 2, 3],
            step: ids_of.id(),
            basis: basis.id(),
        }
    }

    #[test]
    fn a_verified_answer_for_the_ledgers_step_is_recorded_without_a_second_check() {
        let (step, basis) = zero_basis_step();
        let mut ledger = Ledger::new(&step, &basis).unwrap();
        ledger.solve(3, &mut Replaying(forged(&step, &basis)));
        assert!(matches!(
            ledger.get(3),
            Some((Outcome::Keep(KeepProof::Dual(_)), Via::Token))
        ));
    }

    #[test]
    fn a_verified_answer_for_another_step_is_checked_again() {
        let (step, basis) = zero_basis_step();
        let other = Step::from_probabilities(step.q().to_vec(), step.tau()).unwrap();
        let mut ledger = Ledger::new(&step, &basis).unwrap();
        ledger.solve(3, &mut Replaying(forged(&other, &basis)));
        assert!(matches!(
            ledger.get(3),
            Some((
                Outcome::Undecided(UndecidedReason::Unverified(CertificateError::DoesNotCover(
                    3
                ))),
                Via::Token
            ))
        ));
        // The band engine's results go through the same gate.
        let mut ledger = Ledger::new(&step, &basis).unwrap();
        assert_eq!(ledger.record_verified(forged(&other, &basis)), 0);
        assert!(!ledger.is_settled(3));
    }
}

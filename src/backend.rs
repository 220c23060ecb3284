//! The one seam between the problem and any LP solver. A backend receives one token's problem and
//! answers with a certificate; the caller ([`crate::decide`]) verifies it before it becomes a
//! decision, so a backend can be wrong but never decisive. A backend that has to check its
//! candidates to choose among them does so through the problem ([`TokenProblem::check`]) and
//! answers with the result ([`Answer::Verified`]), so every certificate is verified once.

use crate::basis::Basis;
use crate::certificate::{Certificate, RejectCertificate};
use crate::ledger::Verified;
use crate::step::Step;
use crate::verify::CertificateError;

/// The problem for one token: is `P_i` (METHOD.md) empty?
#[derive(Debug, Clone, Copy)]
pub struct TokenProblem<'a> {
    /// The step the token belongs to.
    pub step: &'a Step,
    /// The constraint matrix.
    pub basis: &'a Basis,
    /// The token to decide.
    pub token: u32,
}

impl TokenProblem<'_> {
    /// Has the crate's verifier check `cert` against this problem's step and basis: `Ok` when it
    /// verifies and settles [`TokenProblem::token`] ([`CertificateError::DoesNotCover`] when it
    /// verifies but settles other tokens only). Answered as [`Answer::Verified`], the result is
    /// recorded as it stands.
    pub fn check(&self, cert: Certificate) -> Result<Verified, CertificateError> {
        let verified = self.check_shared(cert)?;
        if verified.settles(self.token) {
            Ok(verified)
        } else {
            Err(CertificateError::DoesNotCover(self.token))
        }
    }

    /// [`TokenProblem::check`] for no token in particular: `Ok` with every token the certificate
    /// settles ([`Verified::covered`]), which may leave out this problem's token (a dual found for
    /// one token often keeps others but not it).
    pub fn check_shared(&self, cert: Certificate) -> Result<Verified, CertificateError> {
        Verified::new(self.step, self.basis, cert)
    }
}

/// A backend's answer for one token ([`Backend::answer`]).
#[derive(Debug, Clone)]
pub enum Answer {
    /// A certificate the ledger verifies on receipt.
    Certificate(Certificate),
    /// A certificate the backend had checked ([`TokenProblem::check`]). The ledger records it
    /// without a second check when it was checked against the problem's own step and basis (a
    /// backend may keep one from an earlier call on the same step), and verifies it on receipt
    /// otherwise.
    Verified(Verified),
}

impl Answer {
    /// The certificate, verified or not.
    pub fn certificate(&self) -> &Certificate {
        match self {
            Answer::Certificate(cert) => cert,
            Answer::Verified(verified) => verified.certificate(),
        }
    }

    /// The certificate, without the verifier's verdict.
    pub fn into_certificate(self) -> Certificate {
        match self {
            Answer::Certificate(cert) => cert,
            Answer::Verified(verified) => verified.into_certificate(),
        }
    }
}

impl From<Certificate> for Answer {
    fn from(cert: Certificate) -> Self {
        Answer::Certificate(cert)
    }
}

impl From<Verified> for Answer {
    fn from(verified: Verified) -> Self {
        Answer::Verified(verified)
    }
}

/// A set of tokens to zero all at once (METHOD.md, "Shared rejections"): is there a point of the
/// feasible set with `p_j = 0` for every listed token? Only sets of mass at most `tau` can be.
#[derive(Debug, Clone, Copy)]
pub struct SetProblem<'a> {
    /// The step the tokens belong to.
    pub step: &'a Step,
    /// The constraint matrix.
    pub basis: &'a Basis,
    /// Distinct tokens with `q_j > 0`, ascending.
    pub tokens: &'a [u32],
}

/// Why a backend gave no certificate. Each of these makes the token undecided.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The solver reported an error or a status it should not reach.
    #[error("solver failed: {0}")]
    Solver(String),
    /// A time or iteration limit stopped the solver.
    #[error("limit reached: {0}")]
    Limit(String),
    /// The solver finished but none of its answers could be turned into a verified certificate.
    #[error("no verifiable certificate: {0}")]
    NoCertificate(String),
    /// The backend does not solve this kind of problem.
    #[error("not supported by this backend: {0}")]
    Unsupported(&'static str),
}

/// An LP solver that decides single tokens.
pub trait Backend {
    /// Short name, as the CLI's `--backend` flag spells it.
    fn name(&self) -> &'static str;

    /// A certificate for `problem.token`: a dual vector that keeps it or a point that rejects it.
    fn solve(&mut self, problem: &TokenProblem<'_>) -> Result<Certificate, BackendError>;

    /// What the ledger asks for `problem.token`: [`Backend::solve`]'s certificate, possibly
    /// already verified. A backend that checks its candidates ([`TokenProblem::check`]) to choose
    /// among them answers with the one that verified, [`Answer::Verified`], which the ledger
    /// records without checking it again; its `solve` is then
    /// `self.answer(problem).map(Answer::into_certificate)`. The default answers with `solve`'s
    /// certificate, which the ledger verifies on receipt.
    fn answer(&mut self, problem: &TokenProblem<'_>) -> Result<Answer, BackendError> {
        self.solve(problem).map(Answer::Certificate)
    }

    /// Bounds the backend's next calls: each should return by `deadline` (with
    /// [`BackendError::Limit`] when it cannot finish), every LP and retry inside it sharing the
    /// time left; `None` lifts the bound. The ledger sets it before every call from the caller's
    /// [`crate::Budget`] and lifts it after. A backend that ignores it (the default) still gets
    /// no call after the deadline, but one call may then overrun it.
    fn set_deadline(&mut self, deadline: Option<std::time::Instant>) {
        let _ = deadline;
    }

    /// A point that zeroes every token of `problem.tokens`, if the backend finds one; `None`
    /// proves nothing (a backend may search a restricted problem). The caller verifies the point
    /// and splits the set when it fails, so a backend without this method loses speed, not
    /// decisions.
    fn solve_set(
        &mut self,
        problem: &SetProblem<'_>,
    ) -> Result<Option<RejectCertificate>, BackendError> {
        let _ = problem;
        Err(BackendError::Unsupported("zeroing a set of tokens"))
    }

    /// A new backend with this one's configuration and none of the state its earlier solves left
    /// (warm starts), for one row of [`crate::Bat::truncate_batch`]: fresh backends make a row's
    /// result independent of which thread ran it and of what ran before. `None`, the default,
    /// when the backend cannot make one; the batch then runs its rows in order on the `Bat`'s
    /// own backend.
    fn fresh(&self) -> Option<Box<dyn Backend + Send>> {
        None
    }
}

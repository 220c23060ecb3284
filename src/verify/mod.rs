//! The independent verifier. Every keep or reject the crate reports passed through here. It
//! recomputes everything from `q`, `tau` and `B` in f64 and shares no code with any solver (only
//! the basis's own product `B y`, which column generation also uses, and the compensated sums of
//! `crate::compensated`), so a wrong solver answer can make a token undecided but never wrongly
//! decided.
//!
//! - A keep ([`kept_by`]) is accepted when the dual inequality holds by [`KEEP_MARGIN_TOL`]
//!   relative to the size of its terms, a margin that exceeds the rounding error of the check.
//! - A reject ([`rejected_by`]) is accepted only when an exact point of the feasible set provably
//!   exists next to the point given ([`exact_point_exists`]): no tolerance decides it.
//!
//! docs/architecture.md, "Reject certificates" and "Keep certificates", has the arguments.

mod bulk;
mod exact;
mod gram;
mod keep;
mod reject;
mod shared;
mod square;

pub use exact::{exact_point_exists, Absorber, Residual};
pub use keep::{keep_margin, kept_by, KEEP_MARGIN_TOL};
pub use reject::{rejected_by, ABSORBERS_PER_ROW, BOX_ROUNDING};

pub use bulk::{rejected_by_bulk, BulkError, BULK_MIN_ABSORBER_MASS};

use crate::basis::Basis;
use crate::step::Step;

/// Why a certificate was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    #[error("dual vector has {got} entries, expected m + 1 = {expected}")]
    /// The dual vector's length is not `m + 1`.
    DualLength {
        /// Its length.
        got: usize,
        /// `m + 1`.
        expected: usize,
    },
    #[error("residual has {got} entries, expected m + 1 = {expected}")]
    /// A residual handed to [`exact_point_exists`] does not have `m + 1` entries.
    ResidualLength {
        /// Its length.
        got: usize,
        /// `m + 1`.
        expected: usize,
    },
    #[error("certificate entry {0} is not finite")]
    /// An entry of the certificate (by position) is NaN or infinite.
    NonFinite(usize),
    #[error("change list is not strictly increasing by token at position {0}")]
    /// The change list is not strictly increasing by token (at this position).
    Unordered(usize),
    #[error("token {0} is outside the vocabulary")]
    /// A token of the certificate is outside the vocabulary.
    TokenOutOfRange(u32),
    #[error("token {token}: p = q + d = {p} leaves its box [0, sigma q]")]
    /// A token of the point leaves its box `[0, sigma q_j]`.
    OutOfBox {
        /// The token.
        token: u32,
        /// Its `p_j = q_j + d_j`.
        p: f64,
    },
    /// The point's residual could not be proven absorbable by the tokens with box slack: no exact
    /// point of the feasible set is known to exist near it.
    #[error(
        "residual not provably absorbed: it needs {needed:e}, the absorbers certify {capacity:e}"
    )]
    NotAbsorbed {
        /// The size of the residual to absorb (the bound the correction needs).
        needed: f64,
        /// What the absorbers' box slack provably covers.
        capacity: f64,
    },
    #[error("token {0} is not proven: the certificate does not cover it")]
    /// The certificate does not prove this token.
    DoesNotCover(u32),
    #[error("basis has {basis} tokens but the step has {step}")]
    /// The basis and the step have different vocabularies.
    VocabMismatch {
        /// The basis's vocabulary.
        basis: usize,
        /// The step's vocabulary.
        step: usize,
    },
}

fn check_vocab(step: &Step, basis: &Basis) -> Result<(), CertificateError> {
    if step.vocab() == basis.vocab() {
        Ok(())
    } else {
        Err(CertificateError::VocabMismatch {
            basis: basis.vocab(),
            step: step.vocab(),
        })
    }
}

/// Checks `cert` and that it settles `token`; returns every token it settles the same way
/// (ascending).
pub fn check(
    step: &Step,
    basis: &Basis,
    token: u32,
    cert: &crate::certificate::Certificate,
) -> Result<Vec<u32>, CertificateError> {
    use crate::certificate::Certificate;
    let settled = match cert {
        Certificate::Keep(c) => kept_by(step, basis, c)?,
        Certificate::Reject(c) => rejected_by(step, basis, c)?,
    };
    if settled.binary_search(&token).is_ok() {
        Ok(settled)
    } else {
        Err(CertificateError::DoesNotCover(token))
    }
}

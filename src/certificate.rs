//! Certificates: the evidence behind every keep or reject, in a form the verifier
//! ([`crate::verify`]) checks without trusting whoever produced it.
//!
//! Write `p = q + d`. Token `i` is rejected when some `p` in
//! `P_i = { B^T p = B^T q, sum p = 1, 0 <= p <= sigma q, p_i = 0 }` exists, and kept when `P_i` is
//! empty, which a dual vector `y` proves (METHOD.md, "Certificates").

use std::sync::Arc;

use crate::backend::BackendError;
use crate::verify::CertificateError;

/// A dual vector `y = (y_b, y_0)`, `m + 1` entries: `y_b` pairs with the basis columns, `y_0`
/// with the sum-to-one row. With `s_j = b_j . y_b + y_0` and `g(t) = max(kappa t, -t)`, it keeps
/// every token with `sigma q_i s_i > sum_j q_j g(s_j)` (beyond the verifier's margin).
#[derive(Debug, Clone, PartialEq)]
pub struct KeepCertificate {
    /// `(y_b, y_0)`: `m` entries for the basis columns, then the sum-to-one row.
    pub y: Vec<f64>,
}

/// A distribution `p = q + d` consistent with the bottleneck, stored as the sparse change `d`
/// (token, `p_j - q_j`), strictly increasing by token; every token not listed has `p_j = q_j`.
/// It rejects every token it sets to zero (`d_j = -q_j`). Storing the change rather than `p`
/// keeps small moves of large probabilities exact, which the residual check needs.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectCertificate {
    /// `(token, p_j - q_j)`, strictly increasing by token.
    pub changes: Vec<(u32, f64)>,
}

/// A closed-form rejection of many tokens at once (the "bulk" family): the radius `R` of the
/// weight rule `w_j = q_j min(1, R / rho0_j)`, `rho0_j` the Mahalanobis radius of `a_j = (b_j, 1)`
/// under `sum_j q_j a_j a_j^T`. The verifier ([`crate::verify::rejected_by_bulk`]) recomputes the
/// weights, the matrix `M = sum_j w_j a_j a_j^T` and a rigorous bound on every token's radius
/// under `M`, and rejects every token that the least-squares representation of `sigma q_i a_i`
/// keeps inside the box. Any radius gives a valid proof; the radius only sets how many tokens
/// it reaches.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkRejectCertificate {
    /// The radius `R` of the weight rule `w_j = q_j min(1, R / rho0_j)`.
    pub radius: f64,
}

/// What a backend hands back for one token, before verification.
#[derive(Debug, Clone, PartialEq)]
pub enum Certificate {
    /// A dual vector that keeps the token.
    Keep(KeepCertificate),
    /// A point that rejects the token.
    Reject(RejectCertificate),
}

/// Why a token is kept.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum KeepProof {
    /// `q_i >= tau`: `P_i` is empty because `sigma (1 - q_i) < 1`.
    Threshold,
    /// A verified dual vector; one vector often keeps many tokens, hence the sharing.
    Dual(Arc<KeepCertificate>),
    /// No certificate: assumed by the named approximate reduction.
    Approximate {
        /// The reduction's name.
        by: &'static str,
    },
}

/// Why a token is rejected.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RejectProof {
    /// `q_i = 0` (a `-inf` logit or an underflow): `p = q` itself lies in `P_i`.
    ZeroMass,
    /// A verified point of `P_i`; one point rejects every token it sets to zero.
    Point(Arc<RejectCertificate>),
    /// A verified bulk certificate; one rejects most of a step's tail.
    Bulk(Arc<BulkRejectCertificate>),
    /// No certificate: assumed by the named approximate reduction.
    Approximate {
        /// The reduction's name.
        by: &'static str,
    },
}

/// Why a token could not be decided. The default policy treats it as rejected, which keeps the
/// threshold guarantee; it is never turned into a keep.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum UndecidedReason {
    /// No LP backend was available to decide a token below the threshold.
    NoBackend,
    /// The backend failed, hit a limit, or gave no certificate.
    Backend(BackendError),
    /// The backend's certificate did not pass the verifier.
    Unverified(CertificateError),
    /// The caller's budget (a deadline, or a limit on solves) ran out before this token was
    /// settled.
    Budget,
    /// No reduction of the pipeline settled it.
    NotReached,
}

/// How one token was decided, without the certificate: what a [`crate::Truncation`] holds per
/// token, so a batch keeps no certificates alive unless the caller asks for them
/// ([`crate::truncate_with_certificates`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Decision {
    /// Kept because `q_i >= tau`.
    ThresholdKeep,
    /// Kept by a verified dual vector.
    DualKeep,
    /// Rejected because `q_i = 0`.
    ZeroMassReject,
    /// Rejected by a verified point solved for one token (it may zero others too).
    PointReject,
    /// Rejected by a verified point that zeroes a whole chunk of the tail.
    ChunkReject,
    /// Rejected by a verified bulk certificate ([`BulkRejectCertificate`]).
    BulkReject,
    /// Kept by an approximate reduction, without a certificate.
    ApproximateKeep,
    /// Rejected by an approximate reduction, without a certificate.
    ApproximateReject,
    /// Not decided (treated as rejected), and why.
    Undecided(UndecidedKind),
}

/// [`UndecidedReason`] without its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UndecidedKind {
    /// [`UndecidedReason::NoBackend`].
    NoBackend,
    /// [`UndecidedReason::Backend`].
    Backend,
    /// [`UndecidedReason::Unverified`].
    Unverified,
    /// [`UndecidedReason::Budget`].
    Budget,
    /// [`UndecidedReason::NotReached`].
    NotReached,
}

impl Decision {
    /// Whether the token is kept.
    pub fn is_keep(&self) -> bool {
        matches!(
            self,
            Decision::ThresholdKeep | Decision::DualKeep | Decision::ApproximateKeep
        )
    }

    /// Whether the token is rejected.
    pub fn is_reject(&self) -> bool {
        matches!(
            self,
            Decision::ZeroMassReject
                | Decision::PointReject
                | Decision::ChunkReject
                | Decision::BulkReject
                | Decision::ApproximateReject
        )
    }

    /// Whether the token is undecided (treated as rejected).
    pub fn is_undecided(&self) -> bool {
        matches!(self, Decision::Undecided(_))
    }
}

impl UndecidedReason {
    /// The reason without its payload.
    pub fn kind(&self) -> UndecidedKind {
        match self {
            UndecidedReason::NoBackend => UndecidedKind::NoBackend,
            UndecidedReason::Backend(_) => UndecidedKind::Backend,
            UndecidedReason::Unverified(_) => UndecidedKind::Unverified,
            UndecidedReason::Budget => UndecidedKind::Budget,
            UndecidedReason::NotReached => UndecidedKind::NotReached,
        }
    }
}

/// The decision for one token.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Kept, with its proof.
    Keep(KeepProof),
    /// Rejected, with its proof.
    Reject(RejectProof),
    /// Neither, with the reason; treated as rejected.
    Undecided(UndecidedReason),
}

impl Outcome {
    /// Whether the token is kept.
    pub fn is_keep(&self) -> bool {
        matches!(self, Outcome::Keep(_))
    }

    /// Whether the token is rejected.
    pub fn is_reject(&self) -> bool {
        matches!(self, Outcome::Reject(_))
    }

    /// Whether the token is undecided.
    pub fn is_undecided(&self) -> bool {
        matches!(self, Outcome::Undecided(_))
    }
}

//! Certificates: the evidence behind every keep or reject, in a form the verifier
//! ([`crate::verify`]) checks without trusting whoever produced it.
//!
//! Write `p = q + d`. Token `i` is rejected when some `p` in
//! `P_i = { B^T p = B^T q, sum p = 1, 0 <= p <= sigma q, p_i = 0 }` exists, and kept when `P_i` is
//! empty, which a dual vector `y` proves (METHOD.md, "Certificates").

use std::sync::Arc;

/// A dual vector `y = (y_b, y_0)`, `m + 1` entries: `y_b` pairs with the basis columns, `y_0`
/// with the sum-to-one row. With `s_j = b_j . y_b + y_0` and `g(t) = max(kappa t, -t)`, it keeps
/// every token with `sigma q_i s_i > sum_j q_j g(s_j)` (beyond the verifier's margin).
#[derive(Debug, Clone, PartialEq)]
pub struct KeepCertificate {
    pub y: Vec<f64>,
}

/// A distribution `p = q + d` consistent with the bottleneck, stored as the sparse change `d`
/// (token, `p_j - q_j`), strictly increasing by token; every token not listed has `p_j = q_j`.
/// It rejects every token it sets to zero (`d_j = -q_j`). Storing the change rather than `p`
/// keeps small moves of large probabilities exact, which the residual check needs.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectCertificate {
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
    pub radius: f64,
}

/// What a backend hands back for one token, before verification.
#[derive(Debug, Clone, PartialEq)]
pub enum Certificate {
    Keep(KeepCertificate),
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
    Approximate { by: &'static str },
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
    Approximate { by: &'static str },
}

/// Why a token could not be decided. The default policy treats it as rejected, which keeps the
/// threshold guarantee; it is never turned into a keep.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum UndecidedReason {
    /// No LP backend was available to decide a token below the threshold.
    NoBackend,
    /// The backend failed, hit a limit, or gave no certificate.
    Backend(String),
    /// The backend's certificate did not pass the verifier.
    Unverified(String),
    /// The caller's budget ran out before this token's LP.
    Budget,
    /// No reduction of the pipeline settled it.
    NotReached,
}

/// The decision for one token.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Keep(KeepProof),
    Reject(RejectProof),
    Undecided(UndecidedReason),
}

impl Outcome {
    pub fn is_keep(&self) -> bool {
        matches!(self, Outcome::Keep(_))
    }

    pub fn is_reject(&self) -> bool {
        matches!(self, Outcome::Reject(_))
    }

    pub fn is_undecided(&self) -> bool {
        matches!(self, Outcome::Undecided(_))
    }
}

//! Limits on the work of one call (`truncate_within`, `decide_tokens_within`, a filter's step):
//! a deadline for the whole call and a limit per backend call. The ledger consults them before
//! every backend call and hands the backend the time left ([`crate::Backend::set_deadline`]), so
//! a call returns within its deadline plus about one LP's worth, however many LPs it would
//! otherwise have solved; what is not settled by then is
//! [`crate::UndecidedReason::Budget`].

use std::time::{Duration, Instant};

/// Limits on one call's backend work. The default has none.
///
/// ```
/// use std::time::Duration;
/// use basis_aware::Budget;
///
/// let budget = Budget::within(Duration::from_millis(50)).with_per_lp(Duration::from_millis(10));
/// assert!(budget.deadline.is_some());
/// assert!(!budget.expired());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Budget {
    /// No backend call starts after this instant, and each one is told to stop by it.
    pub deadline: Option<Instant>,
    /// Most wall time of one backend call (one token's LPs, or one chunk's).
    pub per_lp: Option<Duration>,
}

impl Budget {
    /// No limits.
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// A deadline `time` from now for the whole call.
    pub fn within(time: Duration) -> Self {
        Self {
            deadline: Instant::now().checked_add(time),
            per_lp: None,
        }
    }

    /// A deadline at `deadline` for the whole call.
    pub fn until(deadline: Instant) -> Self {
        Self {
            deadline: Some(deadline),
            per_lp: None,
        }
    }

    /// The same budget with at most `time` per backend call.
    pub fn with_per_lp(self, time: Duration) -> Self {
        Self {
            per_lp: Some(time),
            ..self
        }
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// The instant by which a backend call starting now must return: the deadline, or `per_lp`
    /// from now if that comes first.
    pub fn call_deadline(&self) -> Option<Instant> {
        let per_call = self.per_lp.and_then(|t| Instant::now().checked_add(t));
        match (self.deadline, per_call) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

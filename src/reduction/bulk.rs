//! The bulk reject certificate as the first reduction: one closed-form pass over the vocabulary
//! rejects most of a step's tail (METHOD.md, "One body per step"), before any LP. The reduction
//! only names the weight rule's radius; the ledger's verifier computes and checks everything the
//! rejection rests on, once.

use super::{Reduction, Workspace};
use crate::certificate::BulkRejectCertificate;

/// Radius of the weight rule `w_j = q_j min(1, R / rho0_j)` (issue 15: 3 keeps `R*` small on
/// real SmolLM2 steps).
pub const DEFAULT_BULK_RADIUS: f64 = 3.0;

/// Fewest pending tokens for which the pass runs: it costs about `4 V (m + 1)^2` flops whatever
/// the number of pending tokens, a few per-token LPs' worth, so a lazy draw's single candidate
/// goes straight to the LP.
pub const BULK_MIN_PENDING: usize = 64;

/// Largest `m + 1` for which the pass runs: its cost grows as `(m + 1)^2` per token and the
/// closed form reaches far fewer tokens with many columns (issue 15: 5 to 89% of the tail at
/// `m = 576`, against 92 to 98% at `m = 20`).
pub const BULK_MAX_ROWS: usize = 96;

/// Submits one [`BulkRejectCertificate`] when enough tokens are pending.
#[derive(Debug, Clone, Copy)]
pub struct BulkRejects {
    /// The weight rule's radius.
    pub radius: f64,
}

impl Default for BulkRejects {
    fn default() -> Self {
        Self {
            radius: DEFAULT_BULK_RADIUS,
        }
    }
}

impl Reduction for BulkRejects {
    fn name(&self) -> &'static str {
        "bulk-rejects"
    }

    fn reduce(&mut self, work: &mut Workspace<'_, '_>, pending: &[u32]) {
        if pending.len() < BULK_MIN_PENDING || work.basis().dim() + 1 > BULK_MAX_ROWS {
            return;
        }
        work.submit_bulk(BulkRejectCertificate {
            radius: self.radius,
        });
    }

    fn fresh(&self) -> Option<Box<dyn Reduction + Send>> {
        Some(Box::new(*self))
    }
}

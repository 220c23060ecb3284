//! Near the threshold most tokens are kept, and a dual vector tends to keep a run of them at
//! once, so they are solved one at a time from the most probable down, each keep shared with
//! every token it covers, until the first reject marks the start of the tail.

use super::{Reduction, Workspace};
use crate::certificate::Outcome;

/// Per-token solves from the most probable pending token down to the first reject.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeadKeeps;

impl Reduction for HeadKeeps {
    fn name(&self) -> &'static str {
        "head-keeps"
    }

    fn reduce(&mut self, work: &mut Workspace<'_, '_>, pending: &[u32]) {
        for &t in pending {
            if work.is_settled(t) {
                continue;
            }
            if !work.solve(t) || matches!(work.outcome(t), Some(Outcome::Reject(_))) {
                return;
            }
        }
    }

    fn fresh(&self) -> Option<Box<dyn Reduction + Send>> {
        Some(Box::new(*self))
    }
}

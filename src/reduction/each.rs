//! The last resort: every token left is solved alone (each certificate still shared with every
//! token it covers).

use super::{Reduction, Workspace};

/// One backend call per unsettled token, most probable first.
#[derive(Debug, Clone, Copy, Default)]
pub struct EachToken;

impl Reduction for EachToken {
    fn name(&self) -> &'static str {
        "each-token"
    }

    fn reduce(&mut self, work: &mut Workspace<'_, '_>, pending: &[u32]) {
        for &t in pending {
            if !work.is_settled(t) && !work.solve(t) {
                return;
            }
        }
    }

    fn fresh(&self) -> Option<Box<dyn Reduction + Send>> {
        Some(Box::new(*self))
    }
}

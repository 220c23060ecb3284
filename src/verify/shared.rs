//! The untouched absorbers' Gram factor, shared by the points of a step. Points from the same
//! head LP change the same head tokens, so they leave the same most probable tokens untouched and
//! offer the same untouched absorbers, whose slacks depend only on the step. Their
//! [`GramFactor`] is built once (per thread) and each such point's exact test is then its
//! residual through `L`, `O(n^2)`, instead of a factorization of its own.
//!
//! Only a factor that keeps every row of `[B 1]` is shared: rows it dropped as dependent over the
//! absorbers might not be dependent over a point's moved tokens. The full test (the point's own
//! absorbers as well) still runs when the shared one cannot certify, so sharing changes the cost,
//! never which points are accepted beyond what each test proves on its own.

use std::cell::RefCell;
use std::rc::Rc;

use super::exact::{Absorber, Residual};
use super::gram::GramFactor;
use crate::basis::Basis;

/// Factors kept per thread: one per head tier a step's points come from, and a few spare.
const KEPT: usize = 6;

struct Entry {
    step: u64,
    basis: u64,
    absorbers: Vec<(u32, u64)>,
    factor: Option<Rc<GramFactor>>,
}

thread_local! {
    static FACTORS: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// Whether `absorbers` alone provably absorb `residual`, with their factor built at most once per
/// step, basis and absorber set on this thread (`step` is the step's id; steps and bases never
/// change after construction).
pub(super) fn untouched_absorb(
    step: u64,
    basis: &Basis,
    absorbers: &[Absorber],
    residual: &Residual,
) -> bool {
    factor(step, basis, absorbers).is_some_and(|f| f.absorbs(residual).is_ok())
}

fn key(a: &Absorber) -> (u32, u64) {
    (a.token, a.slack.to_bits())
}

fn factor(step: u64, basis: &Basis, absorbers: &[Absorber]) -> Option<Rc<GramFactor>> {
    let same = |e: &Entry| {
        e.step == step
            && e.basis == basis.id()
            && e.absorbers.iter().copied().eq(absorbers.iter().map(key))
    };
    FACTORS.with_borrow_mut(|entries| {
        if let Some(at) = entries.iter().position(same) {
            let entry = entries.remove(at);
            let factor = entry.factor.clone();
            entries.insert(0, entry);
            return factor;
        }
        let factor = GramFactor::new(basis, &[], absorbers)
            .filter(|f| f.rows().len() == basis.dim() + 1)
            .map(Rc::new);
        entries.truncate(KEPT - 1);
        entries.insert(
            0,
            Entry {
                step,
                basis: basis.id(),
                absorbers: absorbers.iter().map(key).collect(),
                factor: factor.clone(),
            },
        );
        factor
    })
}

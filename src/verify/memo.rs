//! The last keep certificate verified on this thread and what it proved. A backend checks its own
//! answer and the ledger checks it again on receipt (the ledger trusts no backend); the second
//! check of the same vector on the same step and basis is this lookup instead of another pass
//! over the basis (2 x 0.9 ms of a 3.6 ms keep on a real step before). Steps and bases never
//! change after construction and carry process-unique ids, so equal keys mean equal inputs.

use std::cell::RefCell;

struct Entry {
    step: u64,
    basis: u64,
    y: Vec<u64>,
    kept: Vec<u32>,
}

thread_local! {
    static LAST: RefCell<Option<Entry>> = const { RefCell::new(None) };
}

fn bits(y: &[f64]) -> impl Iterator<Item = u64> + '_ {
    y.iter().map(|v| v.to_bits())
}

/// What `y` proved on this step and basis, if it is the last vector verified here.
pub(super) fn lookup(step: u64, basis: u64, y: &[f64]) -> Option<Vec<u32>> {
    LAST.with_borrow(|last| {
        last.as_ref()
            .filter(|e| e.step == step && e.basis == basis && e.y.iter().copied().eq(bits(y)))
            .map(|e| e.kept.clone())
    })
}

pub(super) fn store(step: u64, basis: u64, y: &[f64], kept: &[u32]) {
    LAST.set(Some(Entry {
        step,
        basis,
        y: bits(y).collect(),
        kept: kept.to_vec(),
    }));
}

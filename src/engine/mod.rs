//! Decision engines: the numerical work behind the exact reductions that decide a step's band
//! (the tokens the bulk certificate leaves). They propose certificates; only the ledger's
//! verifier turns them into decisions.

pub(crate) mod band;
// Used by the simplex backend only.
#[cfg(feature = "simplex")]
pub(crate) mod full;
pub(crate) mod head_lp;
pub(crate) mod head_point;

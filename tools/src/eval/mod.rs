//! Ground-truth evaluation (feature `eval`): a synthetic world whose true next-token
//! distributions are known, a rank-`d` softmax fitted to it, and the precision and recall of
//! every truncation rule's kept set against the true support (`docs/evaluation.md`).

pub mod fit;
pub mod support;
pub mod sweep;
pub mod world;

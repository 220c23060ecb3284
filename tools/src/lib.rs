//! The tools around the `basis-aware` library: its command line (`basis-aware`, in
//! `src/bin/basis-aware/`), instance files, synthetic decode steps, parameter matching on human
//! text, a GGUF model runner (feature `candle`) and the ground-truth evaluation (feature `eval`).
//!
//! Engines use the library alone; nothing here is needed to truncate or sample.

#[cfg(feature = "eval")]
pub mod eval;
pub mod instance;
pub mod matching;
#[cfg(feature = "candle")]
pub mod model;

pub use matching::{bat_boundary, BatBoundary, BatSearch, Family};

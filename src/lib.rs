//! Basis-aware threshold (BAT) truncation for language-model decoding (Finlayson et al., ICLR
//! 2024), with a checkable certificate behind every decision.
//!
//! A threshold sampler (epsilon, eta, top-p, top-k, min-p) drops every token with `q_i < tau`.
//! BAT keeps such a token when a linear program proves that its true probability is nonzero
//! given the softmax bottleneck of the output embedding `W`. Each keep is proven by a dual vector
//! and each reject by a feasible point; the independent [`verify`] module checks both before a
//! decision is reported.
//!
//! ```
//! use basis_aware::{truncate, Basis, MatrixView, Rule};
//!
//! // Four tokens, hidden size two: W is row-major 4 x 2.
//! let w = [1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, -1.0_f32];
//! let basis = Basis::full(MatrixView::new(&w, 4, 2)?)?;
//! let logits = [3.0, 1.0, 0.5, -2.0_f32];
//! let result = truncate(&logits, &basis, &Rule::Epsilon(0.1), None)?;
//! assert!(result.kept.contains(&0)); // above the threshold: kept without an LP
//! # Ok::<(), basis_aware::Error>(())
//! ```
//!
//! Without a backend, tokens below the threshold come back undecided (and count as rejected).
//! To decide them, pass `backends::SimplexBackend` (the pure-Rust default, feature `simplex`) or
//! `backends::HighsBackend` (the reference oracle, feature `highs`).

mod backend;
pub mod backends;
mod basis;
mod batch;
mod budget;
mod certificate;
mod compensated;
mod critical;
mod error;
#[cfg(feature = "eval")]
pub mod eval;
pub mod filter;
pub mod instance;
mod ledger;
mod lp;
mod matching;
mod matrix;
#[cfg(feature = "candle")]
pub mod model;
pub mod reduction;
mod rule;
mod sample;
mod step;
pub mod synthetic;
#[cfg(feature = "proptest")]
pub mod testing;
mod truncate;
pub mod verify;

pub use backend::{Backend, BackendError, SetProblem, TokenProblem};
pub use basis::{Basis, BasisKind};
pub use batch::truncate_batch;
pub use budget::Budget;
pub use certificate::{
    Certificate, Decision, KeepCertificate, KeepProof, Outcome, RejectCertificate, RejectProof,
    UndecidedKind, UndecidedReason,
};
pub use critical::{
    critical_threshold, critical_threshold_up_to, CriticalThreshold, CRITICAL_REL_TOL,
};
pub use error::{Error, Result};
pub use filter::{BatFilter, FilterReport, TokenFilter};
pub use matching::{bat_boundary, BatBoundary, BatSearch, Family};
pub use matrix::MatrixView;
pub use reduction::{Reduction, Workspace};
pub use rule::{Rule, ThresholdRule};
pub use sample::{sample, sample_step, SampleBudget, Sampled};
pub use step::{softmax, Step, TAU_CAP};
pub use truncate::{
    decide, decide_tokens, decide_tokens_with, decide_tokens_within, truncate, truncate_with,
    truncate_with_certificates, truncate_within, Counts, Truncation,
};

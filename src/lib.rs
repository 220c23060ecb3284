//! Basis-aware threshold (BAT) truncation for language-model decoding (Finlayson et al., ICLR
//! 2024), with a checkable certificate behind every decision.
//!
//! A threshold sampler (epsilon, eta, top-p, top-k, min-p) drops every token with `q_i < tau`.
//! BAT keeps such a token when a linear program proves that its true probability is nonzero
//! given the softmax bottleneck of the output embedding `W`. Each keep is proven by a dual vector
//! and each reject by a feasible point; the independent [`verify`] module checks both before a
//! decision is reported.
//!
//! [`Bat`] is the front door: build the basis once per model, one `Bat` per sequence, and call
//! it at every decode step.
//!
//! ```
//! use basis_aware::{Bat, Basis, MatrixView, Rule};
//! use rand_xoshiro::{rand_core::SeedableRng, Xoshiro256PlusPlus};
//!
//! // Four tokens, hidden size two: W is row-major 4 x 2.
//! let w = [1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, -1.0_f32];
//! let basis = Basis::full(MatrixView::new(&w, 4, 2)?)?; // once per model (or Basis::svd)
//! let mut bat = Bat::new(basis, Rule::Eta(0.1)); // one per sequence
//! let logits = [3.0, 1.0, 0.5, -2.0_f32];
//! let draw = bat.sample(&logits, &mut Xoshiro256PlusPlus::seed_from_u64(7))?; // lazy: decides what it draws
//! let mask = bat.truncate(&logits)?; // or the whole vocabulary
//! assert!(mask.kept.contains(&0) && mask.kept.contains(&draw.token));
//! # Ok::<(), basis_aware::Error>(())
//! ```
//!
//! The default backend is [`backends::SimplexBackend`] (pure Rust, feature `simplex`);
//! `backends::HighsBackend` (feature `highs`) is the reference oracle. Without a backend
//! ([`Bat::without_backend`]) tokens below the threshold come back undecided, which counts as
//! rejected: the threshold rule alone. The free functions ([`truncate`], [`sample`],
//! [`sample_step`], [`decide`], [`decide_tokens`], [`truncate_batch`]) make the same decisions
//! without a `Bat`'s state; `ARCHITECTURE.md` maps the modules.

#![warn(missing_docs)]

mod backend;
pub mod backends;
mod basis;
mod bat;
mod batch;
mod budget;
mod certificate;
mod compensated;
mod critical;
mod engine;
mod error;
pub mod filter;
mod ledger;
mod lp;
mod matrix;
pub mod reduction;
mod rule;
mod sample;
mod select;
mod step;
#[cfg(feature = "synthetic")]
pub mod synthetic;
#[cfg(feature = "proptest")]
pub mod testing;
mod truncate;
pub mod verify;

pub use backend::{Answer, Backend, BackendError, SetProblem, TokenProblem};
pub use basis::{Basis, BasisKind};
pub use bat::Bat;
pub use batch::truncate_batch;
pub use budget::Budget;
pub use certificate::{
    BulkRejectCertificate, Certificate, Decision, KeepCertificate, KeepProof, Outcome,
    RejectCertificate, RejectProof, UndecidedKind, UndecidedReason,
};
pub use critical::{
    critical_threshold, critical_threshold_up_to, CriticalThreshold, CRITICAL_REL_TOL,
};
pub use error::{Error, Result};
pub use filter::{BatFilter, FilterReport, TokenFilter};
pub use ledger::Verified;
pub use matrix::MatrixView;
pub use reduction::{Reduction, Workspace};
pub use rule::{Rule, ThresholdRule};
pub use sample::{sample, sample_step, SampleBudget, Sampled};
pub use step::{softmax, Step, TAU_CAP};
pub use truncate::{
    decide, decide_tokens, decide_tokens_with, decide_tokens_within, truncate, truncate_with,
    truncate_with_certificates, truncate_within, Counts, Truncation,
};

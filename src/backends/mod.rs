//! Adapters from the backend crates under `backends/` to the [`crate::Backend`] trait, one per
//! feature. Solver types stay in those crates; only the LP of `src/lp.rs` crosses over.

#[cfg(feature = "highs")]
mod highs;
#[cfg(feature = "simplex")]
mod simplex;

#[cfg(feature = "simplex")]
pub use crate::engine::full::FullBasisStats;
#[cfg(feature = "highs")]
pub use highs::HighsBackend;
#[cfg(feature = "simplex")]
pub use simplex::SimplexBackend;

/// Names of the backends compiled into this build, for error messages and the CLI.
/// The first is the default.
pub const AVAILABLE: &[&str] = &[
    #[cfg(feature = "simplex")]
    "simplex",
    #[cfg(feature = "highs")]
    "highs",
];

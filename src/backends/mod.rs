//! Adapters from the backend crates under `backends/` to the [`crate::Backend`] trait, one per
//! feature. Solver types stay in those crates; only the LP of [`crate::lp`] crosses over.

#[cfg(feature = "highs")]
mod highs;

#[cfg(feature = "highs")]
pub use highs::HighsBackend;

/// Names of the backends compiled into this build, for error messages and the CLI.
pub const AVAILABLE: &[&str] = &[
    #[cfg(feature = "highs")]
    "highs",
];

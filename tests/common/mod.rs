//! Shared pieces of the integration tests: independent oracles, the compiled backends and
//! synthetic decode steps.
#![allow(dead_code, unused_imports)]

use basis_aware::{Backend, Basis, Step};

mod oracle;
pub use oracle::{critical_tau, min_mass, try_min_mass};

pub use basis_aware::synthetic::{self, gaussian_instance, rng};

/// The exported strategies (feature `proptest`) are the tests' instances too.
#[cfg(feature = "proptest")]
pub use basis_aware::testing::{case as tiny, Case as Tiny};

/// One instance of every backend compiled into this build.
pub fn backends() -> Vec<Box<dyn Backend>> {
    vec![
        #[cfg(feature = "simplex")]
        Box::new(basis_aware::backends::SimplexBackend::default()),
        #[cfg(feature = "highs")]
        Box::new(basis_aware::backends::HighsBackend::default()),
    ]
}

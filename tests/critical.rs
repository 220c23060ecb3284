//! The critical threshold bracket against the min-`sigma` LP solved independently.
#![cfg(all(feature = "simplex", feature = "proptest"))]

mod common;

use basis_aware::backends::SimplexBackend;
use basis_aware::{critical_threshold, Rule, Step, CRITICAL_REL_TOL};
use common::{critical_tau, tiny};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(60))]

    #[test]
    fn the_bracket_holds_the_independent_critical_threshold(inst in tiny(12), token in 0usize..12) {
        let step = Step::new(&inst.logits, &Rule::Epsilon(0.01)).unwrap();
        let basis = inst.basis();
        let token = token % inst.vocab;
        let mut backend = SimplexBackend::default();
        let found = critical_threshold(&step, &basis, token as u32, &mut backend, CRITICAL_REL_TOL).unwrap();
        let q_max = step.q().iter().copied().fold(0.0, f64::max);
        let exact = critical_tau(&step, &basis, token);
        match (&found.rejected_at, exact) {
            (Some((rejected_at, _)), Some(exact)) => {
                if found.undecided.is_none() {
                    prop_assert!(*rejected_at <= found.kept_at * (1.0 + CRITICAL_REL_TOL) || step.q()[token] == 0.0);
                }
                // Both ends are certified; the independent optimum must lie between them (up to
                // microlp's own tolerance).
                prop_assert!(found.kept_at <= exact * (1.0 + 1e-6) + 1e-12, "kept at {} above critical {}", found.kept_at, exact);
                prop_assert!(*rejected_at >= exact * (1.0 - 1e-6) - 1e-12, "rejected at {} below critical {}", rejected_at, exact);
            }
            (None, Some(exact)) => prop_assert!(
                found.undecided.is_some() || exact >= q_max * (1.0 - 1e-6),
                "never rejected, yet critical {} < max q {}", exact, q_max
            ),
            (None, None) => {}
            (Some((rejected_at, _)), None) => prop_assert!(false, "rejected at {} but the LP is infeasible", rejected_at),
        }
    }
}

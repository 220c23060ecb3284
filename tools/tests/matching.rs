//! Rejection boundaries against the rules themselves: just past a token's boundary the rule (or
//! BAT under it) rejects the token, just short of it the token is kept.

use basis_aware::{softmax, Step};
use basis_aware_tools::Family;
use proptest::prelude::*;

/// Relative nudge off a boundary: far above f64 rounding, far below any real parameter step.
const NUDGE: f64 = 1e-9;

/// Logits with ties (a coarse grid), flat, or with one dominant token (entropy near zero, so
/// eta's `sqrt(eta) e^-H` branch is exercised too).
fn logits() -> impl Strategy<Value = Vec<f32>> {
    prop_oneof![
        prop::collection::vec((-8i32..8).prop_map(|v| v as f32 * 0.5), 1..40),
        prop::collection::vec(Just(0.0f32), 1..40),
        prop::collection::vec(-3.0f32..3.0, 1..40).prop_map(|mut v| {
            v[0] = 12.0;
            v
        }),
    ]
}

fn family() -> impl Strategy<Value = Family> {
    prop::sample::select(Family::ALL.to_vec())
}

/// Whether the rule at `parameter` keeps `token`; `None` if the parameter is out of range.
fn keeps(logits: &[f32], family: Family, parameter: f64, token: u32) -> Option<bool> {
    family.rule(parameter).validate().ok()?;
    Some(
        Step::new(logits, &family.rule(parameter))
            .unwrap()
            .above_threshold(token),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn a_rule_rejects_a_token_exactly_past_its_boundary(l in logits(), token in 0usize..40, family in family()) {
        let token = (token % l.len()) as u32;
        let q = softmax(&l).unwrap();
        let boundary = family.boundary(&q, q[token as usize]).unwrap();
        let (toward_keep, toward_reject) = match boundary {
            Some(b) if family.rejects_more_upward() => (b * (1.0 - NUDGE), b * (1.0 + NUDGE)),
            Some(b) => (b * (1.0 + NUDGE), b),
            None => {
                // Never rejected: kept at the most rejecting valid parameters.
                for parameter in [1e-9, 0.5, 1.0 - 1e-9, 1.0] {
                    if let Some(kept) = keeps(&l, family, parameter, token) {
                        prop_assert!(kept, "{} = {parameter} rejects a token with no boundary", family.name());
                    }
                }
                return Ok(());
            }
        };
        let b = boundary.unwrap();
        prop_assert!(family.rejects(toward_reject, b) && !family.rejects(toward_keep, b));
        if let Some(kept) = keeps(&l, family, toward_keep, token) {
            prop_assert!(kept, "{} = {toward_keep} (boundary {b}) rejects q = {}", family.name(), q[token as usize]);
        }
        if let Some(kept) = keeps(&l, family, toward_reject, token) {
            prop_assert!(!kept, "{} = {toward_reject} (boundary {b}) keeps q = {}", family.name(), q[token as usize]);
        }
    }
}

#[test]
fn the_most_probable_token_has_no_boundary() {
    let q = softmax(&[2.0, 1.0, 0.0]).unwrap();
    for family in Family::ALL {
        assert_eq!(
            family.boundary(&q, q[0]).unwrap(),
            None,
            "{}",
            family.name()
        );
        assert!(family.boundary(&q, q[2]).unwrap().is_some());
    }
    assert!(Family::Epsilon.boundary(&q, f64::NAN).is_err());
    assert!(Family::Epsilon.boundary(&[], 0.1).is_err());
}

mod under_bat {
    use basis_aware::backends::SimplexBackend;
    use basis_aware::testing::case;
    use basis_aware::{decide, Outcome, Step};
    use basis_aware_tools::{bat_boundary, BatSearch, Family};
    use proptest::prelude::*;

    const NUDGE: f64 = 1e-6;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]

        #[test]
        fn bat_rejects_past_its_mapped_bracket(inst in case(12), token in 0usize..12) {
            let token = (token % inst.vocab) as u32;
            let basis = inst.basis();
            let mut backend = SimplexBackend::default();
            let step = Step::new(&inst.logits, &Family::Epsilon.rule(0.01)).unwrap();
            let found = bat_boundary(&step, &basis, token, &mut backend, &BatSearch::default()).unwrap();
            prop_assert!(found.kept_tau >= step.q()[token as usize]);
            for family in [Family::Epsilon, Family::Eta] {
                let (kept, rejected) = found.parameters(family, step.q()).unwrap();
                let mut decision = |parameter: f64| {
                    let at = Step::new(&inst.logits, &family.rule(parameter)).unwrap();
                    decide(&at, &basis, token, Some(&mut backend)).unwrap()
                };
                if let Some(k) = kept.filter(|&k| k > 0.0) {
                    prop_assert!(matches!(decision(k * (1.0 - NUDGE)), Outcome::Keep(_)));
                }
                // A boundary of 0 (q = 0) rejects at every valid parameter.
                let past = rejected.map(|r| (r * (1.0 + NUDGE)).max(1e-12));
                if let Some(r) = past.filter(|&r| r < 1.0) {
                    prop_assert!(matches!(decision(r), Outcome::Reject(_)));
                }
            }
        }
    }
}

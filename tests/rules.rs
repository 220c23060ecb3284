//! Threshold rules against direct definitions of the kept set, on distributions with ties, flat
//! and peaked shapes.

use basis_aware::{softmax, Rule, Step};
use proptest::prelude::*;

/// Logits with deliberate ties (values on a coarse grid), flat or peaked.
fn logits() -> impl Strategy<Value = Vec<f32>> {
    prop_oneof![
        prop::collection::vec((-8i32..8).prop_map(|v| v as f32 * 0.5), 1..40),
        prop::collection::vec(Just(0.0f32), 1..40),
        prop::collection::vec(-3.0f32..3.0, 1..40).prop_map(|mut v| {
            v[0] = 30.0;
            v
        }),
    ]
}

fn kept(step: &Step) -> Vec<usize> {
    (0..step.vocab())
        .filter(|&i| step.above_threshold(i as u32))
        .collect()
}

fn argmax_ties(q: &[f64]) -> Vec<usize> {
    let max = q.iter().copied().fold(0.0, f64::max);
    (0..q.len()).filter(|&i| q[i] == max).collect()
}

/// `{i : q_i >= t}`, or the most probable tokens when that is empty.
fn at_least(q: &[f64], t: f64) -> Vec<usize> {
    let set: Vec<usize> = (0..q.len()).filter(|&i| q[i] >= t).collect();
    if set.is_empty() {
        argmax_ties(q)
    } else {
        set
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn epsilon_keeps_tokens_at_or_above_epsilon(l in logits(), eps in 1e-4f64..0.9) {
        let q = softmax(&l).unwrap();
        let step = Step::new(&l, &Rule::Epsilon(eps)).unwrap();
        prop_assert_eq!(kept(&step), at_least(&q, eps));
    }

    #[test]
    fn eta_matches_its_entropy_formula(l in logits(), eta in 1e-4f64..0.9) {
        let q = softmax(&l).unwrap();
        let entropy: f64 = q.iter().filter(|&&v| v > 0.0).map(|&v| -v * v.ln()).sum();
        let t = eta.min(eta.sqrt() * (-entropy).exp());
        let step = Step::new(&l, &Rule::Eta(eta)).unwrap();
        prop_assert_eq!(kept(&step), at_least(&q, t));
    }

    #[test]
    fn top_p_keeps_the_smallest_prefix_reaching_p_plus_ties(l in logits(), p in 0.05f64..=1.0) {
        let q = softmax(&l).unwrap();
        let mut order: Vec<usize> = (0..q.len()).collect();
        order.sort_by(|&a, &b| q[b].total_cmp(&q[a]));
        // A token is in the nucleus when the mass strictly before it is below p.
        let mut before = 0.0;
        let mut last = q[order[0]];
        for &i in &order {
            if before >= p { break; }
            last = q[i];
            before += q[i];
        }
        let expected: Vec<usize> = (0..q.len()).filter(|&i| q[i] >= last).collect();
        let step = Step::new(&l, &Rule::TopP(p)).unwrap();
        prop_assert_eq!(kept(&step), expected);
    }

    #[test]
    fn top_k_keeps_the_k_largest_plus_ties(l in logits(), k in 1usize..50) {
        let q = softmax(&l).unwrap();
        let mut sorted = q.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let kth = sorted[(k - 1).min(sorted.len() - 1)];
        let expected: Vec<usize> = (0..q.len()).filter(|&i| q[i] >= kth).collect();
        let step = Step::new(&l, &Rule::TopK(k)).unwrap();
        prop_assert!(expected.len() >= k.min(q.len()));
        prop_assert_eq!(kept(&step), expected);
    }

    #[test]
    fn min_p_scales_the_largest_probability(l in logits(), m in 0.01f64..=1.0) {
        let q = softmax(&l).unwrap();
        let max = q.iter().copied().fold(0.0, f64::max);
        let step = Step::new(&l, &Rule::MinP(m)).unwrap();
        prop_assert_eq!(kept(&step), at_least(&q, m * max));
    }

    #[test]
    fn a_custom_rule_is_a_closure(l in logits(), t in 1e-3f64..0.9) {
        let q = softmax(&l).unwrap();
        let step = Step::new(&l, &move |_: &[f64]| t).unwrap();
        prop_assert_eq!(kept(&step), at_least(&q, t));
    }
}

#[test]
fn rules_parse_and_print_round_trip() {
    for text in [
        "eta=0.0009",
        "epsilon=0.0003",
        "top-p=0.9",
        "top-k=40",
        "min-p=0.05",
    ] {
        let rule: Rule = text.parse().unwrap();
        assert_eq!(rule.to_string(), text);
    }
}

#[test]
fn the_threshold_is_capped_so_sigma_stays_finite() {
    // One token holds all but 4e-18 of the mass: q_max rounds to 1.
    let step = Step::new(&[0.0, -40.0], &Rule::TopK(1)).unwrap();
    assert!(step.sigma().is_finite());
    assert_eq!(step.tau(), basis_aware::TAU_CAP);
    assert!(step.above_threshold(0) && !step.above_threshold(1));
}

#[test]
fn below_threshold_is_the_tail_of_the_probability_order() {
    let logits = [2.0, 1.0, 1.0, f32::NEG_INFINITY, 0.0, -1.0, 0.5];
    let step = Step::new(&logits, &Rule::TopK(2)).unwrap();
    let expected: Vec<u32> = step
        .by_probability()
        .iter()
        .copied()
        .filter(|&t| !step.above_threshold(t))
        .collect();
    assert_eq!(step.below_threshold(), &expected[..]);
    assert_eq!(step.below_threshold(), &[6, 4, 5]);
}

proptest! {
    /// The heap selection of the head agrees with the full sort, ties and masked tokens included.
    #[test]
    fn most_probable_is_the_head_of_the_probability_order(
        mut logits in logits(),
        masked in prop::collection::vec(any::<bool>(), 40),
        k in 0usize..45,
    ) {
        for (l, &m) in logits.iter_mut().zip(&masked).skip(1) {
            if m {
                *l = f32::NEG_INFINITY;
            }
        }
        let fresh = Step::new(&logits, &Rule::Epsilon(0.01)).unwrap();
        let head = fresh.most_probable(k);
        let order = fresh.by_probability();
        prop_assert_eq!(&head[..], &order[..k.min(order.len())]);
        prop_assert_eq!(fresh.most_probable(k), head);
    }
}

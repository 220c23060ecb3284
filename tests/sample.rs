//! The lazy sampler's law: draws must follow `q` renormalised over the kept set exactly, which a
//! chi-square test on many draws checks against the certified full mask; budgets and a missing
//! backend fall back to the threshold's decision and say so.
#![cfg(feature = "simplex")]

mod common;

use basis_aware::backends::SimplexBackend;
use basis_aware::{sample_step, truncate, Basis, KeepProof, Rule, SampleBudget, Step};
use common::gaussian_instance;

const DRAWS: usize = 20_000;

/// A step where both sides of the rule carry mass: tokens below `tau` that BAT keeps and tokens
/// it rejects, each group with at least 5% of the mass, so a sampler that ignores either
/// (threshold only, or no rejection) is far off.
fn instance() -> (Vec<f32>, Basis, Rule) {
    let inst = gaussian_instance(10, 2, 1, 1.0, 5);
    let basis = inst.basis(None).unwrap();
    (
        inst.step_logits(0).unwrap().to_vec(),
        basis,
        Rule::Epsilon(0.12),
    )
}

/// Wilson-Hilferty approximation of the chi-square quantile with `df` degrees of freedom at
/// standard-normal score `z`.
fn chi_square_quantile(df: f64, z: f64) -> f64 {
    let a = 2.0 / (9.0 * df);
    df * (1.0 - a + z * a.sqrt()).powi(3)
}

#[test]
fn draws_follow_q_renormalised_over_the_kept_set() {
    let (logits, basis, rule) = instance();
    let step = Step::new(&logits, &rule).unwrap();
    let mut backend = SimplexBackend::default();
    let mask = truncate(&logits, &basis, &rule, Some(&mut backend)).unwrap();
    assert_eq!(mask.counts.undecided, 0);
    let q = step.q();
    let mass =
        |pred: &dyn Fn(usize) -> bool| (0..q.len()).filter(|&j| pred(j)).map(|j| q[j]).sum::<f64>();
    let kept_below = mass(&|j| mask.outcomes[j].is_keep() && !step.above_threshold(j as u32));
    let rejected = mass(&|j| mask.outcomes[j].is_reject());
    assert!(
        kept_below > 0.05 && rejected > 0.05,
        "instance too easy: kept below tau {kept_below}, rejected {rejected}"
    );

    let kept_mass: f64 = mask.kept.iter().map(|&t| q[t as usize]).sum();
    let mut counts = vec![0usize; q.len()];
    let mut rng = common::rng(2024);
    let mut lp_draws = 0;
    for _ in 0..DRAWS {
        let draw = sample_step(
            &step,
            &basis,
            Some(&mut backend),
            SampleBudget::unlimited(),
            &mut rng,
        )
        .unwrap();
        assert!(!draw.budget_exhausted);
        assert_eq!(draw.below_threshold(), !step.above_threshold(draw.token));
        lp_draws += usize::from(draw.solves > 0);
        counts[draw.token as usize] += 1;
    }
    assert!(lp_draws > 0);
    let mut statistic = 0.0;
    for (j, &c) in counts.iter().enumerate() {
        if mask.outcomes[j].is_keep() {
            let expected = DRAWS as f64 * q[j] / kept_mass;
            statistic += (c as f64 - expected).powi(2) / expected;
        } else {
            assert_eq!(c, 0, "token {j} is not kept but was drawn {c} times");
        }
    }
    let df = (mask.kept.len() - 1) as f64;
    // z = 4.75: a false alarm once in a million runs; the wrong laws above land far beyond it.
    let critical = chi_square_quantile(df, 4.75);
    assert!(
        statistic < critical,
        "chi-square {statistic} over {df} df exceeds {critical}"
    );
}

#[test]
fn a_spent_budget_falls_back_to_the_threshold_and_says_so() {
    let (logits, basis, rule) = instance();
    let step = Step::new(&logits, &rule).unwrap();
    let mut rng = common::rng(5);
    let mut backend = SimplexBackend::default();
    let mut exhausted = 0;
    for _ in 0..500 {
        let draw = sample_step(
            &step,
            &basis,
            Some(&mut backend),
            SampleBudget::solves(0),
            &mut rng,
        )
        .unwrap();
        assert!(
            step.above_threshold(draw.token),
            "token {} drawn below tau without a solve",
            draw.token
        );
        assert_eq!(draw.proof, KeepProof::Threshold);
        assert_eq!(draw.solves, 0);
        assert_eq!(draw.budget_exhausted, !draw.refused.is_empty());
        exhausted += usize::from(draw.budget_exhausted);
    }
    assert!(
        exhausted > 0,
        "no draw fell below tau: the test says nothing"
    );
}

#[test]
fn without_a_backend_only_threshold_tokens_are_drawn() {
    let (logits, basis, rule) = instance();
    let step = Step::new(&logits, &rule).unwrap();
    let mut rng = common::rng(9);
    for _ in 0..500 {
        let draw = sample_step(&step, &basis, None, SampleBudget::unlimited(), &mut rng).unwrap();
        assert!(step.above_threshold(draw.token));
        assert!(!draw.below_threshold());
        assert!(!draw.budget_exhausted);
    }
}

#[test]
fn the_same_seed_gives_the_same_draws() {
    let (logits, basis, rule) = instance();
    let step = Step::new(&logits, &rule).unwrap();
    let run = |seed| {
        let mut rng = common::rng(seed);
        let mut backend = SimplexBackend::default();
        (0..200)
            .map(|_| {
                sample_step(
                    &step,
                    &basis,
                    Some(&mut backend),
                    SampleBudget::unlimited(),
                    &mut rng,
                )
                .unwrap()
                .token
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(3), run(3));
}

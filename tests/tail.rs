//! Bulk rejection of the tail: the chunked path must reject in bulk on a realistic step and agree
//! with per-token decisions, and a backend without set solves must lose nothing but speed.
#![cfg(feature = "simplex")]

mod common;

use basis_aware::backends::SimplexBackend;
use basis_aware::reduction::{EachToken, HeadKeeps, Reduction, TailChunks};
use basis_aware::verify::rejected_by;
use basis_aware::{
    decide, truncate, truncate_with, Answer, Backend, BackendError, Certificate, Rule, SetProblem,
    Step, TokenProblem,
};
use common::gaussian_instance;
use proptest::prelude::*;

/// The simplex backend with its set solves switched off.
struct NoSets(SimplexBackend);

impl Backend for NoSets {
    fn name(&self) -> &'static str {
        "simplex without sets"
    }

    fn solve(&mut self, problem: &TokenProblem<'_>) -> Result<Certificate, BackendError> {
        self.0.solve(problem)
    }

    /// The simplex's verified answer, which the ledger records without checking it again.
    fn answer(&mut self, problem: &TokenProblem<'_>) -> Result<Answer, BackendError> {
        self.0.answer(problem)
    }
}

#[test]
fn the_tail_goes_in_chunks_and_agrees_with_single_tokens() {
    let inst = gaussian_instance(3000, 24, 1, 12.0, 4);
    let basis = inst.basis(Some(6)).unwrap();
    let logits = inst.step_logits(0).unwrap();
    let rule = Rule::Eta(2e-3);
    let step = Step::new(logits, &rule).unwrap();
    // The chunked path alone: the default pipeline's bulk certificate would take most of this
    // tail first.
    let chunks = || -> Vec<Box<dyn Reduction>> {
        vec![
            Box::new(HeadKeeps),
            Box::new(TailChunks),
            Box::new(EachToken),
        ]
    };
    let chunked = truncate_with(
        logits,
        &basis,
        &rule,
        Some(&mut SimplexBackend::default()),
        &mut chunks(),
    )
    .unwrap();
    assert!(chunked.counts.chunk_rejected > 1000, "{:?}", chunked.counts);
    assert!(
        chunked.counts.set_solves * 4 < chunked.counts.chunk_rejected,
        "{:?}",
        chunked.counts
    );
    let single = truncate_with(
        logits,
        &basis,
        &rule,
        Some(&mut NoSets(SimplexBackend::default())),
        &mut chunks(),
    )
    .unwrap();
    assert_eq!(single.counts.chunk_rejected, 0);
    assert_eq!(single.counts.set_solves, 0);
    // The default pipeline, bulk certificate first, decides as the per-token solves.
    let default = truncate(logits, &basis, &rule, Some(&mut SimplexBackend::default())).unwrap();
    assert!(default.counts.bulk_rejected > 1000, "{:?}", default.counts);
    for (t, ((a, b), c)) in chunked
        .outcomes
        .iter()
        .zip(&single.outcomes)
        .zip(&default.outcomes)
        .enumerate()
    {
        let contradiction = (a.is_keep() && b.is_reject()) || (a.is_reject() && b.is_keep());
        assert!(!contradiction, "token {t}: chunked {a:?}, single {b:?}");
        let contradiction = (c.is_keep() && b.is_reject()) || (c.is_reject() && b.is_keep());
        assert!(!contradiction, "token {t}: default {c:?}, single {b:?}");
    }
    // Every tenth token rejected in a chunk, decided alone from scratch.
    let mut backend = SimplexBackend::default();
    for t in (0..3000u32).step_by(10) {
        if chunked.outcomes[t as usize].is_reject() && !step.above_threshold(t) {
            let alone = decide(&step, &basis, t, Some(&mut backend)).unwrap();
            assert!(
                !alone.is_keep(),
                "token {t} rejected in a chunk, kept alone"
            );
        }
    }
}

#[test]
fn a_set_solve_zeroes_the_whole_set_or_nothing_is_claimed() {
    let inst = gaussian_instance(1500, 16, 1, 10.0, 0);
    let basis = inst.basis(Some(4)).unwrap();
    let step = Step::new(inst.step_logits(0).unwrap(), &Rule::Eta(3e-3)).unwrap();
    // The least probable tokens holding a tenth of tau: zeroable at once.
    let mut light: Vec<u32> = step.by_probability().iter().rev().copied().collect();
    let mut mass = 0.0;
    light.retain(|&t| {
        mass += step.q()[t as usize];
        mass <= 0.1 * step.tau()
    });
    light.sort_unstable();
    assert!(light.len() > 100);
    let problem = SetProblem {
        step: &step,
        basis: &basis,
        tokens: &light,
    };
    let cert = SimplexBackend::default()
        .solve_set(&problem)
        .unwrap()
        .expect("a light tail is zeroable");
    assert_eq!(rejected_by(&step, &basis, &cert).unwrap(), light);
    // A set heavier than tau is never zeroable: nothing may be claimed for it.
    let heavy: Vec<u32> = {
        let mut h: Vec<u32> = step.by_probability()[..].to_vec();
        h.retain(|&t| !step.above_threshold(t));
        let mut mass = 0.0;
        h.retain(|&t| {
            let before = mass;
            mass += step.q()[t as usize];
            before <= step.tau()
        });
        h.sort_unstable();
        h
    };
    let mass: f64 = heavy.iter().map(|&t| step.q()[t as usize]).sum();
    assert!(mass > step.tau());
    let answer = SimplexBackend::default().solve_set(&SetProblem {
        step: &step,
        basis: &basis,
        tokens: &heavy,
    });
    if let Ok(Some(cert)) = answer {
        if let Ok(zeroed) = rejected_by(&step, &basis, &cert) {
            assert_ne!(zeroed, heavy, "a set heavier than tau was zeroed");
        }
    }
}

/// Seed of the deep-tail cases below unless `PROPTEST_RNG_SEED` is set: the property is a rate,
/// not an exact agreement, so a random draw could land on a rare step and turn CI red without a
/// change (it did: 16 of 308, seed in `tail.proptest-regressions`). Explore other seeds locally
/// with `PROPTEST_RNG_SEED`.
const DEEP_TAIL_SEED: u64 = 0xB47_7A11;

/// Most undecided tokens, as a fraction of those below `tau`, on one deep-tail step. The ones
/// left are decided below f64 resolution: with one token at `1 - 1e-13`, a token at `1e-30`
/// cannot be rejected even in an LP measuring changes in its own units (tried: infeasible with
/// boxes up to `1e14` units), and a keep would need the dominant token's `s_j` to vanish to
/// `1e-30`, far inside [`basis_aware::verify::KEEP_MARGIN_TOL`]. Measured with this test's
/// generator over 40 random cases: 1.3% undecided overall, at most 6.9% in one case.
const DEEP_TAIL_UNDECIDED: f64 = 0.1;

fn deep_tail_config() -> ProptestConfig {
    let mut config = ProptestConfig::with_cases(6);
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = proptest::test_runner::RngSeed::Fixed(DEEP_TAIL_SEED);
    }
    config
}

proptest! {
    #![proptest_config(deep_tail_config())]

    /// Steps whose `q` spans 20 to 200 orders of magnitude (one token holds nearly all the mass),
    /// full basis: a deep-tail token's mass is far below the solver's tolerance, so its reject
    /// point is rounding noise, and the polish must still turn it into a verified point. Before
    /// the fix, whole masks came back undecided (1,997 of 1,999 tokens below `tau` on
    /// `gaussian_instance(2000, 16, 2, 120.0, 1)`, step 1).
    ///
    /// These steps are also where the exact reject criterion's Gram test cannot certify (the
    /// slacks of the strongest absorbers span more orders of magnitude than f64 resolves), so
    /// their rejects rest on the square-system test (`verify/square.rs`); without it, 305 of 308
    /// tokens below `tau` were undecided on the first case.
    #[test]
    fn tokens_far_below_the_solver_tolerance_are_still_decided(
        seed in any::<u64>(),
        vocab in 300usize..900,
        dim in 4usize..16,
        scale in 40.0f64..200.0,
    ) {
        let inst = gaussian_instance(vocab, dim, 1, scale, seed);
        let basis = inst.basis(None).unwrap();
        let logits = inst.step_logits(0).unwrap();
        let mask = truncate(logits, &basis, &Rule::Eta(9e-4), Some(&mut SimplexBackend::default()))
            .unwrap();
        let below = vocab - mask.counts.threshold_kept;
        prop_assert!(
            mask.counts.undecided as f64 <= DEEP_TAIL_UNDECIDED * below as f64,
            "{} of {} tokens below tau undecided",
            mask.counts.undecided,
            below
        );
    }
}

//! The band reduction (head LPs with right-hand-side warm starts, Farkas keep duals, column
//! generation, the carried pool) against the independent oracle (good_lp + microlp) and the
//! exact rule decided token by token; its certificates are sparse, verified, and refused when
//! tampered with.
#![cfg(all(feature = "proptest", feature = "simplex"))]

mod common;

use basis_aware::backends::SimplexBackend;
use basis_aware::reduction::{BandLp, BulkRejects};
use basis_aware::testing::{cases, check_reduction};
use basis_aware::verify::{kept_by, rejected_by};
use basis_aware::{
    decide_tokens_with, Basis, KeepCertificate, KeepProof, MatrixView, Outcome, RejectCertificate,
    RejectProof, Rule, Step,
};
use common::{backends, min_mass};
use proptest::prelude::*;

/// Oracle minima `min p_i / q_i` within this of zero are marginal (microlp's own tolerance).
const MARGINAL: f64 = 1e-6;

/// Small tiers, so that small instances go through every tier, the screen and column
/// generation.
fn small_band() -> BandLp {
    BandLp::with_heads(3, 20, 4)
}

fn band_outcomes(step: &Step, basis: &Basis, band: &mut BandLp) -> Vec<Outcome> {
    let tokens: Vec<u32> = (0..step.vocab() as u32).collect();
    let mut backend = SimplexBackend::default();
    let (outcomes, _) = decide_tokens_with(
        step,
        basis,
        &tokens,
        Some(&mut backend),
        &mut [Box::new(band)],
    )
    .unwrap();
    outcomes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every decision the band reduction makes alone is the oracle's, with the default tiers
    /// (the whole vocabulary in the first head) and with small ones.
    #[test]
    fn band_decides_as_the_oracle(
        inst in cases(16..=64, 1..=4, 6.0),
        eta in 0.01f64..0.3,
        small in any::<bool>(),
    ) {
        let step = Step::new(&inst.logits, &Rule::Eta(eta)).unwrap();
        let basis = inst.basis();
        let mut band = if small { small_band() } else { BandLp::default() };
        let outcomes = band_outcomes(&step, &basis, &mut band);
        let (mut below, mut decided) = (0, 0);
        for (i, outcome) in outcomes.iter().enumerate() {
            let qi = step.q()[i];
            if step.above_threshold(i as u32) || qi == 0.0 {
                continue;
            }
            below += 1;
            if outcome.is_undecided() {
                continue;
            }
            decided += 1;
            let relative = min_mass(&step, &basis, i) / qi;
            if relative.abs() <= MARGINAL {
                continue;
            }
            prop_assert_eq!(outcome.is_keep(), relative > 0.0, "token {}: {:?}, min p_i/q_i = {:e}", i, outcome, relative);
        }
        // Not vacuous: the band settles most of what it is given (a lazy draw's few tokens go
        // the quick way, the head LP alone, and may be left to the backend).
        if below >= basis_aware::reduction::BAND_MIN_PENDING {
            prop_assert!(decided * 4 >= below * 3, "{decided} of {below} decided");
        }
    }

    /// After the bulk pass, the band (small tiers) and the per-token fallback decide as the
    /// exact rule on steps of a few hundred tokens.
    #[test]
    fn band_after_bulk_changes_no_decision(seed in 0u64..1000, eta in 0.002f64..0.05) {
        let (step, basis) = gaussian(300, 4, seed, eta);
        let mut oracle = backends().pop().unwrap();
        let mut band = small_band();
        let report = check_reduction(&mut band, &step, &basis, oracle.as_mut(), &mut SimplexBackend::default()).unwrap();
        prop_assert!(report.is_sound(), "{}", report);
    }
}

/// A Gaussian step over an explicit basis.
fn gaussian(vocab: usize, dim: usize, seed: u64, eta: f64) -> (Step, Basis) {
    let mut rng = common::rng(seed);
    let scale = 1.0 / (dim as f64).sqrt();
    let b: Vec<f32> = (0..vocab * dim)
        .map(|_| (common::synthetic::gaussian(&mut rng) * scale) as f32)
        .collect();
    let h: Vec<f64> = (0..dim)
        .map(|_| common::synthetic::gaussian(&mut rng) * 5.0)
        .collect();
    let logits: Vec<f32> = b
        .chunks_exact(dim)
        .map(|row| {
            row.iter()
                .zip(&h)
                .map(|(&x, y)| f64::from(x) * y)
                .sum::<f64>() as f32
        })
        .collect();
    let basis = Basis::explicit(MatrixView::new(&b, vocab, dim).unwrap()).unwrap();
    (Step::new(&logits, &Rule::Eta(eta)).unwrap(), basis)
}

/// The band's certificates on a step of 3000 tokens: every point changes only head tokens and
/// the token itself (so it verifies in `O(h m)`), and each is refused once tampered with.
#[test]
fn band_certificates_are_sparse_and_tamper_evident() {
    let (step, basis) = gaussian(3000, 5, 3, 9e-4);
    let mut band = BandLp::with_heads(16, 256, 16);
    let tokens: Vec<u32> = (0..3000).collect();
    let mut backend = SimplexBackend::default();
    let (outcomes, _) = decide_tokens_with(
        &step,
        &basis,
        &tokens,
        Some(&mut backend),
        &mut [Box::new(BulkRejects::default()), Box::new(&mut band)],
    )
    .unwrap();
    let report = band.report;
    assert!(
        report.engines.points.iter().sum::<usize>() > 0,
        "{report:?}"
    );
    assert!(report.engines.duals.iter().sum::<usize>() > 0, "{report:?}");
    let (mut points, mut duals) = (0, 0);
    for (i, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Outcome::Reject(RejectProof::Point(p)) => {
                points += 1;
                assert!(
                    p.changes.len() <= 256 + 16 * 8 + 1,
                    "{} changes",
                    p.changes.len()
                );
                assert!(rejected_by(&step, &basis, p).unwrap().contains(&(i as u32)));
                // The token's own change halved: it is no longer zeroed.
                let mut tampered: RejectCertificate = (**p).clone();
                let own = tampered
                    .changes
                    .iter()
                    .position(|&(t, _)| t == i as u32)
                    .expect("the point changes its token");
                tampered.changes[own].1 *= 0.5;
                assert!(
                    !rejected_by(&step, &basis, &tampered).is_ok_and(|z| z.contains(&(i as u32)))
                );
                // An absorber pushed out of its box: refused.
                let mut tampered: RejectCertificate = (**p).clone();
                let k = tampered
                    .changes
                    .iter()
                    .position(|&(t, d)| t != i as u32 && d != 0.0)
                    .expect("a point moves some absorber");
                let (t, _) = tampered.changes[k];
                tampered.changes[k].1 = -2.0 * step.q()[t as usize];
                assert!(
                    rejected_by(&step, &basis, &tampered).is_err(),
                    "token {i}: an absorber out of its box still verifies"
                );
            }
            Outcome::Keep(KeepProof::Dual(y)) => {
                duals += 1;
                assert!(kept_by(&step, &basis, y).unwrap().contains(&(i as u32)));
                let tampered = KeepCertificate {
                    y: y.y.iter().map(|v| -v).collect(),
                };
                assert!(!kept_by(&step, &basis, &tampered)
                    .unwrap()
                    .contains(&(i as u32)));
            }
            _ => {}
        }
    }
    assert!(points > 0 && duals > 0, "{points} points, {duals} duals");
}

/// A lazy draw's token alone goes the quick way (the head LP, one keep check): most of the
/// tokens just below `tau` of a 3000-token step are decided by the band without a backend call,
/// each as the oracle decides it.
#[test]
fn a_lone_token_goes_the_quick_way() {
    let (step, basis) = gaussian(3000, 4, 5, 9e-4);
    let below: Vec<u32> = step.below_threshold().iter().copied().take(24).collect();
    let mut decided = 0;
    for &t in &below {
        let mut band = BandLp::default();
        let mut backend = SimplexBackend::default();
        let (outcomes, counts) = decide_tokens_with(
            &step,
            &basis,
            &[t],
            Some(&mut backend),
            &mut [Box::new(&mut band)],
        )
        .unwrap();
        assert_eq!(band.report.engines.asked, 1);
        assert_eq!(counts.solves, 1, "one head LP, no backend call");
        if outcomes[0].is_undecided() {
            continue;
        }
        decided += 1;
        let relative = min_mass(&step, &basis, t as usize) / step.q()[t as usize];
        if relative.abs() > MARGINAL {
            assert_eq!(
                outcomes[0].is_keep(),
                relative > 0.0,
                "token {t}: {:?}",
                outcomes[0]
            );
        }
    }
    assert!(
        decided * 2 >= below.len(),
        "{decided} of {} decided",
        below.len()
    );
}

/// A band reduction carried from one step to the next (its pool of duals) decides as a fresh
/// one, and its pool is tried.
#[test]
fn the_carried_pool_changes_no_decision() {
    let (step, basis) = gaussian(2000, 4, 9, 9e-4);
    let other = step.at_threshold(3e-4).unwrap();
    let mut carried = BandLp::with_heads(16, 256, basis_aware::reduction::BAND_GROW);
    let first = band_outcomes(&step, &basis, &mut carried);
    let warm = band_outcomes(&other, &basis, &mut carried);
    assert!(carried.report.pool_tried > 0, "{:?}", carried.report);
    let cold = band_outcomes(
        &other,
        &basis,
        &mut BandLp::with_heads(16, 256, basis_aware::reduction::BAND_GROW),
    );
    assert!(first.iter().any(Outcome::is_keep));
    for (i, (w, c)) in warm.iter().zip(&cold).enumerate() {
        if w.is_undecided() || c.is_undecided() {
            continue;
        }
        assert_eq!(w.is_keep(), c.is_keep(), "token {i}: {w:?} vs {c:?}");
    }
}

/// The band never decides without a backend (the caller asked for the threshold alone) and
/// leaves everything to the next reduction past a spent deadline.
#[test]
fn no_backend_no_band() {
    let (step, basis) = gaussian(300, 4, 1, 0.01);
    let tokens: Vec<u32> = (0..300).collect();
    let mut band = BandLp::default();
    let (outcomes, counts) =
        decide_tokens_with(&step, &basis, &tokens, None, &mut [Box::new(&mut band)]).unwrap();
    assert_eq!(band.report.engines.asked, 0);
    assert_eq!(counts.dual_kept + counts.point_rejected, 0);
    assert!(outcomes
        .iter()
        .enumerate()
        .all(|(i, o)| step.above_threshold(i as u32) || step.q()[i] == 0.0 || o.is_undecided()));
}

/// The band runs its chunks side by side on the caller's rayon pool; what it decides, and with
/// which certificate, is the same at one, two and three threads.
#[test]
fn band_is_the_same_at_any_thread_count() {
    let (step, basis) = gaussian(4000, 4, 21, 3e-4);
    let tokens: Vec<u32> = (0..4000).collect();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut band = BandLp::with_heads(16, 256, 16);
            let mut backend = SimplexBackend::default();
            let (outcomes, counts) = decide_tokens_with(
                &step,
                &basis,
                &tokens,
                Some(&mut backend),
                &mut [Box::new(BulkRejects::default()), Box::new(&mut band)],
            )
            .unwrap();
            (outcomes, counts, band.report.waves)
        })
    };
    let (one, counts, waves) = run(1);
    assert!(
        waves > 2,
        "{waves} waves: the chunks never ran side by side"
    );
    assert!(counts.dual_kept + counts.point_rejected > 0, "{counts:?}");
    for threads in [2, 3] {
        let (other, other_counts, _) = run(threads);
        assert_eq!(counts, other_counts, "{threads} threads");
        assert!(one == other, "{threads} threads: outcomes differ");
    }
}

//! The full-basis engine (`src/engine/full.rs`: one head LP kept from token to token of a step,
//! pooled keep duals) against the independent oracle (good_lp + microlp), on small instances
//! whose basis is wider than `BULK_MAX_ROWS` rows, so that the simplex backend hands its tokens
//! to the engine: generic Gaussian steps, and a degenerate one (duplicate rows with tied logits,
//! a rank-deficient basis).
#![cfg(feature = "simplex")]

mod common;

use basis_aware::backends::SimplexBackend;
use basis_aware::reduction::BULK_MAX_ROWS;
use basis_aware::{decide, truncate, Basis, Decision, MatrixView, Outcome, Rule, Step};
use common::{gaussian_instance, min_mass};

/// Oracle minima `min p_i / q_i` within this of zero are marginal (microlp's own tolerance).
const MARGINAL: f64 = 1e-6;

/// Columns of the test bases: just above what the band engine takes.
const DIM: usize = BULK_MAX_ROWS + 1;

/// What the engine decided on one step, compared token by token with the oracle.
#[derive(Debug, Default)]
struct Tally {
    keeps: usize,
    rejects: usize,
    undecided: usize,
    /// Tokens the full mask rejected by chunk points.
    chunk_rejects: usize,
}

/// The rule of every step here.
const ETA: f64 = 0.02;

/// Decides the `count` most probable tokens below `tau` through one backend, in that order (as
/// a mask asks them, so the head LP and the pooled duals carry from token to token), and checks
/// each decision against the oracle's `min p_i`, and the full mask's (which zeroes the tail in
/// chunks through the engine's set points) where it decided the token.
fn against_oracle(step: &Step, basis: &Basis, logits: Option<&[f32]>, count: usize) -> Tally {
    let mut backend = SimplexBackend::default();
    let mut tally = Tally::default();
    let mask = logits.map(|logits| {
        let mask = truncate(
            logits,
            basis,
            &Rule::Eta(ETA),
            Some(&mut SimplexBackend::default()),
        )
        .unwrap();
        tally.chunk_rejects = mask.counts.chunk_rejected;
        mask
    });
    for &i in step.below_threshold().iter().take(count) {
        let outcome = decide(step, basis, i, Some(&mut backend)).unwrap();
        let relative = min_mass(step, basis, i as usize) / step.q()[i as usize];
        if let Some(mask) = &mask {
            let in_mask = mask.outcomes[i as usize];
            if relative.abs() > MARGINAL && !matches!(in_mask, Decision::Undecided(_)) {
                assert_eq!(
                    mask.kept.binary_search(&i).is_ok(),
                    relative > 0.0,
                    "token {i} in the mask: {in_mask:?}, oracle min p_i/q_i = {relative:e}"
                );
            }
        }
        match outcome {
            Outcome::Undecided(_) => {
                tally.undecided += 1;
                continue;
            }
            Outcome::Keep(_) => tally.keeps += 1,
            Outcome::Reject(_) => tally.rejects += 1,
        }
        if relative.abs() > MARGINAL {
            assert_eq!(
                outcome.is_keep(),
                relative > 0.0,
                "token {i}: {outcome:?}, oracle min p_i/q_i = {relative:e}"
            );
        }
    }
    let stats = backend.full_basis_stats().expect("the engine ran");
    assert!(stats.asked > 0, "{stats:?}");
    tally
}

#[test]
fn full_engine_decides_as_the_oracle() {
    let (mut keeps, mut rejects, mut pooled, mut chunks) = (0, 0, 0, 0);
    for (vocab, scale, seed) in [(160, 20.0, 1), (200, 40.0, 2)] {
        let inst = gaussian_instance(vocab, DIM, 1, scale, seed);
        let basis = inst.basis(None).unwrap();
        let logits = inst.step_logits(0).unwrap();
        let step = Step::new(logits, &Rule::Eta(ETA)).unwrap();
        let tally = against_oracle(&step, &basis, Some(logits), usize::MAX);
        assert_eq!(tally.undecided, 0, "{tally:?}");
        keeps += tally.keeps;
        rejects += tally.rejects;
        chunks += tally.chunk_rejects;
        let mut backend = SimplexBackend::default();
        for &i in step.below_threshold() {
            decide(&step, &basis, i, Some(&mut backend)).unwrap();
        }
        pooled += backend.full_basis_stats().unwrap().pooled;
    }
    // Not vacuous: both kinds of certificate came from the engine, and pooled duals answered
    // some tokens without an LP.
    assert!(keeps > 0 && rejects > 0, "keeps {keeps}, rejects {rejects}");
    assert!(pooled > 0);
    assert!(chunks > 0, "no chunk point");
}

/// Tokens `2k` and `2k + 1` (`k < pairs`) of `b` (row-major, `DIM` wide) get the same row.
fn duplicate_pairs(b: &mut [f32], pairs: usize) {
    for k in 0..pairs {
        let (first, second) = b[2 * k * DIM..(2 * k + 2) * DIM].split_at_mut(DIM);
        second.copy_from_slice(first);
    }
}

/// The logits `b h` of the rows of `b`.
fn logits_of(b: &[f32], h: &[f64]) -> Vec<f32> {
    b.chunks_exact(DIM)
        .map(|row| {
            row.iter()
                .zip(h)
                .map(|(&x, &y)| f64::from(x) * y)
                .sum::<f64>() as f32
        })
        .collect()
}

#[test]
fn full_engine_on_degenerate_structure_never_contradicts_the_oracle() {
    let mut rng = common::rng(5);
    let mut gauss = |n: usize, scale: f64| -> Vec<f64> {
        (0..n)
            .map(|_| scale * common::synthetic::gaussian(&mut rng))
            .collect()
    };
    let h = gauss(DIM, 3.0);
    // Duplicate rows with tied logits in a full-rank Gaussian basis: every token is decided.
    let vocab = 160;
    let mut b: Vec<f32> = gauss(vocab * DIM, 1.0 / (DIM as f64).sqrt())
        .into_iter()
        .map(|x| x as f32)
        .collect();
    duplicate_pairs(&mut b, 20);
    let basis = Basis::explicit(MatrixView::new(&b, vocab, DIM).unwrap()).unwrap();
    let logits = logits_of(&b, &h);
    let step = Step::new(&logits, &Rule::Eta(ETA)).unwrap();
    let tally = against_oracle(&step, &basis, Some(&logits), usize::MAX);
    assert!(tally.keeps > 0 && tally.rejects > 0, "{tally:?}");
    // B = G C, every column a combination of 12 (rank-deficient `[B 1]`: the exact reject
    // criterion refuses its points, so tokens may stay undecided, never wrongly decided), with
    // duplicate rows too. Only the most probable tokens: each refused one costs the backend's
    // column generation too.
    let (vocab, rank) = (100, 12);
    let g = gauss(vocab * rank, 1.0);
    let c = gauss(rank * DIM, 1.0 / (DIM as f64).sqrt());
    let mut b = vec![0.0f32; vocab * DIM];
    for j in 0..vocab {
        for k in 0..DIM {
            b[j * DIM + k] = (0..rank)
                .map(|r| g[j * rank + r] * c[r * DIM + k])
                .sum::<f64>() as f32;
        }
    }
    duplicate_pairs(&mut b, 10);
    let basis = Basis::explicit(MatrixView::new(&b, vocab, DIM).unwrap()).unwrap();
    let logits = logits_of(&b, &h);
    let step = Step::new(&logits, &Rule::Eta(ETA)).unwrap();
    let tally = against_oracle(&step, &basis, None, 12);
    assert!(tally.keeps > 0, "{tally:?}");
}

//! The bulk reject certificate against the independent oracle (good_lp + microlp) and against
//! the point it stands for: every token it rejects has a point of `P_i` that the point verifier
//! accepts, rebuilt here from the least-squares representation with nalgebra. Tampered radii
//! and degenerate bases are refused or stay sound.
#![cfg(feature = "proptest")]

mod common;

use basis_aware::testing::cases;
use basis_aware::verify::{rejected_by, rejected_by_bulk, BulkError, CertificateError};
use basis_aware::{
    decide_tokens, Basis, BulkRejectCertificate, MatrixView, Outcome, RejectCertificate, Rule, Step,
};
use common::{backends, min_mass};
use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;

/// Oracle minima `min p_i / q_i` within this of zero are marginal (microlp's own tolerance).
const MARGINAL: f64 = 1e-6;

fn bulk(radius: f64) -> BulkRejectCertificate {
    BulkRejectCertificate { radius }
}

/// The point of `P_i` behind a bulk reject, rebuilt independently: the weights of the rule, `M`,
/// `u = (w / q) A M^{-1} sigma q_i a_i` and `x'_j = u_j / (sigma - u_i)`, `x'_i = -1`.
fn rebuilt_point(step: &Step, basis: &Basis, radius: f64, i: usize) -> RejectCertificate {
    let (q, m) = (step.q(), basis.dim());
    let a = |j: usize| {
        let mut v: Vec<f64> = basis
            .row(j)
            .unwrap()
            .iter()
            .map(|&b| f64::from(b))
            .collect();
        v.push(1.0);
        DVector::from_vec(v)
    };
    let moment = |w: &dyn Fn(usize) -> f64| {
        let mut total = DMatrix::<f64>::zeros(m + 1, m + 1);
        for j in 0..q.len() {
            let aj = a(j);
            total += w(j) * &aj * aj.transpose();
        }
        total
    };
    let absorber = |j: usize| q[j] >= basis_aware::verify::BULK_MIN_ABSORBER_MASS;
    let m0 = moment(&|j| if absorber(j) { q[j] } else { 0.0 });
    let m0_inverse = m0.try_inverse().expect("the verifier factored it");
    let weights: Vec<f64> = (0..q.len())
        .map(|j| {
            if !absorber(j) {
                return 0.0;
            }
            let rho = (a(j).transpose() * &m0_inverse * a(j))[(0, 0)].sqrt();
            q[j] * if rho > radius { radius / rho } else { 1.0 }
        })
        .collect();
    let mm = moment(&|j| weights[j]);
    let z = mm
        .lu()
        .solve(&(step.sigma() * q[i] * a(i)))
        .expect("the verifier certified it positive definite");
    let u: Vec<f64> = (0..q.len())
        .map(|j| {
            if weights[j] > 0.0 {
                weights[j] / q[j] * a(j).dot(&z)
            } else {
                0.0
            }
        })
        .collect();
    let scale = step.sigma() - u[i];
    let changes = (0..q.len())
        .filter(|&j| q[j] > 0.0)
        .map(|j| {
            let x = if j == i { -1.0 } else { u[j] / scale };
            (j as u32, if j == i { -q[j] } else { q[j] * x })
        })
        .collect();
    RejectCertificate { changes }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// No token the bulk certificate rejects is kept by the oracle, at any radius, on every
    /// degeneracy of the generators; a refused certificate rejects nothing.
    #[test]
    fn bulk_rejects_only_what_the_oracle_rejects(
        inst in cases(8..=48, 1..=4, 6.0),
        eta in 0.01f64..0.3,
        radius in prop_oneof![Just(3.0), 0.05f64..50.0],
    ) {
        let step = Step::new(&inst.logits, &Rule::Eta(eta)).unwrap();
        let basis = inst.basis();
        let Ok(rejected) = rejected_by_bulk(&step, &basis, &bulk(radius)) else {
            return Ok(());
        };
        for &i in &rejected {
            let i = i as usize;
            let qi = step.q()[i];
            prop_assert!(qi > 0.0 && qi < step.tau());
            let relative = min_mass(&step, &basis, i) / qi;
            prop_assert!(relative <= MARGINAL, "token {i}: bulk reject, oracle min p_i/q_i = {relative:e}");
        }
    }

    /// Every bulk reject stands for a point of `P_i` that the point verifier accepts.
    #[test]
    fn every_bulk_reject_has_a_verified_point(
        inst in cases(8..=48, 1..=4, 6.0),
        eta in 0.01f64..0.3,
    ) {
        let step = Step::new(&inst.logits, &Rule::Eta(eta)).unwrap();
        let basis = inst.basis();
        let Ok(rejected) = rejected_by_bulk(&step, &basis, &bulk(3.0)) else {
            return Ok(());
        };
        for &i in &rejected {
            let point = rebuilt_point(&step, &basis, 3.0, i as usize);
            let zeroed = rejected_by(&step, &basis, &point);
            if zeroed.as_ref().is_ok_and(|z| z.contains(&i)) {
                continue;
            }
            // On rank-deficient structure the exact reject criterion may not certify a rebuilt
            // floating-point point (no absorber set spans the rows); the reject must then stand
            // on the independent LP.
            let capacity_zero = matches!(zeroed, Err(CertificateError::NotAbsorbed { capacity, .. }) if capacity == 0.0);
            let relative = min_mass(&step, &basis, i as usize) / step.q()[i as usize];
            prop_assert!(
                capacity_zero && relative <= MARGINAL,
                "token {i}: {zeroed:?}, oracle min p_i/q_i = {relative:e}"
            );
        }
    }

    /// The default pipeline (bulk first) decides as the oracle on steps large enough for the
    /// bulk pass to run.
    #[test]
    fn default_pipeline_with_bulk_decides_as_the_oracle(
        inst in cases(64..=96, 1..=3, 8.0),
        eta in 0.01f64..0.2,
    ) {
        let step = Step::new(&inst.logits, &Rule::Eta(eta)).unwrap();
        let basis = inst.basis();
        let tokens: Vec<u32> = (0..inst.vocab as u32).collect();
        for mut backend in backends() {
            let (outcomes, _) = decide_tokens(&step, &basis, &tokens, Some(backend.as_mut())).unwrap();
            for (i, outcome) in outcomes.iter().enumerate() {
                let qi = step.q()[i];
                if step.above_threshold(i as u32) || qi == 0.0 || outcome.is_undecided() {
                    continue;
                }
                let relative = min_mass(&step, &basis, i) / qi;
                if relative.abs() <= MARGINAL {
                    continue;
                }
                prop_assert_eq!(outcome.is_keep(), relative > 0.0, "token {}: {:?}, min p_i/q_i = {:e}", i, outcome, relative);
            }
        }
    }
}

/// A peaked Gaussian step, large enough that the closed form has a tail to reject.
fn peaked(vocab: usize, dim: usize, seed: u64) -> (Step, Basis) {
    let mut rng = common::rng(seed);
    let scale = 1.0 / (dim as f64).sqrt();
    let b: Vec<f32> = (0..vocab * dim)
        .map(|_| (common::synthetic::gaussian(&mut rng) * scale) as f32)
        .collect();
    let h: Vec<f64> = (0..dim)
        .map(|_| common::synthetic::gaussian(&mut rng) * 6.0)
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
    (Step::new(&logits, &Rule::Eta(9e-4)).unwrap(), basis)
}

#[test]
fn bulk_rejects_most_of_a_peaked_tail() {
    let (step, basis) = peaked(4000, 6, 11);
    let rejected = rejected_by_bulk(&step, &basis, &bulk(3.0)).unwrap();
    let below = step.below_threshold().len();
    assert!(
        rejected.len() * 2 > below,
        "{} of {below} tokens below tau rejected",
        rejected.len()
    );
}

#[test]
fn the_pipeline_counts_bulk_rejects() {
    let (step, basis) = peaked(2000, 4, 5);
    let tokens: Vec<u32> = (0..2000).collect();
    let (outcomes, counts) = decide_tokens(&step, &basis, &tokens, None).unwrap();
    assert!(counts.bulk_rejected > 0, "{counts:?}");
    let bulk = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Reject(basis_aware::RejectProof::Bulk(_))))
        .count();
    assert_eq!(bulk, counts.bulk_rejected);
}

#[test]
fn invalid_radii_are_refused() {
    let (step, basis) = peaked(200, 3, 1);
    for radius in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = rejected_by_bulk(&step, &basis, &bulk(radius)).unwrap_err();
        assert!(matches!(err, BulkError::Radius(_)), "{radius}: {err}");
    }
}

#[test]
fn a_basis_of_another_vocabulary_is_refused() {
    let (step, _) = peaked(200, 3, 1);
    let (_, other) = peaked(100, 3, 1);
    let err = rejected_by_bulk(&step, &other, &bulk(3.0)).unwrap_err();
    assert!(matches!(err, BulkError::VocabMismatch { .. }), "{err}");
}

/// Duplicate columns make `M` exactly singular: the certificate must be refused, not used.
#[test]
fn a_singular_moment_is_refused() {
    let (vocab, dim) = (300, 3);
    let (step, basis) = peaked(vocab, dim, 2);
    let mut b = Vec::with_capacity(vocab * dim);
    for j in 0..vocab {
        let first = basis.row(j).unwrap()[0];
        b.extend([first, first * 2.0, first * -0.5]);
    }
    let singular = Basis::explicit(MatrixView::new(&b, vocab, dim).unwrap()).unwrap();
    let err = rejected_by_bulk(&step, &singular, &bulk(3.0)).unwrap_err();
    assert!(
        matches!(
            err,
            BulkError::NotPositiveDefinite | BulkError::Conditioning(_)
        ),
        "{err}"
    );
}

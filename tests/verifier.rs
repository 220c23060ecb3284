//! The verifier on certificates whose validity is known in closed form, including both sides of
//! each tolerance. With a zero basis the only constraint is `sum p = 1`, so `P_i` is non-empty
//! exactly when `q_i <= tau`.

use basis_aware::verify::{
    kept_by, rejected_by, CertificateError, KEEP_MARGIN_TOL, REJECT_RESIDUAL_TOL,
};
use basis_aware::{Basis, KeepCertificate, MatrixView, RejectCertificate, Step};

fn zero_basis(vocab: usize) -> Basis {
    Basis::explicit(MatrixView::new(&vec![0.0; vocab], vocab, 1).unwrap()).unwrap()
}

fn step(q: &[f64], tau: f64) -> Step {
    Step::from_probabilities(q.to_vec(), tau).unwrap()
}

/// `p_j = q_j / (1 - q_i)` off `i`, zero at `i`: in `P_i` whenever `q_i <= tau`.
fn rescaled_without(q: &[f64], i: usize) -> RejectCertificate {
    let changes = (0..q.len())
        .map(|j| {
            let d = if j == i {
                -q[j]
            } else {
                q[j] * q[i] / (1.0 - q[i])
            };
            (j as u32, d)
        })
        .collect();
    RejectCertificate { changes }
}

const Q: [f64; 5] = [0.5, 0.3, 0.15, 0.04, 0.01];

#[test]
fn a_feasible_point_rejects_exactly_the_tokens_it_zeroes() {
    let s = step(&Q, 0.05);
    for i in [3, 4] {
        let zeroed = rejected_by(&s, &zero_basis(5), &rescaled_without(&Q, i)).unwrap();
        assert_eq!(zeroed, vec![i as u32]);
    }
}

#[test]
fn a_point_outside_its_box_is_refused() {
    // Zeroing a token above the threshold needs p_j > sigma q_j elsewhere.
    let s = step(&Q, 0.05);
    let err = rejected_by(&s, &zero_basis(5), &rescaled_without(&Q, 2)).unwrap_err();
    assert!(matches!(err, CertificateError::OutOfBox { .. }), "{err}");
}

#[test]
fn a_perturbed_point_is_refused() {
    let s = step(&Q, 0.05);
    let mut cert = rescaled_without(&Q, 4);
    cert.changes[0].1 *= 1.0 + 1e-6;
    let err = rejected_by(&s, &zero_basis(5), &cert).unwrap_err();
    assert!(matches!(err, CertificateError::Residual { .. }), "{err}");
}

#[test]
fn malformed_points_are_refused() {
    let s = step(&Q, 0.05);
    let b = zero_basis(5);
    let unordered = RejectCertificate {
        changes: vec![(3, 0.0), (1, 0.0)],
    };
    assert_eq!(
        rejected_by(&s, &b, &unordered),
        Err(CertificateError::Unordered(1))
    );
    let outside = RejectCertificate {
        changes: vec![(9, 0.0)],
    };
    assert_eq!(
        rejected_by(&s, &b, &outside),
        Err(CertificateError::TokenOutOfRange(9))
    );
    let nan = RejectCertificate {
        changes: vec![(1, f64::NAN)],
    };
    assert_eq!(
        rejected_by(&s, &b, &nan),
        Err(CertificateError::NonFinite(0))
    );
}

#[test]
fn the_residual_tolerance_holds_on_both_sides_of_its_boundary() {
    // Move mass x from token 0 to token 1 with relative error e: residual x e, scale x (2 + e).
    let s = step(&Q, 0.05);
    let x = 1e-3;
    let point = |relative: f64| {
        let e = 2.0 * relative / (1.0 - relative);
        RejectCertificate {
            changes: vec![(0, -x), (1, x * (1.0 + e))],
        }
    };
    assert!(rejected_by(&s, &zero_basis(5), &point(0.5 * REJECT_RESIDUAL_TOL)).is_ok());
    assert!(rejected_by(&s, &zero_basis(5), &point(2.0 * REJECT_RESIDUAL_TOL)).is_err());
}

#[test]
fn the_sum_row_dual_keeps_exactly_the_tokens_above_tau() {
    let s = step(&Q, 0.05);
    let y = KeepCertificate { y: vec![0.0, 1.0] };
    assert_eq!(kept_by(&s, &zero_basis(5), &y).unwrap(), vec![0, 1, 2]);
}

#[test]
fn a_flipped_dual_keeps_nothing() {
    let s = step(&Q, 0.05);
    let y = KeepCertificate { y: vec![0.0, -1.0] };
    assert!(kept_by(&s, &zero_basis(5), &y).unwrap().is_empty());
}

#[test]
fn the_keep_margin_holds_on_both_sides_of_its_boundary() {
    // With y = (0, 1): sigma q_i - kappa = kappa * delta for q_i = tau (1 + delta), against the
    // scale sigma q_i + max(kappa, 1).
    let tau: f64 = 0.05;
    let (sigma, kappa) = (1.0 / (1.0 - tau), 1.0 / (1.0 - tau) - 1.0);
    let decided_at = |factor: f64| {
        let scale = sigma * tau + kappa.max(1.0);
        let delta = factor * KEEP_MARGIN_TOL * scale / kappa;
        let qi = tau * (1.0 + delta);
        let q = [0.7, 0.3 - qi, qi];
        let s = step(&q, tau);
        kept_by(&s, &zero_basis(3), &KeepCertificate { y: vec![0.0, 1.0] })
            .unwrap()
            .contains(&2)
    };
    assert!(decided_at(4.0));
    assert!(!decided_at(0.25));
}

#[test]
fn malformed_duals_are_refused() {
    let s = step(&Q, 0.05);
    let b = zero_basis(5);
    let short = KeepCertificate { y: vec![1.0] };
    assert!(matches!(
        kept_by(&s, &b, &short),
        Err(CertificateError::DualLength { .. })
    ));
    let inf = KeepCertificate {
        y: vec![0.0, f64::INFINITY],
    };
    assert_eq!(kept_by(&s, &b, &inf), Err(CertificateError::NonFinite(1)));
}

#[test]
fn a_verified_dual_is_remembered_only_for_its_own_step_and_basis() {
    // The verifier remembers the last dual it checked on each thread; interleaved checks of one
    // vector on different steps and bases must each get their own answer, which a fresh thread
    // (with nothing remembered) computes.
    let steps = [step(&Q, 0.05), step(&Q, 0.2)];
    let column: Vec<f32> = vec![3.0, -1.0, 0.5, 2.0, -4.0];
    let bases = [
        zero_basis(5),
        Basis::explicit(MatrixView::new(&column, 5, 1).unwrap()).unwrap(),
    ];
    let y = KeepCertificate { y: vec![0.3, 1.0] };
    let fresh = |s: usize, b: usize| {
        let (st, ba, y) = (steps[s].clone(), bases[b].clone(), y.clone());
        std::thread::spawn(move || kept_by(&st, &ba, &y).unwrap())
            .join()
            .unwrap()
    };
    let expected: Vec<Vec<u32>> = [(0, 0), (1, 0), (0, 1), (1, 1)]
        .iter()
        .map(|&(s, b)| fresh(s, b))
        .collect();
    assert_ne!(expected[0], expected[1]);
    assert_ne!(expected[1], expected[3]);
    for &(s, b, e) in &[
        (0, 0, 0),
        (1, 0, 1),
        (1, 0, 1),
        (0, 1, 2),
        (1, 1, 3),
        (0, 0, 0),
    ] {
        assert_eq!(kept_by(&steps[s], &bases[b], &y).unwrap(), expected[e]);
    }
}

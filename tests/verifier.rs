//! The verifier on certificates whose validity is known in closed form, including both sides of
//! each boundary. With a zero basis the only constraint is `sum p = 1`, so `P_i` is non-empty
//! exactly when `q_i <= tau`.

use basis_aware::reduction::{EachToken, Reduction};
use basis_aware::verify::{
    exact_point_exists, keep_margin, kept_by, rejected_by, Absorber, CertificateError, Residual,
    BOX_ROUNDING, KEEP_MARGIN_TOL,
};
use basis_aware::{
    decide_tokens_with, Answer, Backend, BackendError, Basis, Certificate, KeepCertificate,
    MatrixView, Outcome, RejectCertificate, RejectProof, Step, TokenProblem, UndecidedReason,
    Verified,
};

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
fn a_perturbed_point_is_refused_once_no_exact_point_is_near() {
    let s = step(&Q, 0.05);
    // A small perturbation leaves an exact point within the boxes' slack: still a valid proof.
    let mut nudged = rescaled_without(&Q, 4);
    nudged.changes[0].1 *= 1.0 + 1e-6;
    assert_eq!(rejected_by(&s, &zero_basis(5), &nudged), Ok(vec![4]));
    // Five times the move of token 0 leaves a residual of 0.02, more than the tokens' slack
    // (at most 0.014 in the 2-norm the criterion uses) can provably take.
    let mut pushed = rescaled_without(&Q, 4);
    pushed.changes[0].1 *= 5.0;
    let err = rejected_by(&s, &zero_basis(5), &pushed).unwrap_err();
    assert!(matches!(err, CertificateError::NotAbsorbed { .. }), "{err}");
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

/// Token 4 zeroed with no compensation: the residual is `-q_4` on the sum row, and the untouched
/// tokens 0..3 absorb it with slack `kappa q_j` each. The criterion certifies a correction when
/// `q_4 <= kappa |q_{0..3}|_2` (a 2-norm bound, stricter than the true `q_4 <= kappa sum q_j`);
/// both sides of that boundary, by the choice of `kappa`.
#[test]
fn a_residual_is_accepted_exactly_up_to_the_absorbers_certified_capacity() {
    let norm = Q[..4].iter().map(|q| q * q).sum::<f64>().sqrt();
    let kappa_at_boundary = Q[4] / norm;
    let decided_at = |factor: f64| {
        let kappa = factor * kappa_at_boundary;
        let s = step(&Q, kappa / (1.0 + kappa));
        let cert = RejectCertificate {
            changes: vec![(4, -Q[4])],
        };
        rejected_by(&s, &zero_basis(5), &cert)
    };
    assert_eq!(decided_at(1.0 + 1e-9), Ok(vec![4]));
    assert!(matches!(
        decided_at(1.0 - 1e-9),
        Err(CertificateError::NotAbsorbed { .. })
    ));
}

/// A solver's point clamped to `fl(kappa q_j)` may exceed the exact bound `kappa q_j` by a
/// rounding; within [`BOX_ROUNDING`] that excess is carried as residual, beyond it the point is
/// out of its box.
#[test]
fn a_rounding_above_the_upper_bound_is_carried_and_more_is_refused() {
    let q = [0.5, 0.3, 0.15, 0.04, 0.01];
    let s = step(&q, 0.05);
    let kappa = s.kappa();
    // The token whose bound rounds up (the exact excess is what the FMA leaves).
    let j = (0..4)
        .find(|&j| kappa.mul_add(q[j], -(kappa * q[j])) < 0.0)
        .expect("one of the four products rounds up");
    let others: Vec<usize> = (0..4).filter(|&k| k != j).collect();
    // Token 4 zeroed; token j goes to its rounded bound, the rest share the remainder.
    let point = |dj: f64| {
        let rest = (q[4] - dj) / others.iter().map(|&k| q[k]).sum::<f64>();
        let mut changes: Vec<(u32, f64)> =
            others.iter().map(|&k| (k as u32, q[k] * rest)).collect();
        changes.push((j as u32, dj));
        changes.push((4, -q[4]));
        changes.sort_by_key(|c| c.0);
        RejectCertificate { changes }
    };
    let at_bound = kappa * q[j];
    assert_eq!(
        rejected_by(&s, &zero_basis(5), &point(at_bound)),
        Ok(vec![4])
    );
    let beyond = at_bound * (1.0 + 16.0 * BOX_ROUNDING);
    let err = rejected_by(&s, &zero_basis(5), &point(beyond)).unwrap_err();
    assert!(matches!(err, CertificateError::OutOfBox { .. }), "{err}");
}

/// Issue 12's wrong reject: every token but `X` has a row `t_j c` (one shared direction, exact in
/// f32); `X` has a generic row and `q_X = 1e-11`, so no point zeroes it (its row has a component
/// orthogonal to `c`). A point that zeroes `X` without compensating, hidden among large moves
/// that cancel, passed the old relative test (residual `1e-11` against `1e-9 x 0.06`).
#[test]
fn a_deep_tail_token_s_uncompensated_move_is_not_hidden_by_cancelling_moves() {
    let (basis, q) = shared_direction();
    let s = step(&q, 0.28);
    let alpha = 0.01;
    let cert = RejectCertificate {
        changes: vec![(0, 3.0 * alpha), (1, -2.0 * alpha), (2, -alpha), (6, -q[6])],
    };
    let err = rejected_by(&s, &basis, &cert).unwrap_err();
    assert!(matches!(err, CertificateError::NotAbsorbed { .. }), "{err}");
    // A shared-direction token is rejected by a point in the span of the others, which the
    // verifier proves exact on the two rows that remain independent over the moved tokens.
    let valid = RejectCertificate {
        changes: vec![(0, 0.035), (2, 0.045), (3, -q[3]), (4, 0.02)],
    };
    assert_eq!(rejected_by(&s, &basis, &valid), Ok(vec![3]));
}

/// V = 7, m = 4: rows `t_j c` for six tokens and a generic row for token 6 (`X`, `q = 1e-11`).
fn shared_direction() -> (Basis, Vec<f64>) {
    let c = [1.0f32, 0.5, -0.25, 2.0];
    let t = [1.0f32, 2.0, -1.0, 0.5, 3.0, -2.0];
    let mut rows: Vec<f32> = t.iter().flat_map(|&tj| c.map(|ck| tj * ck)).collect();
    rows.extend([0.3f32, -0.7, 0.11, 0.9]);
    let basis = Basis::explicit(MatrixView::new(&rows, 7, 4).unwrap()).unwrap();
    let x = 1e-11;
    let q = vec![0.3, 0.25, 0.2, 0.1, 0.1, 0.05 - x, x];
    (basis, q)
}

/// The criterion as a function: a residual the absorbers can take, and one they cannot.
#[test]
fn exact_point_exists_compares_the_residual_with_the_certified_capacity() {
    let b = zero_basis(3);
    let residual = |r: f64| Residual {
        value: vec![0.0, r],
        bound: vec![0.0, 0.0],
    };
    let absorbers = [
        Absorber {
            token: 0,
            slack: 0.3,
        },
        Absorber {
            token: 1,
            slack: 0.4,
        },
    ];
    // Capacity: sqrt(0.3^2 + 0.4^2) = 0.5.
    assert!(exact_point_exists(&b, &residual(0.499), &[2], &absorbers).is_ok());
    assert!(exact_point_exists(&b, &residual(0.501), &[2], &absorbers).is_err());
    assert!(exact_point_exists(&b, &residual(0.1), &[2], &[]).is_err());
    assert!(exact_point_exists(&b, &residual(0.0), &[2], &[]).is_ok());
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

/// With `b_j = 1` for every token but `i` (`b_i = 2`) and `y = (1, -1)`, every `s_j` but `s_i`
/// vanishes exactly and `P_i` is empty for any `q_i > 0` (the constraints force `p_i = q_i`). The
/// keep still needs `q_i` above the margin times the spread, about `2 KEEP_MARGIN_TOL` here: a
/// token whose own term is below the margin is never kept, whatever the dual says.
#[test]
fn a_token_whose_own_term_is_below_the_margin_is_never_kept() {
    let tau: f64 = 0.3;
    let sigma = 1.0 / (1.0 - tau);
    let tol = KEEP_MARGIN_TOL;
    // sigma q_i (1 - 3 tol) > kappa q_i + tol (2 + q_i)  <=>  q_i > 2 tol / (1 - 3 sigma tol - tol).
    let boundary = 2.0 * tol / (1.0 - 3.0 * sigma * tol - tol);
    let kept_at = |qi: f64| {
        let q = [0.6, 0.4 - qi, qi];
        let b = Basis::explicit(MatrixView::new(&[1.0, 1.0, 2.0], 3, 1).unwrap()).unwrap();
        let kept = kept_by(&step(&q, tau), &b, &KeepCertificate { y: vec![1.0, -1.0] }).unwrap();
        assert!(!kept.contains(&1), "a token with s_j = 0 is never kept");
        kept.contains(&2)
    };
    assert!(kept_at(boundary * (1.0 + 1e-6)));
    assert!(!kept_at(boundary * (1.0 - 1e-6)));
    assert!(!kept_at(1e-20));
}

#[test]
fn the_keep_margin_covers_the_check_s_rounding_at_any_size() {
    assert_eq!(keep_margin(262_144, 576), KEEP_MARGIN_TOL);
    // gamma_n is about n u: at 1e8 tokens twice it exceeds 1e-9.
    let huge = keep_margin(100_000_000, 576);
    assert!(huge > 1e8 * f64::EPSILON, "{huge}");
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

/// A backend that answers every token with one result it had verified, whatever the problem.
struct Replaying(Verified);

impl Backend for Replaying {
    fn name(&self) -> &'static str {
        "replaying"
    }

    fn solve(&mut self, problem: &TokenProblem<'_>) -> Result<Certificate, BackendError> {
        self.answer(problem).map(Answer::into_certificate)
    }

    fn answer(&mut self, _: &TokenProblem<'_>) -> Result<Answer, BackendError> {
        Ok(Answer::Verified(self.0.clone()))
    }
}

/// Token 3's outcome on `s` (its own LP only) with `backend`'s answer.
fn outcome_of_3(s: &Step, backend: &mut dyn Backend) -> Outcome {
    let mut each: Vec<Box<dyn Reduction>> = vec![Box::new(EachToken)];
    let (outcomes, _) =
        decide_tokens_with(s, &zero_basis(5), &[3], Some(backend), &mut each).unwrap();
    outcomes.into_iter().next().unwrap()
}

#[test]
fn a_certificate_verified_for_one_step_is_checked_again_on_another() {
    // At tau = 0.03 the sum-row dual keeps token 3 (q = 0.04, above tau); at tau = 0.05 it does
    // not, and token 3 is rejectable. The verdict of the first step must not decide the second:
    // the ledger checks the certificate again there and refuses it.
    let (above, below) = (step(&Q, 0.03), step(&Q, 0.05));
    let dual = Certificate::Keep(KeepCertificate { y: vec![0.0, 1.0] });
    let on_above = TokenProblem {
        step: &above,
        basis: &zero_basis(5),
        token: 3,
    };
    let verified = on_above.check(dual.clone()).unwrap();
    assert_eq!(verified.covered(), [0, 1, 2, 3]);
    assert!(matches!(
        outcome_of_3(&below, &mut Replaying(verified)),
        Outcome::Undecided(UndecidedReason::Unverified(CertificateError::DoesNotCover(
            3
        )))
    ));
    // A verdict on the step itself, or on a clone of it (the same distribution), is recorded.
    let on_below = TokenProblem {
        step: &below,
        basis: &zero_basis(5),
        token: 3,
    };
    assert_eq!(
        on_below.check(dual).err(),
        Some(CertificateError::DoesNotCover(3))
    );
    let reject = on_below
        .check(Certificate::Reject(rescaled_without(&Q, 3)))
        .unwrap();
    assert!(matches!(
        outcome_of_3(&below.clone(), &mut Replaying(reject)),
        Outcome::Reject(RejectProof::Point(_))
    ));
}

/// Slacks spanning sixty orders of magnitude (a dominant token, then `1e-30` and `1e-60`): too
/// graded for the Gram test, so the square system decides, exactly at its boundary. The
/// correction this residual needs moves only the weakest absorber, by `1e-61` (within its slack
/// of `1e-60`) or by `1e-59` (beyond it: no exact point is known, so the point is refused).
#[test]
fn a_graded_residual_is_absorbed_exactly_up_to_the_weakest_slack() {
    let rows = [1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0];
    let basis = Basis::explicit(MatrixView::new(&rows, 3, 2).unwrap()).unwrap();
    let absorbers = [
        Absorber {
            token: 0,
            slack: 1.0,
        },
        Absorber {
            token: 1,
            slack: 1e-30,
        },
        Absorber {
            token: 2,
            slack: 1e-60,
        },
    ];
    // a_2 = (1, 1, 1): the residual a_2 x_2 needs exactly x_2 from the weakest absorber.
    let residual = |x2: f64| Residual {
        value: vec![x2, x2, x2],
        bound: vec![0.0; 3],
    };
    assert!(exact_point_exists(&basis, &residual(1e-61), &[], &absorbers).is_ok());
    assert!(matches!(
        exact_point_exists(&basis, &residual(1e-59), &[], &absorbers),
        Err(CertificateError::NotAbsorbed { .. })
    ));
}

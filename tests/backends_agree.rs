//! The default simplex backend against the HiGHS oracle on Gaussian decode steps large enough
//! that the simplex starts from a restricted column set and must grow it.
#![cfg(all(feature = "simplex", feature = "highs"))]

mod common;

use basis_aware::backends::{HighsBackend, SimplexBackend};
use basis_aware::verify::check;
use basis_aware::{decide_tokens, Answer, Backend, Outcome, Rule, Step, TokenProblem};
use common::gaussian_instance;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn simplex_and_highs_never_contradict(
        seed in any::<u64>(),
        vocab in 300usize..700,
        dim in 2usize..10,
        svd in prop::option::of(1usize..4),
        scale in 3.0f64..10.0,
        eta in 1e-3f64..0.05,
    ) {
        let inst = gaussian_instance(vocab, dim, 1, scale, seed);
        let basis = inst.basis(svd.map(|c| c.min(dim))).unwrap();
        let step = Step::new(inst.step_logits(0).unwrap(), &Rule::Eta(eta)).unwrap();
        let tokens: Vec<u32> = (0..vocab as u32).collect();
        let (ours, counts) = decide_tokens(&step, &basis, &tokens, Some(&mut SimplexBackend::default())).unwrap();
        let (oracle, _) = decide_tokens(&step, &basis, &tokens, Some(&mut HighsBackend::default())).unwrap();
        for (t, (a, b)) in ours.iter().zip(&oracle).enumerate() {
            let contradiction = (a.is_keep() && b.is_reject()) || (a.is_reject() && b.is_keep());
            prop_assert!(!contradiction, "token {}: simplex {:?}, highs {:?}", t, a, b);
        }
        let lp_tokens = counts.dual_kept + counts.point_rejected + counts.chunk_rejected + counts.undecided;
        let undecided = ours.iter().filter(|o| matches!(o, Outcome::Undecided(_))).count();
        prop_assert!(undecided * 100 <= lp_tokens, "{} of {} undecided", undecided, lp_tokens);
    }
}

/// Both backends check their candidates through the problem and answer with the verifier's
/// verdict, which the ledger records as it stands: each certificate they return is verified once.
#[test]
fn both_backends_answer_with_their_verified_certificate() {
    let inst = gaussian_instance(500, 6, 1, 6.0, 11);
    let basis = inst.basis(None).unwrap();
    let step = Step::new(inst.step_logits(0).unwrap(), &Rule::Eta(0.01)).unwrap();
    let backends: [Box<dyn Backend>; 2] = [
        Box::new(SimplexBackend::default()),
        Box::new(HighsBackend::default()),
    ];
    for mut backend in backends {
        let mut verified = 0;
        for &token in step.below_threshold().iter().step_by(8) {
            let problem = TokenProblem {
                step: &step,
                basis: &basis,
                token,
            };
            match backend.answer(&problem) {
                Ok(Answer::Verified(answer)) => {
                    assert!(answer.settles(token));
                    assert!(check(&step, &basis, token, answer.certificate()).is_ok());
                    verified += 1;
                }
                Ok(Answer::Certificate(_)) => {
                    panic!("{}: token {token} answered unverified", backend.name())
                }
                Err(_) => {}
            }
        }
        assert!(verified > 0, "{}: nothing decided", backend.name());
    }
}

//! Every compiled backend against an independent oracle (good_lp + microlp, `min p_i` over the
//! same set) on small property-generated instances, degenerate ones included; and the verifier
//! against tampered versions of the certificates the backends produced.
#![cfg(feature = "proptest")]

mod common;

use basis_aware::verify::{check, kept_by, rejected_by};
use basis_aware::{
    decide_tokens, Certificate, KeepCertificate, KeepProof, Outcome, RejectCertificate,
    RejectProof, Rule, Step,
};
use common::{backends, min_mass, tiny};
use proptest::prelude::*;

/// Oracle minima within this relative distance of zero (`min p_i / q_i`) are marginal: the two
/// solvers' tolerances (1e-9 here, about 1e-7 in microlp) may legitimately disagree there.
const MARGINAL: f64 = 1e-6;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn backends_decide_as_the_independent_oracle(inst in tiny(20), eta in 0.02f64..0.3) {
        let step = Step::new(&inst.logits, &Rule::Eta(eta)).unwrap();
        let basis = inst.basis();
        let tokens: Vec<u32> = (0..inst.vocab as u32).collect();
        let oracle: Vec<f64> = (0..inst.vocab).map(|i| {
            let qi = step.q()[i];
            if qi > 0.0 && !step.above_threshold(i as u32) { min_mass(&step, &basis, i) / qi } else { 0.0 }
        }).collect();
        for mut backend in backends() {
        let (outcomes, _) = decide_tokens(&step, &basis, &tokens, Some(backend.as_mut())).unwrap();
        for (i, outcome) in outcomes.iter().enumerate() {
            let qi = step.q()[i];
            if step.above_threshold(i as u32) {
                prop_assert_eq!(outcome, &Outcome::Keep(KeepProof::Threshold));
                continue;
            }
            if qi == 0.0 {
                prop_assert_eq!(outcome, &Outcome::Reject(RejectProof::ZeroMass));
                continue;
            }
            let relative = oracle[i];
            if relative.abs() <= MARGINAL {
                prop_assert!(!outcome.is_keep() || relative > 0.0, "{}: token {i}: kept at min p_i/q_i = {relative:e}", backend.name());
                continue;
            }
            prop_assert_eq!(outcome.is_keep(), relative > 0.0, "{}: token {}: {:?}, min p_i/q_i = {:e}", backend.name(), i, outcome, relative);
        }
        }
    }

    /// Every certificate HiGHS produced is accepted as given and refused once tampered with.
    #[test]
    fn tampered_certificates_are_refused(inst in tiny(20), eta in 0.02f64..0.3) {
        let step = Step::new(&inst.logits, &Rule::Eta(eta)).unwrap();
        let basis = inst.basis();
        let tokens: Vec<u32> = (0..inst.vocab as u32).collect();
        for mut backend in backends() {
        let (outcomes, _) = decide_tokens(&step, &basis, &tokens, Some(backend.as_mut())).unwrap();
        let kept: Vec<u32> = tokens.iter().copied().filter(|&t| outcomes[t as usize].is_keep()).collect();
        let rejected: Vec<u32> = tokens.iter().copied().filter(|&t| outcomes[t as usize].is_reject()).collect();
        for (t, outcome) in outcomes.iter().enumerate() {
            let t = t as u32;
            match outcome {
                Outcome::Keep(KeepProof::Dual(cert)) => {
                    prop_assert!(check(&step, &basis, t, &Certificate::Keep((**cert).clone())).is_ok());
                    // Flipped: the negated vector keeps no token that was rejected...
                    let flipped = KeepCertificate { y: cert.y.iter().map(|v| -v).collect() };
                    let wrongly = kept_by(&step, &basis, &flipped).unwrap();
                    prop_assert!(!wrongly.contains(&t), "flipped dual still keeps {}", t);
                    // ...and the vector itself proves nothing about a rejected token.
                    for &r in &rejected {
                        prop_assert!(check(&step, &basis, r, &Certificate::Keep((**cert).clone())).is_err());
                    }
                }
                Outcome::Reject(RejectProof::Point(cert)) => {
                    prop_assert!(rejected_by(&step, &basis, cert).unwrap().contains(&t));
                    // Perturbed: shrink the largest change that is not a zeroing. The verifier
                    // may still accept it (an exact point can lie within the boxes' slack of
                    // it), but then only for tokens the oracle cannot keep.
                    let mut moved = (**cert).clone();
                    if let Some(entry) = moved
                        .changes
                        .iter_mut()
                        .filter(|(j, d)| *d != -step.q()[*j as usize] && *d < 0.0)
                        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                    {
                        entry.1 *= 1.0 - 1e-4;
                        if let Ok(zeroed) = rejected_by(&step, &basis, &moved) {
                            for z in zeroed {
                                let relative = min_mass(&step, &basis, z as usize) / step.q()[z as usize];
                                prop_assert!(relative <= MARGINAL, "perturbed point rejects {z}, min p/q = {relative:e}");
                            }
                        }
                    }
                    // Wrong token: a point never proves a kept token rejectable.
                    for &k in &kept {
                        prop_assert!(check(&step, &basis, k, &Certificate::Reject((**cert).clone())).is_err());
                    }
                    // Unzeroing the token leaves a point that does not cover it.
                    let unzeroed = RejectCertificate {
                        changes: cert.changes.iter().map(|&(j, d)| if j == t { (j, d * 0.5) } else { (j, d) }).collect(),
                    };
                    prop_assert!(check(&step, &basis, t, &Certificate::Reject(unzeroed)).is_err());
                }
                _ => {}
            }
        }
        }
    }
}

#[test]
fn ties_at_tau_are_kept_and_masked_tokens_rejected_without_a_solver() {
    let logits = [2.0, 1.0, 1.0, f32::NEG_INFINITY, 0.0];
    let step = Step::new(&logits, &Rule::TopK(2)).unwrap();
    let inst = common::Tiny {
        logits: logits.to_vec(),
        basis: vec![0.3, -0.2, 0.5, 0.1, -0.4],
        vocab: 5,
        dim: 1,
        degeneracy: basis_aware::testing::Degeneracy::Ties,
    };
    let tokens = [0, 1, 2, 3];
    for mut backend in backends() {
        let (outcomes, counts) =
            decide_tokens(&step, &inst.basis(), &tokens, Some(backend.as_mut())).unwrap();
        assert_eq!(outcomes[1], Outcome::Keep(KeepProof::Threshold));
        assert_eq!(outcomes[2], Outcome::Keep(KeepProof::Threshold));
        assert_eq!(outcomes[3], Outcome::Reject(RejectProof::ZeroMass));
        assert_eq!(counts.solves, 0);
    }
}

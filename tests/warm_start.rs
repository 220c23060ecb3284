//! Warm-started and cold simplex solves reach the same decisions: a warm start changes the path,
//! never the answer.
#![cfg(feature = "simplex")]

mod common;

use basis_aware::backends::SimplexBackend;
use basis_aware::{decide, Outcome, Rule, Step};
use common::gaussian_instance;
use proptest::prelude::*;

fn kind(o: &Outcome) -> u8 {
    match o {
        Outcome::Keep(_) => 0,
        Outcome::Reject(_) => 1,
        Outcome::Undecided(_) => 2,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10))]

    /// Tokens decided one at a time (no sharing), the warm backend carrying its basis from token
    /// to token and across two decode steps.
    #[test]
    fn warm_and_cold_decide_alike(
        seed in any::<u64>(),
        vocab in 200usize..500,
        dim in 2usize..8,
        scale in 3.0f64..8.0,
    ) {
        let inst = gaussian_instance(vocab, dim, 2, scale, seed);
        let basis = inst.basis(None).unwrap();
        let mut warm = SimplexBackend::default();
        let mut cold = SimplexBackend::cold();
        let (mut differ, mut decided) = (0, 0);
        for k in 0..2 {
            let step = Step::new(inst.step_logits(k).unwrap(), &Rule::Eta(0.01)).unwrap();
            for t in (0..vocab as u32).filter(|&t| !step.above_threshold(t)) {
                let a = decide(&step, &basis, t, Some(&mut warm)).unwrap();
                let b = decide(&step, &basis, t, Some(&mut cold)).unwrap();
                let contradiction = (a.is_keep() && b.is_reject()) || (a.is_reject() && b.is_keep());
                prop_assert!(!contradiction, "token {}: warm {:?}, cold {:?}", t, a, b);
                decided += 1;
                differ += usize::from(kind(&a) != kind(&b));
            }
        }
        prop_assert!(differ * 100 <= decided, "{} of {} differ", differ, decided);
    }
}

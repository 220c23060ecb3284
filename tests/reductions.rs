//! Every built-in reduction through the exported harness, against the exact rule decided token by
//! token by the oracle (HiGHS when compiled in); and the harness catching an unsound reduction.
#![cfg(all(feature = "proptest", feature = "simplex"))]

mod common;

use basis_aware::backends::SimplexBackend;
use basis_aware::reduction::{
    ApproxKMeansFusion, EachToken, Exactness, HeadKeeps, Reduction, TailChunks, Workspace,
};
use basis_aware::testing::{case, check_reduction};
use basis_aware::{
    truncate_with_certificates, Budget, Decision, KeepProof, Outcome, RejectProof, Rule, Step,
};
use common::gaussian_instance;
use proptest::prelude::*;

fn oracle() -> Box<dyn basis_aware::Backend> {
    common::backends().pop().expect("a backend is compiled in")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(60))]

    #[test]
    fn built_in_reductions_change_no_decision(c in case(16), eta in 0.02f64..0.3) {
        let step = Step::new(&c.logits, &Rule::Eta(eta)).unwrap();
        let basis = c.basis();
        let reductions: [&mut dyn Reduction; 3] = [&mut HeadKeeps, &mut TailChunks, &mut EachToken];
        for reduction in reductions {
            let report = check_reduction(reduction, &step, &basis, oracle().as_mut(), &mut SimplexBackend::default()).unwrap();
            prop_assert!(report.is_sound(), "{}", report);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Fusion restricts the feasible set: its rejects are expanded, verified certificates, and
    /// only its keeps may differ from the exact rule (towards keeping).
    #[test]
    fn kmeans_fusion_only_errs_towards_keeping(
        c in case(24),
        eta in 0.02f64..0.3,
        groups in 1usize..6,
        head in 0usize..6,
    ) {
        let step = Step::new(&c.logits, &Rule::Eta(eta)).unwrap();
        let basis = c.basis();
        let mut fusion = ApproxKMeansFusion::new(&basis, groups.min(basis.vocab()), 7)
            .unwrap()
            .with_head(head);
        let report = check_reduction(&mut fusion, &step, &basis, oracle().as_mut(), &mut SimplexBackend::default()).unwrap();
        prop_assert_eq!(report.exactness, Exactness::Approximate);
        prop_assert!(report.kept_to_rejected.is_empty(), "{}", report);
    }
}

#[test]
fn kmeans_fusion_refuses_impossible_group_counts() {
    let (_, basis) = step_with_keeps_and_rejects();
    assert!(ApproxKMeansFusion::new(&basis, 0, 1).is_err());
    assert!(ApproxKMeansFusion::new(&basis, basis.vocab() + 1, 1).is_err());
    let fusion = ApproxKMeansFusion::new(&basis, 3, 1).unwrap();
    assert_eq!(fusion.assignment().len(), basis.vocab());
    assert!(fusion.assignment().iter().all(|&g| g < 3));
}

/// Claims to be exact but rejects the most probable pending token without a certificate.
struct Unsound;

impl Reduction for Unsound {
    fn name(&self) -> &'static str {
        "unsound"
    }

    fn reduce(&mut self, work: &mut Workspace<'_, '_>, pending: &[u32]) {
        work.assume(&pending[..1], false);
    }
}

/// Keeps every pending token, declared approximate.
struct KeepAll;

impl Reduction for KeepAll {
    fn name(&self) -> &'static str {
        "keep-all"
    }

    fn exactness(&self) -> Exactness {
        Exactness::Approximate
    }

    fn reduce(&mut self, work: &mut Workspace<'_, '_>, pending: &[u32]) {
        work.assume(pending, true);
    }
}

/// A step whose most probable token below `tau` is kept by the exact rule, and whose tail has
/// rejected tokens.
fn step_with_keeps_and_rejects() -> (Step, basis_aware::Basis) {
    let inst = gaussian_instance(10, 2, 1, 1.0, 5);
    let step = Step::new(inst.step_logits(0).unwrap(), &Rule::Epsilon(0.12)).unwrap();
    (step, inst.basis(None).unwrap())
}

#[test]
fn the_harness_catches_an_unsound_reduction() {
    let (step, basis) = step_with_keeps_and_rejects();
    let report = check_reduction(
        &mut Unsound,
        &step,
        &basis,
        oracle().as_mut(),
        &mut SimplexBackend::default(),
    )
    .unwrap();
    assert!(!report.is_sound(), "{report}");
    assert_eq!(report.kept_to_rejected.len(), 1, "{report}");
    assert!(report.rejected_to_kept.is_empty());
}

#[test]
fn approximate_decisions_are_labelled_counted_and_measured() {
    let (step, basis) = step_with_keeps_and_rejects();
    let report = check_reduction(
        &mut KeepAll,
        &step,
        &basis,
        oracle().as_mut(),
        &mut SimplexBackend::default(),
    )
    .unwrap();
    assert!(
        report.is_sound(),
        "approximate reductions are judged by their rates"
    );
    assert!(
        !report.rejected_to_kept.is_empty() && report.kept_to_rejected.is_empty(),
        "{report}"
    );
    let inst = gaussian_instance(10, 2, 1, 1.0, 5);
    let (result, outcomes) = truncate_with_certificates(
        inst.step_logits(0).unwrap(),
        &basis,
        &Rule::Epsilon(0.12),
        Some(&mut SimplexBackend::default()),
        &mut [Box::new(KeepAll)],
        Budget::unlimited(),
    )
    .unwrap();
    let below = (0..10u32).filter(|&t| !step.above_threshold(t)).count();
    assert_eq!(result.counts.approximate, below);
    for t in 0..10u32 {
        if !step.above_threshold(t) {
            assert_eq!(
                outcomes[t as usize],
                Outcome::Keep(KeepProof::Approximate { by: "keep-all" })
            );
            assert_eq!(result.outcomes[t as usize], Decision::ApproximateKeep);
        }
    }
    assert!(!outcomes
        .iter()
        .any(|o| matches!(o, Outcome::Reject(RejectProof::Approximate { .. }))));
}

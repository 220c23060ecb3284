//! The tools' own inputs cannot panic: instance files whose public fields disagree, and synthetic
//! sizes that cannot be allocated, are typed errors.

use basis_aware::synthetic::check_size;
use basis_aware::Error;
use basis_aware_tools::instance::{Constraint, Instance};

#[test]
fn an_instance_with_inconsistent_fields_is_an_error() {
    let inst = Instance {
        logits: vec![0.0; 5],
        steps: 2,
        vocab: 3,
        constraint: Constraint::Basis(vec![0.0; 3], 1),
    };
    assert!(inst.step_logits(0).is_ok());
    assert!(matches!(inst.step_logits(1), Err(Error::Shape(_))));
    assert!(matches!(inst.step_logits(usize::MAX), Err(Error::Shape(_))));
}

#[test]
fn synthetic_sizes_are_checked_before_allocating() {
    assert!(check_size(100_000_000_000, 100_000, 1).is_err());
    assert!(check_size(usize::MAX, 2, 1).is_err());
    assert!(check_size(1 << 20, 1 << 11, 1).is_err());
    assert!(check_size(2000, 16, 1).is_ok());
    assert!(check_size(0, 16, 1).is_err());
}

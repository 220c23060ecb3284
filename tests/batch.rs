//! `truncate_batch`: the rows of a batch decide as they would one at a time, in row order.
#![cfg(feature = "simplex")]

mod common;

use basis_aware::backends::SimplexBackend;
use basis_aware::{truncate, truncate_batch, Error, Rule};
use common::gaussian_instance;

#[test]
fn a_batch_decides_each_row_as_alone() {
    let inst = gaussian_instance(400, 6, 4, 6.0, 21);
    let basis = inst.basis(Some(3)).unwrap();
    let rule = Rule::Eta(0.01);
    let rows = truncate_batch(&inst.logits, &basis, &rule, SimplexBackend::default).unwrap();
    assert_eq!(rows.len(), 4);
    for (k, row) in rows.iter().enumerate() {
        let alone = truncate(
            inst.step_logits(k).unwrap(),
            &basis,
            &rule,
            Some(&mut SimplexBackend::default()),
        )
        .unwrap();
        assert_eq!(row.kept, alone.kept, "row {k}");
        assert_eq!(row.counts, alone.counts, "row {k}");
    }
}

#[test]
fn a_ragged_batch_is_an_error() {
    let inst = gaussian_instance(50, 3, 2, 6.0, 1);
    let basis = inst.basis(None).unwrap();
    let rule = Rule::Eta(0.01);
    let mut logits = inst.logits.clone();
    logits.push(0.0);
    for len in [0, 99, 101] {
        let got = truncate_batch(&logits[..len], &basis, &rule, SimplexBackend::default);
        assert!(
            matches!(got, Err(Error::Shape(_))),
            "length {len}: {:?}",
            got.map(|r| r.len())
        );
    }
}

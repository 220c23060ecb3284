//! Issue 12's wrong-reject class, a small sample for CI (`tools/examples/verifier_sweep.rs` runs
//! 10,000 per class): every token but `X` has a row `t_j c` (one shared direction, exact in f32),
//! `X` a generic row in the deep tail. `X` is provably kept, so it must never be rejected.
#![cfg(feature = "simplex")]

use basis_aware::backends::SimplexBackend;
use basis_aware::{decide, Basis, MatrixView, Step};
use rand::RngExt;

mod common;
use common::synthetic::gaussian;

#[test]
fn a_generic_deep_tail_token_among_shared_direction_rows_is_never_rejected() {
    let mut rng = common::rng(3);
    let (v, m) = (7usize, 4usize);
    for _ in 0..60 {
        let c: Vec<f32> = (0..m)
            .map(|_| (rng.random::<f64>() * 8.0).floor() as f32 / 4.0 - 1.0)
            .collect();
        let mut rows = Vec::new();
        for _ in 0..v - 1 {
            let t = (rng.random::<f64>() * 16.0).floor() as f32 / 4.0 - 2.0;
            rows.extend(c.iter().map(|&ck| t * ck));
        }
        rows.extend((0..m).map(|_| gaussian(&mut rng) as f32));
        let basis = Basis::explicit(MatrixView::new(&rows, v, m).unwrap()).unwrap();
        let qx = 10f64.powf(-20.0 + rng.random::<f64>() * 10.6);
        let mut q: Vec<f64> = (0..v - 1).map(|_| 0.05 + rng.random::<f64>()).collect();
        let total: f64 = q.iter().sum();
        q.iter_mut().for_each(|x| *x *= (1.0 - qx) / total);
        q.push(qx);
        let step = Step::from_probabilities(q, 0.05 + 0.4 * rng.random::<f64>()).unwrap();
        let outcome = decide(&step, &basis, 6, Some(&mut SimplexBackend::default())).unwrap();
        assert!(!outcome.is_reject(), "q_X = {qx:e}: {outcome:?}");
    }
}

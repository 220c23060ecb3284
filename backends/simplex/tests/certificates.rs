//! Every answer of the solver carries its own proof: a point satisfies the rows and the bounds, a
//! Farkas vector separates `b` from the box's image. Checked on random problems, feasible by
//! construction or not.

use basis_aware_simplex::{solve, Answer, BoxLp, Options};
use proptest::prelude::*;

fn problem() -> impl Strategy<Value = (usize, Vec<f64>, Vec<f64>, Vec<f64>)> {
    (1usize..6, 1usize..30).prop_flat_map(|(rows, cols)| {
        (
            Just(rows),
            prop::collection::vec(-1.0f64..1.0, rows * cols),
            prop::collection::vec(prop_oneof![Just(0.0), 0.0f64..1.0, Just(1.0)], cols),
            // Vertices too: a right-hand side made from a point at its bounds is feasible only
            // up to rounding, and must not be called infeasible.
            prop::collection::vec(prop_oneof![Just(0.0), 0.0f64..1.0, Just(1.0)], cols),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn answers_prove_themselves((rows, matrix, upper, mix) in problem(), feasible in any::<bool>(), shift in -2.0f64..2.0) {
        let cols = upper.len();
        // A right-hand side reached by a point in the box, or pushed off by `shift`.
        let mut rhs = vec![0.0; rows];
        for j in 0..cols {
            for k in 0..rows {
                rhs[k] += matrix[j * rows + k] * mix[j] * upper[j];
            }
        }
        if !feasible {
            rhs[0] += shift;
        }
        let cost: Vec<f64> = (0..cols).map(|j| if j % 3 == 0 { 1.0 } else { 0.0 }).collect();
        let lp = BoxLp { rows, cols, matrix: &matrix, rhs: &rhs, upper: &upper, cost: &cost, names: None };
        match solve(&lp, &Options::default()).unwrap() {
            Answer::Optimal { x, .. } => {
                for j in 0..cols {
                    prop_assert!(x[j] >= 0.0 && x[j] <= upper[j]);
                }
                for k in 0..rows {
                    let lhs: f64 = (0..cols).map(|j| matrix[j * rows + k] * x[j]).sum();
                    prop_assert!((lhs - rhs[k]).abs() <= 1e-9, "row {} off by {:e}", k, lhs - rhs[k]);
                }
            }
            Answer::Infeasible { farkas, .. } => {
                let yb: f64 = farkas.iter().zip(&rhs).map(|(y, b)| y * b).sum();
                let reach: f64 = (0..cols)
                    .map(|j| upper[j] * (0..rows).map(|k| farkas[k] * matrix[j * rows + k]).sum::<f64>().max(0.0))
                    .sum();
                prop_assert!(yb > reach + 1e-12, "y^T b = {:e} does not exceed {:e}", yb, reach);
                prop_assert!(!feasible, "a feasible problem was called infeasible");
            }
        }
    }
}

#[test]
fn malformed_problems_are_errors() {
    let ok = |matrix: &[f64], cost: &[f64]| {
        let lp = BoxLp {
            rows: 1,
            cols: 2,
            matrix,
            rhs: &[0.0],
            upper: &[1.0; 2],
            cost,
            names: None,
        };
        solve(&lp, &Options::default()).is_ok()
    };
    assert!(ok(&[1.0, -1.0], &[0.0, 0.0]));
    assert!(!ok(&[1.0; 3], &[0.0, 0.0]));
    assert!(!ok(&[f64::NAN, 1.0], &[0.0, 0.0]));
    assert!(!ok(&[1.0, -1.0], &[0.0]));
}

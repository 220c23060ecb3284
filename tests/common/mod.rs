//! Shared pieces of the integration tests: independent oracles, the compiled backends and
//! synthetic decode steps.
#![allow(dead_code, unused_imports)]

use basis_aware::{Backend, Basis, Step};
use good_lp::{constraint, variable, variables, Expression, Solution, SolverModel};

pub use basis_aware::synthetic::{self, gaussian_instance, rng};

/// The exported strategies (feature `proptest`) are the tests' instances too.
#[cfg(feature = "proptest")]
pub use basis_aware::testing::{case as tiny, Case as Tiny};

/// `min p_i` over `{B^T p = B^T q, sum p = 1, 0 <= p <= sigma q}`, solved by good_lp's pure-Rust
/// microlp: a formulation and a solver independent of the crate's own. Token `i` is kept exactly
/// when the minimum is positive.
pub fn min_mass(step: &Step, basis: &Basis, token: usize) -> f64 {
    let q = step.q();
    let mut vars = variables!();
    let p: Vec<_> = q
        .iter()
        .map(|&qj| vars.add(variable().min(0.0).max(step.sigma() * qj)))
        .collect();
    let model = vars.minimise(p[token]).using(good_lp::microlp);
    let solution = with_bottleneck(model, &p, step, basis)
        .solve()
        .expect("the set contains q, so it is never empty");
    solution.value(p[token])
}

/// One instance of every backend compiled into this build.
pub fn backends() -> Vec<Box<dyn Backend>> {
    vec![
        #[cfg(feature = "simplex")]
        Box::new(basis_aware::backends::SimplexBackend::default()),
        #[cfg(feature = "highs")]
        Box::new(basis_aware::backends::HighsBackend::default()),
    ]
}

/// The critical threshold by its own LP (METHOD.md, parameter matching): the least `sigma` for
/// which some `p` with `p_i = 0` satisfies the constraints, as `tau = 1 - 1/sigma`; `None` when
/// no such `p` exists at any `sigma`. Solved by good_lp's microlp, independently of the crate.
pub fn critical_tau(step: &Step, basis: &Basis, token: usize) -> Option<f64> {
    let q = step.q();
    let mut vars = variables!();
    let sigma = vars.add(variable().min(1.0));
    let p: Vec<_> = q.iter().map(|_| vars.add(variable().min(0.0))).collect();
    let mut model = vars.minimise(sigma).using(good_lp::microlp);
    for (j, &qj) in q.iter().enumerate() {
        model = model.with(constraint!(p[j] - qj * sigma <= 0.0));
    }
    model = model.with(constraint!(p[token] == 0.0));
    let solution = with_bottleneck(model, &p, step, basis).solve().ok()?;
    Some(1.0 - 1.0 / solution.value(sigma))
}

/// `B^T p = B^T q` and `sum p = 1`, the constraints every oracle here shares.
fn with_bottleneck<M: SolverModel>(
    mut model: M,
    p: &[good_lp::Variable],
    step: &Step,
    basis: &Basis,
) -> M {
    let q = step.q();
    for k in 0..basis.dim() {
        let lhs: Expression = p
            .iter()
            .enumerate()
            .map(|(j, &v)| f64::from(basis.row(j).unwrap()[k]) * v)
            .sum();
        let rhs: f64 = q
            .iter()
            .enumerate()
            .map(|(j, &qj)| f64::from(basis.row(j).unwrap()[k]) * qj)
            .sum();
        model = model.with(constraint!(lhs == rhs));
    }
    let total: Expression = p.iter().copied().sum();
    model.with(constraint!(total == 1.0))
}

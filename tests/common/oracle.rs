//! The independent oracles: the rule's LPs in good_lp's pure-Rust microlp, a formulation and a
//! solver apart from the crate's own. Shared by the integration tests (`tests/common`), the
//! full-basis engine's unit test and `tools/examples/verifier_sweep.rs`, each of which includes
//! this file by path; `Basis` and `Step` come from the including module.

use good_lp::{constraint, variable, variables, Expression, Solution, SolverModel};

use super::{Basis, Step};

/// `min p_i` over `{B^T p = B^T q, sum p = 1, 0 <= p <= sigma q}`, or `None` when microlp gives
/// no answer. Token `i` is kept exactly when the minimum is positive.
pub fn try_min_mass(step: &Step, basis: &Basis, token: usize) -> Option<f64> {
    let q = step.q();
    let mut vars = variables!();
    let p: Vec<_> = q
        .iter()
        .map(|&qj| vars.add(variable().min(0.0).max(step.sigma() * qj)))
        .collect();
    let model = vars.minimise(p[token]).using(good_lp::microlp);
    let solution = with_bottleneck(model, &p, step, basis).solve().ok()?;
    Some(solution.value(p[token]))
}

/// [`try_min_mass`] where an answer is certain: the set contains `q`, so it is never empty.
pub fn min_mass(step: &Step, basis: &Basis, token: usize) -> f64 {
    try_min_mass(step, basis, token).expect("the set contains q, so it is never empty")
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

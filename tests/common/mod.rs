//! Shared pieces of the integration tests: small random instances and an independent oracle.
#![allow(dead_code)]

use basis_aware::{Backend, Basis, MatrixView, Step};
use good_lp::{constraint, variable, variables, Expression, Solution, SolverModel};
use proptest::prelude::*;

/// A small decode step: logits and a row-major `vocab x dim` basis.
#[derive(Debug, Clone)]
pub struct Tiny {
    pub logits: Vec<f32>,
    pub basis: Vec<f32>,
    pub vocab: usize,
    pub dim: usize,
}

impl Tiny {
    pub fn basis(&self) -> Basis {
        Basis::explicit(MatrixView::new(&self.basis, self.vocab, self.dim).unwrap()).unwrap()
    }
}

/// How an instance is made awkward.
#[derive(Debug, Clone, Copy)]
pub enum Degeneracy {
    None,
    /// Some tokens share a basis row.
    DuplicateRows,
    /// The basis columns span one dimension, whatever their number.
    RankDeficient,
    /// Some logits are `-inf`.
    Masked,
    /// Several logits are equal (ties in `q`).
    Ties,
}

pub fn degeneracy() -> impl Strategy<Value = Degeneracy> {
    prop_oneof![
        Just(Degeneracy::None),
        Just(Degeneracy::DuplicateRows),
        Just(Degeneracy::RankDeficient),
        Just(Degeneracy::Masked),
        Just(Degeneracy::Ties),
    ]
}

/// Instances of 4 to `max_vocab` tokens, 1 to 4 basis columns, logits spread over `[-5, 5]`.
pub fn tiny(max_vocab: usize) -> impl Strategy<Value = Tiny> {
    (4..=max_vocab, 1usize..=4, degeneracy()).prop_flat_map(|(vocab, dim, kind)| {
        (
            prop::collection::vec(-5.0f32..5.0, vocab),
            prop::collection::vec(-1.0f32..1.0, vocab * dim),
            Just(kind),
        )
            .prop_map(move |(mut logits, mut basis, kind)| {
                match kind {
                    Degeneracy::None => {}
                    Degeneracy::DuplicateRows => {
                        for j in (1..vocab).step_by(2) {
                            let (src, dst) = ((j - 1) * dim, j * dim);
                            basis.copy_within(src..src + dim, dst);
                        }
                    }
                    Degeneracy::RankDeficient => {
                        // Powers of two keep the columns exactly dependent in f32; inexact
                        // multiples would leave near-dependent rows, an ill-posed problem
                        // (the verifier then leaves tokens undecided, rightly).
                        for j in 0..vocab {
                            let first = basis[j * dim];
                            for k in 1..dim {
                                basis[j * dim + k] = first * [2.0, -0.5, 4.0][(k - 1) % 3];
                            }
                        }
                    }
                    Degeneracy::Masked => {
                        for j in (2..vocab).step_by(3) {
                            logits[j] = f32::NEG_INFINITY;
                        }
                    }
                    Degeneracy::Ties => {
                        for j in (1..vocab).step_by(2) {
                            logits[j] = logits[j - 1];
                        }
                    }
                }
                Tiny {
                    logits,
                    basis,
                    vocab,
                    dim,
                }
            })
    })
}

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
    let mut model = vars.minimise(p[token]).using(good_lp::microlp);
    for k in 0..basis.dim() {
        let lhs: Expression = p
            .iter()
            .enumerate()
            .map(|(j, &v)| f64::from(basis.row(j)[k]) * v)
            .sum();
        let rhs: f64 = q
            .iter()
            .enumerate()
            .map(|(j, &qj)| f64::from(basis.row(j)[k]) * qj)
            .sum();
        model = model.with(constraint!(lhs == rhs));
    }
    let total: Expression = p.iter().copied().sum();
    model = model.with(constraint!(total == 1.0));
    let solution = model
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
    for k in 0..basis.dim() {
        let lhs: Expression = p
            .iter()
            .enumerate()
            .map(|(j, &v)| f64::from(basis.row(j)[k]) * v)
            .sum();
        let rhs: f64 = q
            .iter()
            .enumerate()
            .map(|(j, &qj)| f64::from(basis.row(j)[k]) * qj)
            .sum();
        model = model.with(constraint!(lhs == rhs));
    }
    let total: Expression = p.iter().copied().sum();
    model = model.with(constraint!(total == 1.0));
    let solution = model.solve().ok()?;
    Some(1.0 - 1.0 / solution.value(sigma))
}

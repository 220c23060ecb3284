//! A harness for checking reductions (feature `proptest`): strategies for decode steps that
//! stress the rule (controlled entropy and rank, duplicate rows, `-inf` logits, ties) and
//! [`check_reduction`], which runs a reduction against the exact rule decided token by token by
//! an oracle backend, and reports every decision it changed.
//!
//! ```
//! use basis_aware::backends::SimplexBackend;
//! use basis_aware::reduction::{Reduction, Workspace};
//! use basis_aware::testing::{case, check_reduction};
//! use basis_aware::{Rule, Step};
//! use proptest::prelude::*;
//! use proptest::test_runner::TestRunner;
//!
//! /// A user's reduction: solve the pending tokens from the least probable up (exact: it only
//! /// chooses the order of the LPs).
//! struct BottomUp;
//!
//! impl Reduction for BottomUp {
//!     fn name(&self) -> &'static str {
//!         "bottom-up"
//!     }
//!     fn reduce(&mut self, work: &mut Workspace<'_, '_>, pending: &[u32]) {
//!         for &t in pending.iter().rev() {
//!             if !work.is_settled(t) {
//!                 work.solve(t);
//!             }
//!         }
//!     }
//! }
//!
//! TestRunner::new(ProptestConfig::with_cases(16))
//!     .run(&case(12), |c| {
//!         let step = Step::new(&c.logits, &Rule::Eta(0.05)).unwrap();
//!         let report = check_reduction(
//!             &mut BottomUp,
//!             &step,
//!             &c.basis(),
//!             &mut SimplexBackend::default(),
//!             &mut SimplexBackend::default(),
//!         )
//!         .unwrap();
//!         prop_assert!(report.is_sound(), "{report}");
//!         Ok(())
//!     })
//!     .unwrap();
//! ```

use std::fmt;

use proptest::prelude::*;

use crate::backend::Backend;
use crate::basis::Basis;
use crate::error::Result;
use crate::matrix::MatrixView;
use crate::reduction::{EachToken, Exactness, Reduction};
use crate::step::Step;
use crate::truncate::decide_tokens_with;

/// A small decode step: logits and a row-major `vocab x dim` basis.
#[derive(Debug, Clone)]
pub struct Case {
    /// Row-major `[V]` logits of the step.
    pub logits: Vec<f32>,
    /// Row-major `[V, dim]` basis.
    pub basis: Vec<f32>,
    /// Vocabulary size `V`.
    pub vocab: usize,
    /// Basis columns `m`.
    pub dim: usize,
    /// How the case is made awkward.
    pub degeneracy: Degeneracy,
}

impl Case {
    /// The basis as the crate's type (an explicit matrix).
    pub fn basis(&self) -> Basis {
        Basis::explicit(
            MatrixView::new(&self.basis, self.vocab, self.dim).expect("the strategy sizes agree"),
        )
        .expect("the strategy draws finite entries")
    }
}

/// How a case is made awkward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Degeneracy {
    /// A plain random case.
    None,
    /// Pairs of tokens share a basis row.
    DuplicateRows,
    /// The basis columns span one dimension, whatever their number (exactly: powers of two).
    RankDeficient,
    /// Every third token from the third on has logit `-inf`.
    Masked,
    /// Pairs of tokens share a logit (ties in `q`, also at `tau`).
    Ties,
}

/// Any [`Degeneracy`], uniformly.
pub fn degeneracy() -> impl Strategy<Value = Degeneracy> {
    prop_oneof![
        Just(Degeneracy::None),
        Just(Degeneracy::DuplicateRows),
        Just(Degeneracy::RankDeficient),
        Just(Degeneracy::Masked),
        Just(Degeneracy::Ties),
    ]
}

/// Cases of 4 to `max_vocab` tokens, 1 to 4 basis columns, logits in `[-5, 5]`, any degeneracy.
pub fn case(max_vocab: usize) -> impl Strategy<Value = Case> {
    cases(4..=max_vocab.max(4), 1..=4, 5.0)
}

/// Cases with `vocab` tokens, `dim` basis columns and logits uniform in `[-spread, spread]`: a
/// larger spread is a lower entropy. The basis has full column rank unless the degeneracy says
/// otherwise.
pub fn cases(
    vocab: std::ops::RangeInclusive<usize>,
    dim: std::ops::RangeInclusive<usize>,
    spread: f32,
) -> impl Strategy<Value = Case> {
    let spread = spread.abs().max(f32::MIN_POSITIVE);
    (vocab, dim, degeneracy()).prop_flat_map(move |(vocab, dim, degeneracy)| {
        (
            prop::collection::vec(-spread..spread, vocab),
            prop::collection::vec(-1.0f32..1.0, vocab * dim),
        )
            .prop_map(move |(logits, basis)| {
                degenerate(Case {
                    logits,
                    basis,
                    vocab,
                    dim,
                    degeneracy,
                })
            })
    })
}

fn degenerate(mut c: Case) -> Case {
    let (vocab, dim) = (c.vocab, c.dim);
    match c.degeneracy {
        Degeneracy::None => {}
        Degeneracy::DuplicateRows => {
            for j in (1..vocab).step_by(2) {
                let (src, dst) = ((j - 1) * dim, j * dim);
                c.basis.copy_within(src..src + dim, dst);
            }
        }
        Degeneracy::RankDeficient => {
            // Powers of two keep the columns exactly dependent in f32; inexact multiples would
            // leave near-dependent rows, an ill-posed problem.
            for j in 0..vocab {
                let first = c.basis[j * dim];
                for k in 1..dim {
                    c.basis[j * dim + k] = first * [2.0, -0.5, 4.0][(k - 1) % 3];
                }
            }
        }
        Degeneracy::Masked => {
            for j in (2..vocab).step_by(3) {
                c.logits[j] = f32::NEG_INFINITY;
            }
        }
        Degeneracy::Ties => {
            for j in (1..vocab).step_by(2) {
                c.logits[j] = c.logits[j - 1];
            }
        }
    }
    c
}

/// What a reduction changed against the exact rule on one step.
#[derive(Debug, Clone, PartialEq)]
pub struct ReductionReport {
    /// The reduction's name.
    pub name: &'static str,
    /// Whether it declares itself exact.
    pub exactness: Exactness,
    /// Tokens below the threshold decided by both the reduction's pipeline and the oracle.
    pub compared: usize,
    /// Kept by the exact rule, rejected after the reduction.
    pub kept_to_rejected: Vec<u32>,
    /// Rejected by the exact rule, kept after the reduction.
    pub rejected_to_kept: Vec<u32>,
}

impl ReductionReport {
    /// Decisions changed.
    pub fn changed(&self) -> usize {
        self.kept_to_rejected.len() + self.rejected_to_kept.len()
    }

    /// An exact reduction must change nothing; an approximate one is sound by declaration and
    /// judged by its rates instead.
    pub fn is_sound(&self) -> bool {
        self.exactness == Exactness::Approximate || self.changed() == 0
    }
}

impl fmt::Display for ReductionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({:?}): of {} decisions, {} kept tokens rejected {:?}, {} rejected tokens kept {:?}",
            self.name,
            self.exactness,
            self.compared,
            self.kept_to_rejected.len(),
            self.kept_to_rejected,
            self.rejected_to_kept.len(),
            self.rejected_to_kept
        )
    }
}

/// Runs `reduction` (followed by per-token solves for whatever it leaves, with `backend`) on
/// every token of `step`, and compares each decision with the exact rule decided token by token
/// by `oracle` (HiGHS on the unreduced problem is the reference; any backend works). Tokens
/// either side leaves undecided are not compared.
pub fn check_reduction(
    reduction: &mut dyn Reduction,
    step: &Step,
    basis: &Basis,
    oracle: &mut dyn Backend,
    backend: &mut dyn Backend,
) -> Result<ReductionReport> {
    let all: Vec<u32> = (0..step.vocab() as u32).collect();
    let name = reduction.name();
    let exactness = reduction.exactness();
    let (exact, _) =
        decide_tokens_with(step, basis, &all, Some(oracle), &mut [Box::new(EachToken)])?;
    let (reduced, _) = decide_tokens_with(
        step,
        basis,
        &all,
        Some(backend),
        &mut [Box::new(reduction), Box::new(EachToken)],
    )?;
    let mut report = ReductionReport {
        name,
        exactness,
        compared: 0,
        kept_to_rejected: Vec::new(),
        rejected_to_kept: Vec::new(),
    };
    for (t, (e, r)) in all.iter().zip(exact.iter().zip(&reduced)) {
        if e.is_undecided() || r.is_undecided() || step.above_threshold(*t) {
            continue;
        }
        report.compared += 1;
        match (e.is_keep(), r.is_keep()) {
            (true, false) => report.kept_to_rejected.push(*t),
            (false, true) => report.rejected_to_kept.push(*t),
            _ => {}
        }
    }
    Ok(report)
}

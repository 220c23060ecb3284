//! Issue 12's instance classes against ground truth, outside CI:
//! `cargo run --release -p basis-aware-tools --example verifier_sweep -- N` (N instances per class).
//!
//! - `shared-deep` / `shared-moderate`: every token but `X` has a row `t_j c` (one shared
//!   direction, exact in f32), `X` a generic row, `q_X` in `[1e-20, 4e-10]` / `[1e-6, 1e-3]`.
//!   `X` is provably kept (its row leaves the span), so any reject of `X` is wrong.
//! - `scaled`: a generic small step decided with `B`, `2^100 B` and `2^-100 B`; the decisions
//!   must agree (the rule is invariant under scaling `B`).
//!
//! Other tokens are checked against good_lp + microlp (`min p_i`), skipping marginal minima.

use basis_aware::backends::SimplexBackend;
use basis_aware::synthetic::{gaussian, rng as seeded, SeededRng};
use basis_aware::{decide_tokens, Basis, MatrixView, Outcome, Step};
use rand::RngExt;

const MARGINAL: f64 = 1e-6;

#[allow(dead_code)]
#[path = "../../tests/common/oracle.rs"]
mod oracle;
use oracle::try_min_mass;

#[derive(Default, Debug)]
struct Tally {
    instances: usize,
    decided: usize,
    undecided: usize,
    /// Undecided tokens whose true minimum mass is within `MARGINAL` of zero (relative to `q`):
    /// on the boundary, where undecided is the only honest answer (or microlp gave no answer).
    undecided_marginal: usize,
    /// Undecided tokens the oracle says are kept (the rest of the non-marginal ones are rejects).
    undecided_keeps: usize,
    wrong_keeps: usize,
    wrong_rejects: usize,
}

fn shared(rng: &mut SeededRng, deep: bool) -> (Basis, Step) {
    let (v, m) = (7usize, 4usize);
    let c: Vec<f32> = (0..m)
        .map(|_| (rng.random::<f64>() * 8.0).floor() as f32 / 4.0 - 1.0)
        .collect();
    let mut rows = Vec::new();
    for _ in 0..v - 1 {
        let t = (rng.random::<f64>() * 16.0).floor() as f32 / 4.0 - 2.0;
        rows.extend(c.iter().map(|&ck| t * ck));
    }
    rows.extend((0..m).map(|_| gaussian(rng) as f32));
    let basis = Basis::explicit(MatrixView::new(&rows, v, m).unwrap()).unwrap();
    let qx = if deep {
        10f64.powf(-20.0 + rng.random::<f64>() * (20.0 - 9.4))
    } else {
        10f64.powf(-6.0 + rng.random::<f64>() * 3.0)
    };
    let mut q: Vec<f64> = (0..v - 1).map(|_| 0.05 + rng.random::<f64>()).collect();
    let total: f64 = q.iter().sum();
    q.iter_mut().for_each(|x| *x *= (1.0 - qx) / total);
    q.push(qx);
    let tau = 0.05 + 0.4 * rng.random::<f64>();
    (basis, Step::from_probabilities(q, tau).unwrap())
}

fn check(step: &Step, basis: &Basis, structural_keep: Option<usize>, tally: &mut Tally) {
    let tokens: Vec<u32> = (0..step.vocab() as u32).collect();
    let (outcomes, _) =
        decide_tokens(step, basis, &tokens, Some(&mut SimplexBackend::default())).unwrap();
    tally.instances += 1;
    for (i, o) in outcomes.iter().enumerate() {
        if step.above_threshold(i as u32) || step.q()[i] == 0.0 {
            continue;
        }
        let truth_keep = if Some(i) == structural_keep {
            Some(true)
        } else {
            try_min_mass(step, basis, i).and_then(|mn| {
                let rel = mn / step.q()[i];
                (rel.abs() > MARGINAL).then_some(rel > 0.0)
            })
        };
        if o.is_undecided() {
            tally.undecided += 1;
            match truth_keep {
                None => tally.undecided_marginal += 1,
                Some(true) => tally.undecided_keeps += 1,
                Some(false) => {}
            }
            continue;
        }
        tally.decided += 1;
        match (truth_keep, o) {
            (Some(true), Outcome::Reject(_)) => tally.wrong_rejects += 1,
            (Some(false), Outcome::Keep(_)) => tally.wrong_keeps += 1,
            _ => {}
        }
    }
}

/// Decisions of every token, the simplex backend, default pipeline.
fn decisions(step: &Step, rows: &[f32], v: usize, m: usize) -> Vec<Outcome> {
    let basis = Basis::explicit(MatrixView::new(rows, v, m).unwrap()).unwrap();
    let tokens: Vec<u32> = (0..v as u32).collect();
    decide_tokens(step, &basis, &tokens, Some(&mut SimplexBackend::default()))
        .unwrap()
        .0
}

/// How many decisions of `scaled` contradict `base` (a keep against a reject).
fn contradictions(base: &[Outcome], scaled: &[Outcome]) -> usize {
    base.iter()
        .zip(scaled)
        .filter(|(a, b)| (a.is_keep() && b.is_reject()) || (a.is_reject() && b.is_keep()))
        .count()
}

/// `[B 1]` within f32 rounding of rank 3: `b_j = c0 + t_j c1 + 1e-7 g_j`.
fn nearly_rank_deficient(rng: &mut SeededRng) -> (Vec<f32>, Step) {
    let (v, m) = (10usize, 4usize);
    let c0: Vec<f64> = (0..m).map(|_| gaussian(rng)).collect();
    let c1: Vec<f64> = (0..m).map(|_| gaussian(rng)).collect();
    let mut rows = Vec::with_capacity(v * m);
    for _ in 0..v {
        let t = gaussian(rng);
        rows.extend((0..m).map(|k| (c0[k] + t * c1[k] + 1e-7 * gaussian(rng)) as f32));
    }
    let logits: Vec<f32> = (0..v).map(|_| (gaussian(rng) * 3.0) as f32).collect();
    (
        rows,
        Step::new(&logits, &basis_aware::Rule::Eta(0.1)).unwrap(),
    )
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let mut rng = seeded(12);
    for (name, deep) in [("shared-deep", true), ("shared-moderate", false)] {
        let mut tally = Tally::default();
        for _ in 0..n {
            let (basis, step) = shared(&mut rng, deep);
            check(&step, &basis, Some(6), &mut tally);
        }
        println!("{name}: {tally:?}");
    }
    let mut tally = Tally::default();
    for _ in 0..n {
        let (rows, step) = nearly_rank_deficient(&mut rng);
        let basis = Basis::explicit(MatrixView::new(&rows, 10, 4).unwrap()).unwrap();
        check(&step, &basis, None, &mut tally);
    }
    println!("nearly-rank-deficient: {tally:?}");
    // Generic Gaussian steps: against microlp, and the same step with `B` scaled by 2^+-100
    // (exact in f32, so the LP is the same) and by 1e+-30 (rounded, so marginal tokens may move).
    let (mut generic, mut wide) = (Tally::default(), Tally::default());
    let (mut exact_scale, mut rounded_scale) = (0, 0);
    for k in 0..n {
        let (v, m) = (10usize, 3usize);
        let rows: Vec<f32> = (0..v * m).map(|_| gaussian(&mut rng) as f32).collect();
        // Every other step has logits spread over ~250 nats (q from 1 down to 1e-100).
        let spread = if k % 2 == 0 { 3.0 } else { 60.0 };
        let logits: Vec<f32> = (0..v)
            .map(|_| (gaussian(&mut rng) * spread) as f32)
            .collect();
        let step = Step::new(&logits, &basis_aware::Rule::Eta(0.1)).unwrap();
        let base = decisions(&step, &rows, v, m);
        for scale in [2f32.powi(100), 2f32.powi(-100)] {
            let scaled: Vec<f32> = rows.iter().map(|&b| b * scale).collect();
            exact_scale += contradictions(&base, &decisions(&step, &scaled, v, m));
        }
        for scale in [1e30f32, 1e-30] {
            let scaled: Vec<f32> = rows.iter().map(|&b| b * scale).collect();
            rounded_scale += contradictions(&base, &decisions(&step, &scaled, v, m));
        }
        let basis = Basis::explicit(MatrixView::new(&rows, v, m).unwrap()).unwrap();
        let tally = if k % 2 == 0 { &mut generic } else { &mut wide };
        check(&step, &basis, None, tally);
    }
    println!("generic: {generic:?}");
    println!("wide-logits (q down to 1e-100): {wide:?}");
    println!(
        "B scaled by 2^+-100: {exact_scale} decisions contradict the unscaled basis; by 1e+-30: {rounded_scale}"
    );
}

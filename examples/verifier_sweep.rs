//! Issue 12's instance classes against ground truth, outside CI:
//! `cargo run --example verifier_sweep --features simplex -- N` (N instances per class).
//!
//! - `shared-deep` / `shared-moderate`: every token but `X` has a row `t_j c` (one shared
//!   direction, exact in f32), `X` a generic row, `q_X` in `[1e-20, 4e-10]` / `[1e-6, 1e-3]`.
//!   `X` is provably kept (its row leaves the span), so any reject of `X` is wrong.
//! - `scaled`: a generic small step decided with `B`, `2^100 B` and `2^-100 B`; the decisions
//!   must agree (the rule is invariant under scaling `B`).
//!
//! Other tokens are checked against good_lp + microlp (`min p_i`), skipping marginal minima.

use basis_aware::backends::SimplexBackend;
use basis_aware::synthetic::SplitMix64;
use basis_aware::{decide_tokens, Basis, MatrixView, Outcome, Step};
use good_lp::{constraint, variable, variables, Expression, Solution, SolverModel};

const MARGINAL: f64 = 1e-6;

fn min_mass(step: &Step, basis: &Basis, token: usize) -> Option<f64> {
    let q = step.q();
    let mut vars = variables!();
    let p: Vec<_> = q
        .iter()
        .map(|&qj| vars.add(variable().min(0.0).max(step.sigma() * qj)))
        .collect();
    let mut model = vars.minimise(p[token]).using(good_lp::microlp);
    for k in 0..basis.dim() {
        let row = |j: usize| f64::from(basis.row(j).unwrap()[k]);
        let lhs: Expression = p.iter().enumerate().map(|(j, &v)| row(j) * v).sum();
        let rhs: f64 = q.iter().enumerate().map(|(j, &qj)| row(j) * qj).sum();
        model = model.with(constraint!(lhs == rhs));
    }
    let total: Expression = p.iter().copied().sum();
    model = model.with(constraint!(total == 1.0));
    model.solve().ok().map(|s| s.value(p[token]))
}

#[derive(Default, Debug)]
struct Tally {
    instances: usize,
    decided: usize,
    undecided: usize,
    wrong_keeps: usize,
    wrong_rejects: usize,
}

fn shared(rng: &mut SplitMix64, deep: bool) -> (Basis, Step) {
    let (v, m) = (7usize, 4usize);
    let c: Vec<f32> = (0..m)
        .map(|_| (rng.uniform() * 8.0).floor() as f32 / 4.0 - 1.0)
        .collect();
    let mut rows = Vec::new();
    for _ in 0..v - 1 {
        let t = (rng.uniform() * 16.0).floor() as f32 / 4.0 - 2.0;
        rows.extend(c.iter().map(|&ck| t * ck));
    }
    rows.extend((0..m).map(|_| rng.gaussian() as f32));
    let basis = Basis::explicit(MatrixView::new(&rows, v, m).unwrap()).unwrap();
    let qx = if deep {
        10f64.powf(-20.0 + rng.uniform() * (20.0 - 9.4))
    } else {
        10f64.powf(-6.0 + rng.uniform() * 3.0)
    };
    let mut q: Vec<f64> = (0..v - 1).map(|_| 0.05 + rng.uniform()).collect();
    let total: f64 = q.iter().sum();
    q.iter_mut().for_each(|x| *x *= (1.0 - qx) / total);
    q.push(qx);
    let tau = 0.05 + 0.4 * rng.uniform();
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
        if o.is_undecided() {
            tally.undecided += 1;
            continue;
        }
        tally.decided += 1;
        let truth_keep = if Some(i) == structural_keep {
            Some(true)
        } else {
            min_mass(step, basis, i).and_then(|mn| {
                let rel = mn / step.q()[i];
                (rel.abs() > MARGINAL).then_some(rel > 0.0)
            })
        };
        match (truth_keep, o) {
            (Some(true), Outcome::Reject(_)) => tally.wrong_rejects += 1,
            (Some(false), Outcome::Keep(_)) => tally.wrong_keeps += 1,
            _ => {}
        }
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let mut rng = SplitMix64::new(12);
    for (name, deep) in [("shared-deep", true), ("shared-moderate", false)] {
        let mut tally = Tally::default();
        for _ in 0..n {
            let (basis, step) = shared(&mut rng, deep);
            check(&step, &basis, Some(6), &mut tally);
        }
        println!("{name}: {tally:?}");
    }
    let mut tally = Tally::default();
    let mut disagreements = 0;
    for _ in 0..n {
        let (v, m) = (10usize, 3usize);
        let rows: Vec<f32> = (0..v * m).map(|_| rng.gaussian() as f32).collect();
        let logits: Vec<f32> = (0..v).map(|_| (rng.gaussian() * 3.0) as f32).collect();
        let step = Step::new(&logits, &basis_aware::Rule::Eta(0.1)).unwrap();
        let decide = |scale: f32| {
            let scaled: Vec<f32> = rows.iter().map(|&b| b * scale).collect();
            let basis = Basis::explicit(MatrixView::new(&scaled, v, m).unwrap()).unwrap();
            let tokens: Vec<u32> = (0..v as u32).collect();
            decide_tokens(&step, &basis, &tokens, Some(&mut SimplexBackend::default()))
                .unwrap()
                .0
        };
        let base = decide(1.0);
        for scale in [2f32.powi(100), 2f32.powi(-100)] {
            for (a, b) in base.iter().zip(decide(scale)) {
                if (a.is_keep() && b.is_reject()) || (a.is_reject() && b.is_keep()) {
                    disagreements += 1;
                }
            }
        }
        let basis = Basis::explicit(MatrixView::new(&rows, v, m).unwrap()).unwrap();
        check(&step, &basis, None, &mut tally);
    }
    println!("scaled: {tally:?}, decisions contradicting the unscaled basis: {disagreements}");
}

//! Two measurements for issue 12 (run outside CI):
//! - a call with a deadline on a flat `V = 20000`, `m = 64` step returns within the deadline
//!   plus about one LP's worth;
//! - the memory a batch keeps: compact outcomes against full certificates, 64 rows at `V = 2000`.
//!
//! `cargo run --release -p basis-aware-tools --example budgets [deadline_seconds]`

use std::time::{Duration, Instant};

use basis_aware::backends::SimplexBackend;
use basis_aware::reduction::default_pipeline;
use basis_aware::synthetic::gaussian_instance;
use basis_aware::{
    truncate_with_certificates, truncate_within, Budget, Outcome, RejectProof, Rule,
};

fn main() -> Result<(), basis_aware::Error> {
    let deadline: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1.0);
    let flat = gaussian_instance(20_000, 64, 1, 1.0, 7);
    let basis = flat.basis(None)?;
    let logits = flat.step_logits(0)?;
    // About half the tokens of this flat step fall below epsilon = 5e-5 (q is near 1/V).
    let flat_rule = Rule::Epsilon(5e-5);
    let rule = Rule::Eta(9e-4);
    for per_lp in [None, Some(Duration::from_secs_f64(deadline / 4.0))] {
        let mut budget = Budget::within(Duration::from_secs_f64(deadline));
        if let Some(t) = per_lp {
            budget = budget.with_per_lp(t);
        }
        let start = Instant::now();
        let t = truncate_within(
            logits,
            &basis,
            &flat_rule,
            Some(&mut SimplexBackend::default()),
            &mut default_pipeline(),
            budget,
        )?;
        println!(
            "flat V=20000 m=64, epsilon 5e-5, deadline {deadline} s, per-LP {per_lp:?}: returned after {:.3} s; kept {}, undecided {}, {} solves + {} set solves, backend {:.3} s",
            start.elapsed().as_secs_f64(),
            t.kept.len(),
            t.counts.undecided,
            t.counts.solves,
            t.counts.set_solves,
            t.backend_time.as_secs_f64()
        );
    }
    // Memory a batch of 64 rows at V = 2000 keeps alive.
    let batch = gaussian_instance(2000, 16, 64, 8.0, 11);
    let basis = batch.basis(Some(8))?;
    let (mut compact, mut full, mut certs) = (0usize, 0usize, 0usize);
    for row in 0..64 {
        let (t, outcomes) = truncate_with_certificates(
            batch.step_logits(row)?,
            &basis,
            &rule,
            Some(&mut SimplexBackend::default()),
            &mut default_pipeline(),
            Budget::unlimited(),
        )?;
        compact += std::mem::size_of_val(&t.outcomes[..]) + std::mem::size_of_val(&t.kept[..]);
        let mut seen = std::collections::HashSet::new();
        for o in &outcomes {
            full += std::mem::size_of::<Outcome>();
            let bytes = match o {
                Outcome::Reject(RejectProof::Point(c))
                    if seen.insert(std::sync::Arc::as_ptr(c) as usize) =>
                {
                    c.changes.len() * std::mem::size_of::<(u32, f64)>()
                }
                Outcome::Keep(basis_aware::KeepProof::Dual(c))
                    if seen.insert(std::sync::Arc::as_ptr(c) as usize) =>
                {
                    c.y.len() * 8
                }
                _ => 0,
            };
            if bytes > 0 {
                certs += 1;
            }
            full += bytes;
        }
    }
    println!(
        "batch 64 x V=2000: compact outcomes {:.2} MB; with certificates {:.2} MB ({certs} certificates)",
        compact as f64 / 1e6,
        full as f64 / 1e6
    );
    Ok(())
}

//! What the simplex backend's warm start buys when tokens are decided one after another on the
//! same step (a lazy sampler's redraws, a full mask token by token): the tokens below `tau` of each
//! step, most probable first, decided by one backend that carries its basis from token to token
//! and, token by token, by a fresh cold one. Prints the time per token of both, their ratio, and
//! how many decisions differ (none should contradict: a warm start changes the path only).
//!
//!     basis-aware export --prompt "The best thing about living by the sea is" --steps 4 --out smol.safetensors
//!     cargo run --release -p basis-aware-tools --example warm_start -- smol.safetensors [SVD_RANK|full] [TOKENS] [STEPS]
//!
//! Defaults: rank 20, 60 tokens a step, every step of the file.

use std::time::Instant;

use basis_aware::backends::SimplexBackend;
use basis_aware::{decide, Rule, Step};
use basis_aware_tools::instance::Instance;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: warm_start FILE [SVD_RANK|full] [TOKENS] [STEPS]";
    let path = args.first().ok_or(usage)?;
    let rank = match args.get(1).map(String::as_str) {
        Some("full") => None,
        Some(r) => Some(r.parse()?),
        None => Some(20),
    };
    let tokens: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(60);
    let instance = Instance::load(path)?;
    let steps: usize = args
        .get(3)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(instance.steps);
    let basis = instance.basis(rank)?;
    let mut warm = SimplexBackend::default();
    let (mut warm_s, mut cold_s, mut decided, mut differ) = (0.0, 0.0, 0, 0);
    for k in 0..steps.min(instance.steps) {
        let step = Step::new(instance.step_logits(k)?, &Rule::Eta(9e-4))?;
        let below = step
            .by_probability()
            .iter()
            .copied()
            .filter(|&t| !step.above_threshold(t));
        for t in below.take(tokens) {
            let started = Instant::now();
            let a = decide(&step, &basis, t, Some(&mut warm))?;
            warm_s += started.elapsed().as_secs_f64();
            let started = Instant::now();
            let b = decide(&step, &basis, t, Some(&mut SimplexBackend::cold()))?;
            cold_s += started.elapsed().as_secs_f64();
            if (a.is_keep() && b.is_reject()) || (a.is_reject() && b.is_keep()) {
                return Err(format!("step {k}, token {t}: warm {a:?}, cold {b:?}").into());
            }
            decided += 1;
            differ += usize::from(a.is_keep() != b.is_keep() || a.is_reject() != b.is_reject());
        }
    }
    let per = |s: f64| 1e3 * s / decided.max(1) as f64;
    println!(
        "{decided} tokens, m + 1 = {}: warm {:.3} ms a token, cold {:.3} ms, cold / warm {:.2}, {differ} decided differently",
        basis.dim() + 1,
        per(warm_s),
        per(cold_s),
        cold_s / warm_s
    );
    Ok(())
}

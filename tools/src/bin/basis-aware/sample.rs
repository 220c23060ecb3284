//! `basis-aware sample`: lazy draws from the steps of an instance file through one `Bat`, as a
//! decode loop makes them.

use std::time::{Duration, Instant};

use basis_aware::synthetic;
use serde_json::json;

use crate::backend;
use crate::steps::{StepArgs, Steps};

/// Draw tokens lazily from the steps of an instance file through one `Bat`: its state (the
/// backend's warm start) carries over from draw to draw and step to step, as in a decode loop.
/// Draw k of every step is seeded with SEED + k.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub input: StepArgs,
    /// Draws per step.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub draws: usize,
    /// Seed of the first draw; draw k is seeded with SEED + k.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Bound on each draw's wall time, in seconds: no LP starts after it, and a candidate left
    /// undecided is refused.
    #[arg(long, value_name = "SECONDS", value_parser = backend::seconds)]
    pub time_limit: Option<Duration>,
    /// One JSON object per step on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<(), String> {
    let Steps {
        instance,
        basis,
        steps,
    } = args.input.load()?;
    let mut bat = args.input.bat(&basis, args.time_limit)?;
    if args.input.backend_name() == "none" && !args.json {
        eprintln!("basis-aware: no LP backend: tokens below the threshold are refused");
    }
    for k in steps {
        let logits = instance.step_logits(k).map_err(|e| e.to_string())?;
        let tau = bat.step(logits).map_err(|e| e.to_string())?.tau();
        let mut draws = Vec::with_capacity(args.draws);
        for d in 0..args.draws {
            let mut rng = synthetic::rng(args.seed.wrapping_add(d as u64));
            let started = Instant::now();
            let draw = bat.sample(logits, &mut rng).map_err(|e| e.to_string())?;
            let us = started.elapsed().as_micros() as u64;
            draws.push((draw, us));
        }
        if args.json {
            let draws: Vec<_> = draws
                .iter()
                .map(|(d, us)| {
                    json!({"token": d.token, "below_tau": d.below_threshold(), "lps": d.solves, "us": us})
                })
                .collect();
            println!("{}", json!({"step": k, "tau": tau, "draws": draws}));
        } else {
            println!("step {k}: tau {tau:.3e}, {} draws", draws.len());
            println!(
                "  {:>5} {:>8} {:>9} {:>5} {:>10}",
                "draw", "token", "below tau", "LPs", "time"
            );
            for (i, (d, us)) in draws.iter().enumerate() {
                println!(
                    "  {i:>5} {:>8} {:>9} {:>5} {:>8.3}ms",
                    d.token,
                    if d.below_threshold() { "yes" } else { "no" },
                    d.solves,
                    *us as f64 / 1e3
                );
            }
        }
    }
    Ok(())
}

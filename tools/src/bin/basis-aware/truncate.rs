//! `basis-aware truncate`: BAT's decisions on the steps of an instance file, as a readable
//! summary or one JSON object per step.

use std::time::{Duration, Instant};

use basis_aware::{Bat, Counts, Outcome, Step};
use serde_json::json;

use crate::backend;
use crate::steps::{StepArgs, Steps};

/// Decide BAT truncation on the steps of an instance file.
///
/// An instance is a safetensors file with `logits` `[n, V]` and either `basis` `[V, m]` (used as
/// given) or `embedding` `[V, d]` (the model's `W`); f32, f16, bf16 and f64 are read.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub input: StepArgs,
    /// Decide only these tokens.
    #[arg(long, value_name = "ID,ID,...", value_delimiter = ',')]
    pub tokens: Option<Vec<u32>>,
    /// Decide the listed tokens one call apiece (no certificate shared) and time each.
    #[arg(long, requires = "tokens")]
    pub each: bool,
    /// Bound on each call's wall time, in seconds (a step's decision; with --each, each
    /// token's): no LP starts after it and each LP is capped by it; tokens left open are
    /// undecided.
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
    let make = || args.input.bat(&basis, args.time_limit);
    let mut bat = make()?;
    if args.input.backend_name() == "none" && !args.json {
        eprintln!("basis-aware: no LP backend: tokens below the threshold stay undecided");
    }
    for k in steps {
        let started = Instant::now();
        let logits = instance.step_logits(k).map_err(|e| e.to_string())?;
        let step = bat.step(logits).map_err(|e| e.to_string())?;
        let all: Vec<u32>;
        let listed = match &args.tokens {
            Some(t) => t.as_slice(),
            None => {
                all = (0..instance.vocab as u32).collect();
                &all
            }
        };
        // With --each: the per-step setup time, then each token's.
        let mut timed: Option<(u64, Vec<u64>)> = None;
        let (outcomes, counts) = if args.each {
            // The probability order is per step, shared by every token: sorted before the clocks.
            step.by_probability();
            let (_, token_us) = timed.insert((started.elapsed().as_micros() as u64, vec![]));
            decide_each(&step, listed, make, token_us)?
        } else {
            bat.decide_tokens(&step, listed)
                .map_err(|e| e.to_string())?
        };
        let pick = |f: fn(&Outcome) -> bool| -> Vec<u32> {
            listed
                .iter()
                .zip(&outcomes)
                .filter(|(_, o)| f(o))
                .map(|(&t, _)| t)
                .collect()
        };
        let (kept, rejected, undecided) = (
            pick(Outcome::is_keep),
            pick(Outcome::is_reject),
            pick(Outcome::is_undecided),
        );
        let elapsed_us = started.elapsed().as_micros() as u64;
        if args.json {
            let mut line = json!({
                "step": k, "tau": step.tau(), "kept": kept, "undecided": undecided, "elapsed_us": elapsed_us,
            });
            if args.tokens.is_some() {
                line["rejected"] = json!(rejected);
            } else {
                line["rejected_count"] = json!(rejected.len());
            }
            if let Some((step_us, token_us)) = &timed {
                line["step_us"] = json!(step_us);
                line["token_us"] = json!(token_us);
            }
            println!("{line}");
        } else {
            println!(
                "step {k}: tau {:.3e}, kept {} ({} by threshold, {} by BAT), rejected {} ({} in chunks), undecided {}, {} LP solves + {} chunk solves, {:.1} ms",
                step.tau(), kept.len(), counts.threshold_kept, counts.dual_kept, rejected.len(),
                counts.chunk_rejected, undecided.len(), counts.solves, counts.set_solves,
                elapsed_us as f64 / 1e3
            );
            // The reasons of the first few; without a backend every token below tau is listed.
            const SHOWN: usize = 20;
            let reasons = listed.iter().zip(&outcomes).filter_map(|(t, o)| match o {
                Outcome::Undecided(reason) => Some((t, reason)),
                _ => None,
            });
            for (t, reason) in reasons.take(SHOWN) {
                println!("  token {t} undecided: {reason:?}");
            }
            if undecided.len() > SHOWN {
                println!("  ... and {} more undecided", undecided.len() - SHOWN);
            }
        }
    }
    Ok(())
}

/// `--each`: every listed token decided by a call of its own on a fresh `Bat` (no certificate
/// shared between tokens, no warm start), so that each wall time, pushed onto `token_us` in list
/// order, belongs to one decision: comparable with a solver run per token.
fn decide_each(
    step: &Step,
    tokens: &[u32],
    make: impl Fn() -> Result<Bat, String>,
    token_us: &mut Vec<u64>,
) -> Result<(Vec<Outcome>, Counts), String> {
    let mut outcomes = Vec::with_capacity(tokens.len());
    let mut counts = Counts::default();
    for &t in tokens {
        let mut bat = make()?;
        let started = Instant::now();
        let (decided, c) = bat.decide_tokens(step, &[t]).map_err(|e| e.to_string())?;
        token_us.push(started.elapsed().as_micros() as u64);
        outcomes.extend(decided);
        counts += c;
    }
    Ok((outcomes, counts))
}

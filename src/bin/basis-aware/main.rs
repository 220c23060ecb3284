//! Command-line front end: decide BAT truncation on instance files, and write synthetic ones.
//! Any bad input exits with code 2 and one line on stderr.

#[cfg(feature = "eval")]
mod evaluate;
mod flags;
mod match_text;
mod model;
#[cfg(any(feature = "candle", feature = "eval"))]
mod svg;

use std::process::ExitCode;
use std::time::Instant;

use basis_aware::instance::Instance;
use basis_aware::{
    backends, decide_tokens, synthetic, Backend, Basis, Counts, Outcome, Rule, Step,
};
use serde_json::json;

use flags::Flags;

const USAGE: &str = "usage:
  basis-aware truncate INSTANCE.safetensors [--step K] [--rule eta=0.0009|epsilon=E|top-p=P|top-k=K|min-p=M]
                       [--svd C] [--backend NAME] [--tokens ID,ID,... [--each]] [--time-limit SECONDS] [--json]
  basis-aware synth --out FILE.safetensors [--vocab V] [--dim D] [--steps N] [--scale S] [--seed N]
  basis-aware export --prompt TEXT --out FILE.safetensors [--steps N] [--model PATH]   (feature candle)
  basis-aware generate --prompt TEXT [--seed N] [--max-tokens N] [--rule R] [--svd C] [--window K]
                       [--plot FILE.svg] [--model PATH]                                  (feature candle)
  basis-aware match --text FILE --out DIR [--tokens N] [--window K] [--context C] [--start-line L]
                    [--svd C] [--sample S] [--rate R,R,...] [--rel-tol T] [--max-width W] [--max-tau T]
                    [--model PATH]                                                        (feature candle)
  basis-aware evaluate --out DIR [--seed N] [--contexts N] [--vocab V] [--dim D] [--latent L]
                       [--min-support K] [--max-support K] [--zipf A] [--steps N] [--lr X]
                       [--svd C,C,...] [--time-limit SECONDS] [--targets R,R,...]            (feature eval)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("basis-aware: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("truncate") => truncate(&args[1..]),
        Some("synth") => synth(&args[1..]),
        Some("export") => model::export(&args[1..]),
        Some("generate") => model::generate(&args[1..]),
        Some("match") => match_text::match_text(&args[1..]),
        #[cfg(feature = "eval")]
        Some("evaluate") => evaluate::evaluate(&args[1..]),
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err("expected a subcommand; see `basis-aware --help`".into()),
    }
}

#[cfg_attr(not(feature = "highs"), allow(unused_variables))]
fn make_backend(name: &str, time_limit: f64) -> Result<Option<Box<dyn Backend>>, String> {
    match name {
        "none" => Ok(None),
        #[cfg(feature = "simplex")]
        "simplex" => Ok(Some(Box::new(backends::SimplexBackend::with_time_limit(
            std::time::Duration::from_secs_f64(time_limit),
        )))),
        #[cfg(feature = "highs")]
        "highs" => Ok(Some(Box::new(backends::HighsBackend::with_time_limit(
            time_limit,
        )))),
        other => Err(format!(
            "backend `{other}` is not in this build; available: {}",
            backends::AVAILABLE
                .iter()
                .chain(&["none"])
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn truncate(args: &[String]) -> Result<(), String> {
    let flags = Flags::parse(
        args,
        &["step", "rule", "svd", "backend", "tokens", "time-limit"],
    )?;
    let [path] = flags.positional.as_slice() else {
        return Err("truncate takes one instance file; see `basis-aware --help`".into());
    };
    let rule: Rule = flags
        .get("rule")
        .unwrap_or("eta=0.0009")
        .parse()
        .map_err(|e| format!("--rule: {e}"))?;
    let svd = flags
        .get("svd")
        .map(|v| {
            v.parse::<usize>()
                .map_err(|_| format!("--svd: `{v}` is not a positive integer"))
        })
        .transpose()?;
    let time_limit: f64 = flags.number("time-limit", 60.0)?;
    if !(time_limit.is_finite() && time_limit > 0.0 && time_limit < 1e9) {
        return Err("--time-limit must be a positive number of seconds".into());
    }
    let default_backend = backends::AVAILABLE.first().copied().unwrap_or("none");
    let backend_name = flags.get("backend").unwrap_or(default_backend);
    let mut backend = make_backend(backend_name, time_limit)?;
    let tokens: Option<Vec<u32>> = flags
        .get("tokens")
        .map(|list| {
            list.split(',')
                .map(|t| {
                    t.trim()
                        .parse::<u32>()
                        .map_err(|_| format!("--tokens: `{t}` is not a token id"))
                })
                .collect()
        })
        .transpose()?;
    if flags.each && tokens.is_none() {
        return Err("--each times the tokens of --tokens one by one; give --tokens".into());
    }
    let instance = Instance::load(path).map_err(|e| e.to_string())?;
    let basis = instance.basis(svd).map_err(|e| e.to_string())?;
    let steps: Vec<usize> = match flags.get("step") {
        None => (0..instance.steps).collect(),
        Some(v) => vec![v
            .parse()
            .map_err(|_| format!("--step: `{v}` is not a step index"))?],
    };
    if backend.is_none() && !flags.json {
        eprintln!("basis-aware: no LP backend: tokens below the threshold stay undecided");
    }
    for k in steps {
        let started = Instant::now();
        let logits = instance.step_logits(k).map_err(|e| e.to_string())?;
        let step = Step::new(logits, &rule).map_err(|e| e.to_string())?;
        let all: Vec<u32>;
        let listed = match &tokens {
            Some(t) => t.as_slice(),
            None => {
                all = (0..instance.vocab as u32).collect();
                &all
            }
        };
        // With --each: the per-step setup time, then each token's.
        let mut timed: Option<(u64, Vec<u64>)> = None;
        let (outcomes, counts) = if flags.each {
            // The probability order is per step, shared by every token: sorted before the clocks.
            step.by_probability();
            let (_, token_us) = timed.insert((started.elapsed().as_micros() as u64, vec![]));
            decide_each(&step, &basis, listed, backend_name, time_limit, token_us)?
        } else {
            decide_tokens(
                &step,
                &basis,
                listed,
                backend.as_mut().map(|b| b.as_mut() as &mut dyn Backend),
            )
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
        if flags.json {
            let mut line = json!({
                "step": k, "tau": step.tau(), "kept": kept, "undecided": undecided, "elapsed_us": elapsed_us,
            });
            if tokens.is_some() {
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

/// `--each`: every listed token decided by a call of its own with a fresh backend (no
/// certificate shared between tokens, no warm start), so that each wall time, pushed onto
/// `token_us` in list order, belongs to one decision: comparable with a solver run per token.
fn decide_each(
    step: &Step,
    basis: &Basis,
    tokens: &[u32],
    backend_name: &str,
    time_limit: f64,
    token_us: &mut Vec<u64>,
) -> Result<(Vec<Outcome>, Counts), String> {
    let mut outcomes = Vec::with_capacity(tokens.len());
    let mut counts = Counts::default();
    for &t in tokens {
        let mut backend = make_backend(backend_name, time_limit)?;
        let started = Instant::now();
        let (decided, c) = decide_tokens(
            step,
            basis,
            &[t],
            backend.as_mut().map(|b| b.as_mut() as &mut dyn Backend),
        )
        .map_err(|e| e.to_string())?;
        token_us.push(started.elapsed().as_micros() as u64);
        outcomes.extend(decided);
        counts += c;
    }
    Ok((outcomes, counts))
}

fn synth(args: &[String]) -> Result<(), String> {
    let flags = Flags::parse(args, &["out", "vocab", "dim", "steps", "scale", "seed"])?;
    let out = flags
        .get("out")
        .ok_or_else(|| "synth needs --out FILE; see `basis-aware --help`".to_string())?;
    let vocab: usize = flags.number("vocab", 2000)?;
    let dim: usize = flags.number("dim", 16)?;
    let steps: usize = flags.number("steps", 4)?;
    let scale: f64 = flags.number("scale", 8.0)?;
    let seed: u64 = flags.number("seed", 0)?;
    if vocab == 0 || dim == 0 || steps == 0 || !(scale.is_finite() && scale > 0.0) {
        return Err("synth needs vocab, dim and steps >= 1 and a positive finite scale".into());
    }
    synthetic::check_size(vocab, dim, steps).map_err(|e| e.to_string())?;
    let instance = synthetic::gaussian_instance(vocab, dim, steps, scale, seed);
    instance.save(out).map_err(|e| e.to_string())?;
    println!("wrote {out}: {steps} steps, vocabulary {vocab}, hidden size {dim}, seed {seed}");
    Ok(())
}

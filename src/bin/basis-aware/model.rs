//! The commands that run a real model (feature `candle`): `export` writes decode steps as an
//! instance file; `generate` samples a continuation with and without BAT, the crate's main demo.

#[cfg(feature = "candle")]
pub use with_candle::{export, generate, model_path};

#[cfg(not(feature = "candle"))]
pub fn export(_: &[String]) -> Result<(), String> {
    Err("export needs a build with the `candle` feature (--features cli,candle)".into())
}

#[cfg(not(feature = "candle"))]
pub fn generate(_: &[String]) -> Result<(), String> {
    Err("generate needs a build with the `candle` feature (--features cli,candle)".into())
}

#[cfg(feature = "candle")]
mod with_candle {
    use std::time::{Duration, Instant};

    use basis_aware::backends::SimplexBackend;
    use basis_aware::instance::{Constraint, Instance};
    use basis_aware::model::{cached_svd_basis, GgufModel, MODEL_ENV};
    use basis_aware::synthetic::SplitMix64;
    use basis_aware::{decide_tokens, sample_step, Basis, Rule, SampleBudget, Step};

    use crate::flags::Flags;
    use crate::svg;

    /// `--model PATH`, else the `BASIS_AWARE_MODEL` environment variable.
    pub fn model_path(flags: &Flags) -> Result<String, String> {
        match flags.get("model") {
            Some(path) => Ok(path.to_string()),
            None => std::env::var(MODEL_ENV).map_err(|_| {
                format!(
                    "no model: pass --model PATH or set {MODEL_ENV} (scripts/fetch-model.sh downloads one)"
                )
            }),
        }
    }

    /// Greedy decoding from a prompt with a real model, saved as an instance: each step's
    /// logits and the model's output embedding, so `truncate` runs on what the model produced.
    pub fn export(args: &[String]) -> Result<(), String> {
        let flags = Flags::parse(args, &["prompt", "out", "steps", "model"])?;
        let prompt = flags
            .get("prompt")
            .ok_or_else(|| "export needs --prompt TEXT; see `basis-aware --help`".to_string())?;
        let out = flags
            .get("out")
            .ok_or_else(|| "export needs --out FILE; see `basis-aware --help`".to_string())?;
        let steps: usize = flags.number("steps", 8)?;
        if steps == 0 {
            return Err("--steps must be at least 1".into());
        }
        let model_path = model_path(&flags)?;
        let mut model = GgufModel::load(&model_path).map_err(|e| e.to_string())?;
        let prompt_tokens = model.encode(prompt).map_err(|e| e.to_string())?;
        if prompt_tokens.is_empty() {
            return Err("--prompt is empty".into());
        }
        let vocab = model.vocab();
        let mut logits = Vec::with_capacity(steps * vocab);
        let mut generated = Vec::with_capacity(steps);
        let (mut input, mut position) = (prompt_tokens, 0);
        for _ in 0..steps {
            let step = model.forward(&input, position).map_err(|e| e.to_string())?;
            let next = argmax(&step);
            logits.extend_from_slice(&step);
            generated.push(next);
            position += input.len();
            input = vec![next];
        }
        let instance = Instance {
            logits,
            steps,
            vocab,
            constraint: Constraint::Embedding(
                model.embedding().as_slice().to_vec(),
                model.hidden(),
            ),
        };
        instance.save_compact(out).map_err(|e| e.to_string())?;
        let text = model.decode(&generated).map_err(|e| e.to_string())?;
        println!(
            "wrote {out}: {steps} steps, vocabulary {vocab}, hidden size {}; greedy continuation {text:?}",
            model.hidden()
        );
        Ok(())
    }

    fn argmax(logits: &[f32]) -> u32 {
        let best = logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        best as u32
    }

    /// One decode step of the BAT run: what the table prints and the plot draws.
    struct Row {
        tau: f64,
        threshold_kept: usize,
        /// Tokens of the window below `tau` that BAT keeps, and the window's size.
        bat_extra: usize,
        window: usize,
        below_tau: bool,
        forward: Duration,
        /// Time of the lazy sampler (the only BAT cost a decode loop pays).
        bat: Duration,
        solves: usize,
    }

    /// A run's sampled tokens, and the rows when BAT was on.
    struct Run {
        tokens: Vec<u32>,
        rows: Vec<Row>,
        forward: Duration,
    }

    /// `generate --prompt TEXT [--seed N] [--max-tokens N] [--rule R] [--svd C] [--window K]
    /// [--plot FILE.svg] [--model PATH]`: samples a continuation with the threshold rule alone,
    /// then with BAT (same seed), prints both with the tokens BAT kept below `tau` marked, a
    /// per-step table, a summary, and writes a plot of the kept-set sizes.
    pub fn generate(args: &[String]) -> Result<(), String> {
        let flags = Flags::parse(
            args,
            &[
                "prompt",
                "seed",
                "max-tokens",
                "rule",
                "svd",
                "model",
                "plot",
                "window",
            ],
        )?;
        let prompt = flags
            .get("prompt")
            .ok_or_else(|| "generate needs --prompt TEXT; see `basis-aware --help`".to_string())?;
        let seed: u64 = flags.number("seed", 0)?;
        let max_tokens: usize = flags.number("max-tokens", 32)?;
        let svd: usize = flags.number("svd", 20)?;
        let window: usize = flags.number("window", 32)?;
        let plot = flags.get("plot").unwrap_or("bat-kept.svg");
        let rule: Rule = flags
            .get("rule")
            .unwrap_or("eta=0.0009")
            .parse()
            .map_err(|e: basis_aware::Error| e.to_string())?;
        if max_tokens == 0 {
            return Err("--max-tokens must be at least 1".into());
        }
        let path = model_path(&flags)?;
        let started = Instant::now();
        let mut model = GgufModel::load(&path).map_err(|e| e.to_string())?;
        let basis = cached_svd_basis(&path, svd).map_err(|e| e.to_string())?;
        println!(
            "model {path}: vocabulary {}, hidden {}; top-{svd} SVD basis; loaded in {:.1} s",
            model.vocab(),
            model.hidden(),
            started.elapsed().as_secs_f64()
        );
        let prompt_tokens = model.encode(prompt).map_err(|e| e.to_string())?;
        if prompt_tokens.is_empty() {
            return Err("--prompt is empty".into());
        }
        println!("rule {rule}, seed {seed}, up to {max_tokens} tokens\n");

        let plain = decode_loop(
            &mut model,
            &prompt_tokens,
            &basis,
            &rule,
            seed,
            max_tokens,
            None,
        )?;
        println!(
            "{:>4} {:>10} {:>9} {:>11} {:>9} {:>8} {:>6}  token",
            "step", "tau", "threshold", "+BAT/window", "forward", "BAT", "LPs"
        );
        let mut backend = SimplexBackend::default();
        let bat = decode_loop(
            &mut model,
            &prompt_tokens,
            &basis,
            &rule,
            seed,
            max_tokens,
            Some((&mut backend, window)),
        )?;

        println!("\nthreshold only ({rule}):");
        println!("{prompt}{}", marked(&model, &plain)?);
        println!("\nBAT ({rule}, top-{svd} SVD basis; [[...]]: sampled below tau, kept by BAT):");
        println!("{prompt}{}", marked(&model, &bat)?);
        summary(&bat, &plain);
        let threshold: Vec<f64> = bat.rows.iter().map(|r| r.threshold_kept as f64).collect();
        let with_bat: Vec<f64> = bat
            .rows
            .iter()
            .map(|r| (r.threshold_kept + r.bat_extra) as f64)
            .collect();
        svg::line_chart(
            plot,
            &format!("Kept-set size per step ({rule}, top-{svd} SVD basis, BAT within the {window} most probable tokens below tau)"),
            "decode step",
            "tokens kept",
            &[("threshold", "#1f77b4", &threshold), ("threshold + BAT", "#d62728", &with_bat)],
        )
        .map_err(|e| format!("{plot}: {e}"))?;
        println!("plot: {plot}");
        Ok(())
    }

    /// Decodes up to `max_tokens` tokens, sampling with the threshold alone (`bat` is `None`) or
    /// with BAT; with BAT, each step also decides the `window` most probable tokens below `tau`
    /// (outside the timed sampler) for the table.
    fn decode_loop(
        model: &mut GgufModel,
        prompt: &[u32],
        basis: &Basis,
        rule: &Rule,
        seed: u64,
        max_tokens: usize,
        mut bat: Option<(&mut SimplexBackend, usize)>,
    ) -> Result<Run, String> {
        let mut rng = SplitMix64::new(seed);
        let mut run = Run {
            tokens: Vec::new(),
            rows: Vec::new(),
            forward: Duration::ZERO,
        };
        let (mut input, mut position) = (prompt.to_vec(), 0);
        for k in 0..max_tokens {
            let started = Instant::now();
            let logits = model.forward(&input, position).map_err(|e| e.to_string())?;
            let forward = started.elapsed();
            run.forward += forward;
            position += input.len();
            let step = Step::new(&logits, rule).map_err(|e| e.to_string())?;
            let (draw, row) = match bat.as_mut() {
                None => {
                    let draw = sample_step(&step, basis, None, SampleBudget::unlimited(), &mut rng)
                        .map_err(|e| e.to_string())?;
                    (draw, None)
                }
                Some((backend, window)) => {
                    let draw = sample_step(
                        &step,
                        basis,
                        Some(&mut **backend),
                        SampleBudget::unlimited(),
                        &mut rng,
                    )
                    .map_err(|e| e.to_string())?;
                    let below: Vec<u32> = step
                        .below_threshold()
                        .iter()
                        .copied()
                        .take(*window)
                        .collect();
                    let (outcomes, _) = decide_tokens(&step, basis, &below, Some(&mut **backend))
                        .map_err(|e| e.to_string())?;
                    let row = Row {
                        tau: step.tau(),
                        threshold_kept: step.q().iter().filter(|&&q| q >= step.tau()).count(),
                        bat_extra: outcomes.iter().filter(|o| o.is_keep()).count(),
                        window: below.len(),
                        below_tau: draw.below_threshold(),
                        forward,
                        bat: draw.elapsed,
                        solves: draw.solves,
                    };
                    (draw, Some(row))
                }
            };
            let piece = model.decode(&[draw.token]).map_err(|e| e.to_string())?;
            if let Some(row) = row {
                println!(
                    "{k:>4} {:>10.3e} {:>9} {:>11} {:>7.1}ms {:>6.2}ms {:>6}  {piece:?}{}",
                    row.tau,
                    row.threshold_kept,
                    format!("+{}/{}", row.bat_extra, row.window),
                    row.forward.as_secs_f64() * 1e3,
                    row.bat.as_secs_f64() * 1e3,
                    row.solves,
                    if row.below_tau {
                        "  <- below tau, kept by BAT"
                    } else {
                        ""
                    }
                );
                run.rows.push(row);
            }
            run.tokens.push(draw.token);
            if is_control(&piece) {
                break;
            }
            input = vec![draw.token];
        }
        Ok(run)
    }

    /// Control tokens (`<|im_end|>`, `<|endoftext|>`, ...) end a continuation.
    fn is_control(piece: &str) -> bool {
        piece.starts_with("<|") && piece.ends_with("|>")
    }

    /// The continuation's text, with each token BAT kept below `tau` in `[[...]]`. Decoding the
    /// growing prefix keeps multi-byte characters split across tokens whole.
    fn marked(model: &GgufModel, run: &Run) -> Result<String, String> {
        let mut out = String::new();
        let mut previous = String::new();
        for (k, _) in run.tokens.iter().enumerate() {
            let text = model.decode(&run.tokens[..=k]).map_err(|e| e.to_string())?;
            let piece = text
                .strip_prefix(previous.as_str())
                .unwrap_or(&text)
                .to_string();
            if run.rows.get(k).is_some_and(|r| r.below_tau) {
                out.push_str(&format!("[[{piece}]]"));
            } else {
                out.push_str(&piece);
            }
            previous = text;
        }
        Ok(out)
    }

    fn summary(bat: &Run, plain: &Run) {
        let rows = &bat.rows;
        let total_bat: Duration = rows.iter().map(|r| r.bat).sum();
        let mut lp_steps: Vec<f64> = rows
            .iter()
            .filter(|r| r.solves > 0)
            .map(|r| r.bat.as_secs_f64() * 1e3)
            .collect();
        lp_steps.sort_by(f64::total_cmp);
        let quantile = |p: f64| {
            lp_steps
                .get(((lp_steps.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or(0.0)
        };
        let below = rows.iter().filter(|r| r.below_tau).count();
        let extra: usize = rows.iter().map(|r| r.bat_extra).sum();
        println!("\nsummary");
        println!(
            "  BAT run: {} tokens; forward {:.0} ms in all, lazy BAT sampler {:.1} ms in all: {:.1}% of forward time (target < 25%)",
            rows.len(),
            bat.forward.as_secs_f64() * 1e3,
            total_bat.as_secs_f64() * 1e3,
            100.0 * total_bat.as_secs_f64() / bat.forward.as_secs_f64().max(1e-9)
        );
        println!(
            "  steps whose draws needed an LP: {} of {}; sampler time on those: median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            lp_steps.len(),
            rows.len(),
            quantile(0.5),
            quantile(0.99),
            lp_steps.last().copied().unwrap_or(0.0)
        );
        println!(
            "  tokens sampled below tau (kept by BAT): {below}; BAT kept {extra} extra tokens in the windows below tau over all steps"
        );
        println!(
            "  threshold run: {} tokens, forward {:.0} ms",
            plain.tokens.len(),
            plain.forward.as_secs_f64() * 1e3
        );
    }
}

//! The commands that run a real model (feature `candle`): `export` writes decode steps as an
//! instance file; `generate` samples a continuation with and without BAT, the crate's main demo.

use basis_aware::Rule;

/// Run a GGUF model greedily from a prompt and write its decode steps as an instance
/// (feature candle): each step's logits (f32) and the model's output embedding (f16).
#[derive(clap::Args)]
pub struct ExportArgs {
    /// The prompt.
    #[arg(long, value_name = "TEXT")]
    pub prompt: String,
    /// The instance file to write (safetensors).
    #[arg(long, value_name = "FILE.safetensors")]
    pub out: String,
    /// Greedy decode steps.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub steps: usize,
    #[command(flatten)]
    pub model: ModelArg,
}

/// Sample a continuation with the threshold rule alone, then with BAT from the same seed
/// (feature candle): both texts, a per-step table, a summary and a plot of the kept-set sizes.
#[derive(clap::Args)]
pub struct GenerateArgs {
    /// The prompt.
    #[arg(long, value_name = "TEXT")]
    pub prompt: String,
    /// Seed of both runs' draws.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Tokens to sample at most (a control token ends the continuation earlier).
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub max_tokens: usize,
    /// The threshold rule: eta=E, epsilon=E, top-p=P, top-k=K or min-p=M.
    #[arg(long, default_value = "eta=0.0009")]
    pub rule: Rule,
    /// Rank of the SVD basis (computed once per model and cached).
    #[arg(long, value_name = "C", default_value_t = 20)]
    pub svd: usize,
    /// Most probable tokens below tau decided at each step for the table (outside the timed
    /// sampler).
    #[arg(long, value_name = "K", default_value_t = 32)]
    pub window: usize,
    /// Where the plot of the kept-set sizes goes.
    #[arg(long, value_name = "FILE.svg", default_value = "bat-kept.svg")]
    pub plot: String,
    #[command(flatten)]
    pub model: ModelArg,
}

/// The GGUF model a command runs.
#[derive(clap::Args)]
pub struct ModelArg {
    /// The GGUF file (default: the file named by BASIS_AWARE_MODEL; scripts/fetch-model.sh
    /// downloads one).
    #[arg(long = "model", value_name = "PATH")]
    pub path: Option<String>,
}

#[cfg(feature = "candle")]
pub use with_candle::{export, generate};

#[cfg(not(feature = "candle"))]
pub fn export(_: ExportArgs) -> Result<(), String> {
    Err(
        "export needs a build with the `candle` feature (-p basis-aware-tools --features candle)"
            .into(),
    )
}

#[cfg(not(feature = "candle"))]
pub fn generate(_: GenerateArgs) -> Result<(), String> {
    Err(
        "generate needs a build with the `candle` feature (-p basis-aware-tools --features candle)"
            .into(),
    )
}

#[cfg(feature = "candle")]
impl ModelArg {
    /// `--model PATH`, else the `BASIS_AWARE_MODEL` environment variable.
    pub fn resolve(&self) -> Result<String, String> {
        use basis_aware_tools::model::MODEL_ENV;
        match &self.path {
            Some(path) => Ok(path.clone()),
            None => std::env::var(MODEL_ENV).map_err(|_| {
                format!(
                    "no model: pass --model PATH or set {MODEL_ENV} (scripts/fetch-model.sh downloads one)"
                )
            }),
        }
    }
}

#[cfg(feature = "candle")]
mod with_candle {
    use std::time::{Duration, Instant};

    use basis_aware::backends::SimplexBackend;
    use basis_aware::synthetic;
    use basis_aware::{decide_tokens, sample_step, Basis, Rule, SampleBudget, Step};
    use basis_aware_tools::instance::{Constraint, Instance};
    use basis_aware_tools::model::{cached_svd_basis, GgufModel};

    use super::{ExportArgs, GenerateArgs};
    use crate::plot;

    /// Greedy decoding from a prompt with a real model, saved as an instance: each step's
    /// logits and the model's output embedding, so `truncate` runs on what the model produced.
    pub fn export(args: ExportArgs) -> Result<(), String> {
        let ExportArgs {
            prompt,
            out,
            steps,
            model,
        } = args;
        if steps == 0 {
            return Err("--steps must be at least 1".into());
        }
        let model_path = model.resolve()?;
        let mut model = GgufModel::load(&model_path).map_err(|e| e.to_string())?;
        let prompt_tokens = model.encode(&prompt).map_err(|e| e.to_string())?;
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
        instance.save_compact(&out).map_err(|e| e.to_string())?;
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

    /// `generate`: samples a continuation with the threshold rule alone, then with BAT (same
    /// seed), prints both with the tokens BAT kept below `tau` marked, a per-step table, a
    /// summary, and writes a plot of the kept-set sizes.
    pub fn generate(args: GenerateArgs) -> Result<(), String> {
        let GenerateArgs {
            prompt,
            seed,
            max_tokens,
            rule,
            svd,
            window,
            plot: plot_path,
            model,
        } = args;
        if max_tokens == 0 {
            return Err("--max-tokens must be at least 1".into());
        }
        let path = model.resolve()?;
        let started = Instant::now();
        let mut model = GgufModel::load(&path).map_err(|e| e.to_string())?;
        let basis = cached_svd_basis(&path, svd).map_err(|e| e.to_string())?;
        println!(
            "model {path}: vocabulary {}, hidden {}; top-{svd} SVD basis; loaded in {:.1} s",
            model.vocab(),
            model.hidden(),
            started.elapsed().as_secs_f64()
        );
        let prompt_tokens = model.encode(&prompt).map_err(|e| e.to_string())?;
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
        let per_step = |kept: fn(&Row) -> usize| -> Vec<(f64, f64)> {
            bat.rows
                .iter()
                .enumerate()
                .map(|(k, r)| (k as f64, kept(r) as f64))
                .collect()
        };
        let threshold = per_step(|r| r.threshold_kept);
        let with_bat = per_step(|r| r.threshold_kept + r.bat_extra);
        let top = with_bat.iter().map(|p| p.1).fold(1.0, f64::max) * 1.1;
        let line = |name, colour, points| plot::Series {
            name,
            colour,
            dashed: false,
            markers: false,
            points,
        };
        plot::chart(
            &plot_path,
            &format!("Kept-set size per step ({rule}, top-{svd} SVD basis, BAT within the {window} most probable tokens below tau)"),
            &plot::Axis::linear("decode step"),
            &plot::Axis::linear("tokens kept").range(0.0..top),
            &[],
            &[
                line("threshold", plot::PALETTE[2], &threshold),
                line("threshold + BAT", plot::PALETTE[1], &with_bat),
            ],
        )?;
        println!("plot: {plot_path}");
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
        let mut rng = synthetic::rng(seed);
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
            "  BAT run: {} tokens; forward {:.0} ms in all, lazy BAT sampler {:.1} ms in all: {:.1}% of forward time",
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

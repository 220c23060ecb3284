//! `basis-aware match` (feature `candle`): parameter matching on real text. The model reads a
//! human-written text teacher-forced, and for every next token of the text (the "gold" token)
//! the command finds the parameter at which each method would start rejecting it: epsilon, eta,
//! top-p, min-p, and BAT over epsilon and over eta (through the token's certified critical
//! threshold). `report` turns these into rejection-rate curves and compares the methods at the
//! parameters that reject the same share of gold tokens.

#[cfg(feature = "candle")]
mod report;

use crate::model::ModelArg;

/// Match the methods' parameters on human text (feature candle): the parameter at which each
/// method starts rejecting every next token of the text, and the methods compared at the
/// parameters that reject the same share of them.
#[derive(clap::Args)]
pub struct Args {
    /// The text (UTF-8; a byte-order mark and Windows line ends are fine).
    #[arg(long, value_name = "FILE")]
    pub text: String,
    /// Directory for results.json and rejection.svg.
    #[arg(long, value_name = "DIR")]
    pub out: String,
    /// Next tokens of the text to score.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub tokens: usize,
    /// Tokens per window (a fresh KV cache each).
    #[arg(long, value_name = "K", default_value_t = 256)]
    pub window: usize,
    /// Tokens at the start of each window used only as context.
    #[arg(long, value_name = "C", default_value_t = 64)]
    pub context: usize,
    /// First line of the text to read (1-based).
    #[arg(long, value_name = "L", default_value_t = 1)]
    pub start_line: usize,
    /// Rank of the SVD basis.
    #[arg(long, value_name = "C", default_value_t = 20)]
    pub svd: usize,
    /// Steps that get full BAT truncations at the matched parameters.
    #[arg(long, value_name = "S", default_value_t = 20)]
    pub sample: usize,
    /// Shares of gold tokens to match the methods at, in (0, 1).
    #[arg(
        long,
        value_name = "R,R,...",
        value_delimiter = ',',
        default_value = "0.25"
    )]
    pub rate: Vec<f64>,
    /// Relative width at which the critical-threshold search stops.
    #[arg(long, value_name = "T")]
    pub rel_tol: Option<f64>,
    /// Widest bracket the search reports as decided.
    #[arg(long, value_name = "W")]
    pub max_width: Option<f64>,
    /// Largest threshold the search tries.
    #[arg(long, value_name = "T", default_value_t = 0.1)]
    pub max_tau: f64,
    #[command(flatten)]
    pub model: ModelArg,
}

#[cfg(feature = "candle")]
pub use with_candle::run;

#[cfg(not(feature = "candle"))]
pub fn run(_: Args) -> Result<(), String> {
    Err(
        "match needs a build with the `candle` feature (-p basis-aware-tools --features candle)"
            .into(),
    )
}

#[cfg(feature = "candle")]
mod with_candle {
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    use basis_aware::backends::SimplexBackend;
    use basis_aware::{softmax, Step};
    use basis_aware_tools::model::{cached_svd_basis, GgufModel};
    use basis_aware_tools::{bat_boundary, BatBoundary, BatSearch, Family};
    use serde_json::json;

    use super::{report, Args};

    /// One scored position: the gold token, its distribution's summary, and where each method
    /// starts rejecting it.
    pub struct Scored {
        /// Index of the gold token in the text's tokens, and the first token of its window.
        pub index: usize,
        pub window_start: usize,
        pub gold: u32,
        pub logits: Vec<f32>,
        pub q_gold: f64,
        /// 1 + the number of tokens strictly more probable than the gold one.
        pub rank: usize,
        pub q_max: f64,
        pub entropy: f64,
        /// Per threshold family (in [`Family::ALL`] order): its boundary at the level `q_gold`.
        pub threshold: Vec<Option<f64>>,
        pub bat: BatBoundary,
        pub bat_time: Duration,
    }

    /// Settings of a run, echoed into the results.
    pub struct Settings {
        pub text: String,
        pub model: String,
        pub tokens: usize,
        pub window: usize,
        pub context: usize,
        pub start_line: usize,
        pub svd: usize,
        pub sample: usize,
        /// Shares of gold tokens to match the methods at.
        pub rates: Vec<f64>,
        pub search: BatSearch,
        pub out: PathBuf,
    }

    fn settings(args: Args) -> Result<Settings, String> {
        let settings = Settings {
            text: args.text,
            out: PathBuf::from(args.out),
            model: args.model.resolve()?,
            tokens: args.tokens,
            window: args.window,
            context: args.context,
            start_line: args.start_line,
            svd: args.svd,
            sample: args.sample,
            rates: args.rate,
            search: BatSearch {
                rel_tol: args.rel_tol.unwrap_or(BatSearch::default().rel_tol),
                max_width: args.max_width.unwrap_or(BatSearch::default().max_width),
                max_tau: args.max_tau,
            },
        };
        if settings.tokens == 0 || settings.context == 0 || settings.start_line == 0 {
            return Err("--tokens, --context and --start-line must be at least 1".into());
        }
        if settings.window <= settings.context {
            return Err("--window must exceed --context (each window scores the rest)".into());
        }
        if settings.rates.iter().any(|r| !(*r > 0.0 && *r < 1.0)) {
            return Err("--rate takes shares in (0, 1), comma-separated".into());
        }
        let search = &settings.search;
        if !(search.rel_tol > 0.0 && search.max_width >= search.rel_tol && search.max_width < 1.0) {
            return Err(
                "--rel-tol and --max-width must satisfy 0 < rel-tol <= max-width < 1".into(),
            );
        }
        if !(search.max_tau > 0.0 && search.max_tau <= 1.0) {
            return Err("--max-tau must lie in (0, 1]".into());
        }
        Ok(settings)
    }

    /// The text from `start_line` on (1-based), without a byte-order mark and with Windows line
    /// ends made plain: Gutenberg files carry both, and neither is part of the prose.
    fn read_text(path: &str, start_line: usize) -> Result<String, String> {
        let raw = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let raw = raw
            .strip_prefix('\u{feff}')
            .unwrap_or(&raw)
            .replace("\r\n", "\n");
        let lines: Vec<&str> = raw.split('\n').collect();
        if start_line > lines.len() {
            return Err(format!(
                "--start-line {start_line} is past the end of {path} ({} lines)",
                lines.len()
            ));
        }
        Ok(lines[start_line - 1..].join("\n"))
    }

    /// `match`: scores the text's next tokens, then reports (see [`Args`]).
    pub fn run(args: Args) -> Result<(), String> {
        let s = settings(args)?;
        let started = Instant::now();
        let mut model = GgufModel::load(&s.model).map_err(|e| e.to_string())?;
        let basis = cached_svd_basis(&s.model, s.svd).map_err(|e| e.to_string())?;
        let text = read_text(&s.text, s.start_line)?;
        let all = model.encode(&text).map_err(|e| e.to_string())?;
        let needed = s.context + s.tokens;
        if all.len() < needed {
            return Err(format!(
                "{}: {} tokens from line {}, but --context {} + --tokens {} need {needed}",
                s.text,
                all.len(),
                s.start_line,
                s.context,
                s.tokens
            ));
        }
        let tokens = &all[..needed];
        eprintln!(
            "match: model and top-{} basis loaded in {:.1} s; scoring {} gold tokens",
            s.svd,
            started.elapsed().as_secs_f64(),
            s.tokens
        );
        let mut backend = SimplexBackend::default();
        let mut scored = Vec::with_capacity(s.tokens);
        let (mut forward, mut bat) = (Duration::ZERO, Duration::ZERO);
        let stride = s.window - s.context;
        let mut window_start = 0;
        while window_start + s.context < needed {
            let first = window_start + s.context;
            let end = (window_start + s.window).min(needed);
            for index in first..end {
                let t = Instant::now();
                let logits = if index == first {
                    // A fresh KV cache per window keeps attention cost bounded.
                    model.forward(&tokens[window_start..first], 0)
                } else {
                    model.forward(&tokens[index - 1..index], index - 1 - window_start)
                }
                .map_err(|e| e.to_string())?;
                forward += t.elapsed();
                let row = score(&logits, tokens[index], &basis, &mut backend, &s.search)
                    .map_err(|e| e.to_string())?;
                bat += row.bat_time;
                scored.push(Scored {
                    index,
                    window_start,
                    ..row
                });
                if scored.len() % 50 == 0 {
                    eprintln!(
                        "match: {} / {} gold tokens, {:.0} s",
                        scored.len(),
                        s.tokens,
                        started.elapsed().as_secs_f64()
                    );
                }
            }
            window_start += stride;
        }
        let timing = json!({
            "forward_s": forward.as_secs_f64(),
            "critical_thresholds_s": bat.as_secs_f64(),
            "critical_threshold_ms_mean": 1e3 * bat.as_secs_f64() / scored.len() as f64,
            "probes": scored.iter().map(|r| r.bat.probes).sum::<usize>(),
        });
        report::write(&s, &model, &basis, &mut backend, tokens, &scored, timing)
    }

    fn score(
        logits: &[f32],
        gold: u32,
        basis: &basis_aware::Basis,
        backend: &mut SimplexBackend,
        search: &BatSearch,
    ) -> basis_aware::Result<Scored> {
        let q = softmax(logits)?;
        let q_gold = q[gold as usize];
        let threshold = Family::ALL
            .iter()
            .map(|f| f.boundary(&q, q_gold))
            .collect::<basis_aware::Result<_>>()?;
        let t = Instant::now();
        // critical_threshold reads only q; the rule here is a placeholder.
        let step = Step::new(logits, &Family::Epsilon.rule(0.5))?;
        let bat = bat_boundary(&step, basis, gold, backend, search)?;
        let bat_time = t.elapsed();
        Ok(Scored {
            index: 0,
            window_start: 0,
            gold,
            logits: logits.to_vec(),
            q_gold,
            rank: 1 + q.iter().filter(|&&v| v > q_gold).count(),
            q_max: q.iter().copied().fold(0.0, f64::max),
            entropy: q.iter().filter(|&&v| v > 0.0).map(|&v| -v * v.ln()).sum(),
            threshold,
            bat,
            bat_time,
        })
    }
}

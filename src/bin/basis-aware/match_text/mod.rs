//! `basis-aware match` (feature `candle`): parameter matching on real text. The model reads a
//! human-written text teacher-forced, and for every next token of the text (the "gold" token)
//! the command finds the parameter at which each method would start rejecting it: epsilon, eta,
//! top-p, min-p, and BAT over epsilon and over eta (through the token's certified critical
//! threshold). `report` turns these into rejection-rate curves and compares the methods at the
//! parameters that reject the same share of gold tokens.

#[cfg(feature = "candle")]
mod report;

#[cfg(feature = "candle")]
pub use with_candle::match_text;

#[cfg(not(feature = "candle"))]
pub fn match_text(_: &[String]) -> Result<(), String> {
    Err("match needs a build with the `candle` feature (--features cli,candle)".into())
}

#[cfg(feature = "candle")]
mod with_candle {
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    use basis_aware::backends::SimplexBackend;
    use basis_aware::model::{cached_svd_basis, GgufModel};
    use basis_aware::{bat_boundary, softmax, BatBoundary, BatSearch, Family, Step};
    use serde_json::json;

    use super::report;
    use crate::flags::Flags;
    use crate::model::model_path;

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

    const FLAGS: &[&str] = &[
        "text",
        "tokens",
        "window",
        "context",
        "start-line",
        "svd",
        "sample",
        "rate",
        "rel-tol",
        "max-width",
        "max-tau",
        "out",
        "model",
    ];

    fn settings(args: &[String]) -> Result<Settings, String> {
        let flags = Flags::parse(args, FLAGS)?;
        let required = |name: &str| {
            flags
                .get(name)
                .map(str::to_string)
                .ok_or_else(|| format!("match needs --{name}; see `basis-aware --help`"))
        };
        let settings = Settings {
            text: required("text")?,
            out: PathBuf::from(required("out")?),
            model: model_path(&flags)?,
            tokens: flags.number("tokens", 500)?,
            window: flags.number("window", 256)?,
            context: flags.number("context", 64)?,
            start_line: flags.number("start-line", 1)?,
            svd: flags.number("svd", 20)?,
            sample: flags.number("sample", 20)?,
            rates: flags
                .get("rate")
                .unwrap_or("0.25")
                .split(',')
                .map(|r| {
                    r.trim()
                        .parse::<f64>()
                        .map_err(|_| format!("--rate: `{r}` is not a number"))
                })
                .collect::<Result<_, _>>()?,
            search: BatSearch {
                rel_tol: flags.number("rel-tol", BatSearch::default().rel_tol)?,
                max_width: flags.number("max-width", BatSearch::default().max_width)?,
                max_tau: flags.number("max-tau", 0.1)?,
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

    /// `match --text FILE --out DIR [--tokens N] [--window K] [--context C] [--start-line L]
    /// [--svd C] [--sample S] [--rate R,R,...] [--rel-tol T] [--max-width W] [--max-tau T]
    /// [--model PATH]`.
    pub fn match_text(args: &[String]) -> Result<(), String> {
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

//! What `match` reports: per method, the rejection rate of gold tokens against the parameter
//! (curves, SVG), the parameter that rejects the target share, and at that parameter the kept
//! set per step; for BAT also the tokens below `tau` it keeps (full truncations on a sample of
//! steps), with decoded examples. Everything goes to `results.json` and a markdown summary on
//! stdout.

use basis_aware::backends::SimplexBackend;
use basis_aware::{truncate, Basis, Step};
use basis_aware_tools::model::GgufModel;
use basis_aware_tools::Family;
use serde_json::{json, Value};

use super::with_candle::{Scored, Settings};
use crate::plot::{self, RGBColor};

/// Where a method starts rejecting one gold token.
#[derive(Clone, Copy)]
enum Bound {
    /// Rejected by the method exactly past this parameter ([`Family::rejects`]); for BAT the
    /// certified rejecting end of the bracket, with the certified keeping end beside it.
    At { rejected: f64, kept: f64 },
    /// No valid parameter rejects it.
    Never,
    /// BAT keeps it at every parameter up to this one, the search's cap; beyond it, unknown.
    KeptUpTo(f64),
    /// BAT could not bracket it within the budget: no boundary is claimed.
    Undecided,
}

struct Method {
    name: String,
    family: Family,
    bat: bool,
    bounds: Vec<Bound>,
}

impl Method {
    fn decided(&self) -> usize {
        self.bounds
            .iter()
            .filter(|b| !matches!(b, Bound::Undecided))
            .count()
    }

    /// Gold tokens rejected at `parameter`: certainly (past the rejecting end), and possibly
    /// (inside a BAT bracket that straddles it).
    fn rejected_at(&self, parameter: f64) -> (usize, usize) {
        let (mut sure, mut maybe) = (0, 0);
        for b in &self.bounds {
            if let Bound::At { rejected, kept } = *b {
                if self.family.rejects(parameter, rejected) {
                    sure += 1;
                } else if self.family.rejects(parameter, kept) {
                    maybe += 1;
                }
            } else if let Bound::KeptUpTo(kept) = *b {
                maybe += usize::from(self.family.rejects(parameter, kept));
            }
        }
        (sure, maybe)
    }

    /// The parameter that rejects `rate` of the decided gold tokens: midway between the
    /// boundaries of the k-th and (k+1)-th token to be rejected, `k = ceil(rate * decided)`.
    fn matched(&self, rate: f64) -> Option<f64> {
        let mut at: Vec<f64> = self
            .bounds
            .iter()
            .filter_map(|b| match b {
                Bound::At { rejected, .. } => Some(*rejected),
                _ => None,
            })
            .collect();
        let upward = self.family.rejects_more_upward();
        at.sort_by(|a, b| {
            if upward {
                a.total_cmp(b)
            } else {
                b.total_cmp(a)
            }
        });
        let k = (rate * self.decided() as f64).ceil() as usize;
        let last = *at.get(k.checked_sub(1)?)?;
        let parameter = match at.get(k) {
            Some(next) => 0.5 * (last + next),
            None if upward => last * (1.0 + 1e-6),
            None => last * (1.0 - 1e-6),
        };
        self.family
            .rule(parameter)
            .validate()
            .is_ok()
            .then_some(parameter)
    }

    /// The curve as `(x, rejected share)` steps on the plot's axis: the parameter, or `1 - p`
    /// for top-p so every curve rises to the right.
    fn curve(&self) -> Vec<(f64, f64)> {
        let n = self.decided().max(1) as f64;
        let mut xs: Vec<f64> = self
            .bounds
            .iter()
            .filter_map(|b| match b {
                Bound::At { rejected, .. } if self.family.rejects_more_upward() => Some(*rejected),
                Bound::At { rejected, .. } => Some(1.0 - rejected),
                _ => None,
            })
            .map(|x| x.clamp(X_MIN, 1.0))
            .collect();
        xs.sort_by(f64::total_cmp);
        let mut points = vec![(X_MIN, 0.0)];
        for (i, &x) in xs.iter().enumerate() {
            points.push((x, i as f64 / n));
            points.push((x, (i + 1) as f64 / n));
        }
        points.push((1.0, xs.len() as f64 / n));
        points
    }
}

/// Left end of the plot's logarithmic axis.
const X_MIN: f64 = 1e-7;

fn methods(scored: &[Scored]) -> Result<Vec<Method>, String> {
    let mut out: Vec<Method> = Family::ALL
        .iter()
        .enumerate()
        .map(|(f, &family)| Method {
            name: family.name().to_string(),
            family,
            bat: false,
            bounds: scored
                .iter()
                .map(|r| match r.threshold[f] {
                    Some(b) => Bound::At {
                        rejected: b,
                        kept: b,
                    },
                    None => Bound::Never,
                })
                .collect(),
        })
        .collect();
    for family in [Family::Epsilon, Family::Eta] {
        let mut bounds = Vec::with_capacity(scored.len());
        for r in scored {
            let q = basis_aware::softmax(&r.logits).map_err(|e| e.to_string())?;
            let (kept, rejected) = r.bat.parameters(family, &q).map_err(|e| e.to_string())?;
            bounds.push(match (r.bat.decided, rejected) {
                (false, _) => Bound::Undecided,
                (true, None) => kept.map_or(Bound::Never, Bound::KeptUpTo),
                (true, Some(rejected)) => Bound::At {
                    rejected,
                    kept: kept.unwrap_or(rejected),
                },
            });
        }
        out.push(Method {
            name: format!("BAT-{}", family.name()),
            family,
            bat: true,
            bounds,
        });
    }
    Ok(out)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => 0.5 * (s[n / 2 - 1] + s[n / 2]),
    }
}

/// Steps spread evenly over the run.
fn sample_steps(n: usize, k: usize) -> Vec<usize> {
    let k = k.min(n);
    (0..k).map(|i| i * n / k).collect()
}

/// The text of `tokens` decoded whole (multi-byte characters split across tokens stay whole).
fn text(model: &GgufModel, tokens: &[u32]) -> String {
    model.decode(tokens).unwrap_or_else(|e| format!("<{e}>"))
}

/// What the examples and the full truncations read: the scored steps, the text's tokens, the
/// model (to decode) and the basis.
struct Run<'a> {
    scored: &'a [Scored],
    tokens: &'a [u32],
    model: &'a GgufModel,
    basis: &'a Basis,
}

impl Run<'_> {
    /// Up to 16 tokens before the gold one at scored step `k`, within its window, decoded.
    fn context(&self, k: usize) -> String {
        let r = &self.scored[k];
        let from = r.index.saturating_sub(16).max(r.window_start);
        text(self.model, &self.tokens[from..r.index])
    }
}

/// Full BAT truncations at `parameter` on the sampled steps: kept by the threshold, rescued
/// below `tau` (each with a verified keep certificate), undecided, and a few decoded examples.
fn bat_sample(
    method: &Method,
    parameter: f64,
    steps: &[usize],
    run: &Run,
    backend: &mut SimplexBackend,
) -> Result<Value, String> {
    let Run {
        scored,
        model,
        basis,
        ..
    } = *run;
    let rule = method.family.rule(parameter);
    let (mut threshold, mut rescued, mut undecided, mut seconds) = (vec![], vec![], 0, vec![]);
    let mut examples = vec![];
    for &k in steps {
        let r = &scored[k];
        let t =
            truncate(&r.logits, basis, &rule, Some(&mut *backend)).map_err(|e| e.to_string())?;
        let q = basis_aware::softmax(&r.logits).map_err(|e| e.to_string())?;
        let mut below: Vec<u32> = t
            .kept
            .iter()
            .copied()
            .filter(|&j| q[j as usize] < t.tau)
            .collect();
        below.sort_by(|&a, &b| q[b as usize].total_cmp(&q[a as usize]));
        threshold.push(t.counts.threshold_kept as f64);
        rescued.push(below.len() as f64);
        undecided += t.counts.undecided;
        seconds.push(t.elapsed.as_secs_f64());
        let shown: Vec<Value> = below
            .iter()
            .take(8)
            .map(|&j| json!({"token": j, "text": text(model, &[j]), "q": q[j as usize]}))
            .collect();
        examples.push(json!({
            "step": k,
            "context": run.context(k),
            "gold": text(model, &[r.gold]),
            "tau": t.tau,
            "threshold_kept": t.counts.threshold_kept,
            "rescued": below.len(),
            "undecided": t.counts.undecided,
            "rescued_top": shown,
        }));
    }
    Ok(json!({
        "steps": steps.len(),
        "threshold_kept_mean": mean(&threshold),
        "threshold_kept_median": median(&threshold),
        "rescued_mean": mean(&rescued),
        "rescued_median": median(&rescued),
        "rescued_min": rescued.iter().copied().fold(f64::INFINITY, f64::min),
        "rescued_max": rescued.iter().copied().fold(0.0, f64::max),
        "kept_mean": mean(&threshold) + mean(&rescued),
        "undecided_total": undecided,
        "truncate_s_median": median(&seconds),
        "truncate_s_max": seconds.iter().copied().fold(0.0, f64::max),
        "examples": examples,
    }))
}

/// Gold tokens below BAT's own `tau` at `parameter` that BAT keeps (certified: the whole
/// bracket lies past the parameter), with a few in context.
fn gold_rescues(method: &Method, parameter: f64, run: &Run) -> Result<Value, String> {
    let rule = method.family.rule(parameter);
    let (mut below, mut kept, mut shown) = (0, 0, vec![]);
    for (k, (r, b)) in run.scored.iter().zip(&method.bounds).enumerate() {
        let step = Step::new(&r.logits, &rule).map_err(|e| e.to_string())?;
        if step.above_threshold(r.gold) {
            continue;
        }
        below += 1;
        let certainly_kept = match *b {
            Bound::At { kept, .. } => !method.family.rejects(parameter, kept),
            Bound::Never => true,
            Bound::KeptUpTo(kept) => !method.family.rejects(parameter, kept),
            Bound::Undecided => false,
        };
        if !certainly_kept {
            continue;
        }
        kept += 1;
        if shown.len() < 6 {
            shown.push(json!({
                "context": run.context(k),
                "gold": text(run.model, &[r.gold]),
                "q_gold": r.q_gold,
                "rank": r.rank,
                "tau": step.tau(),
            }));
        }
    }
    Ok(json!({"below_tau": below, "kept_by_bat": kept, "examples": shown}))
}

/// Writes `results.json` and `rejection.svg` into the out dir and prints a markdown summary.
pub fn write(
    s: &Settings,
    model: &GgufModel,
    basis: &Basis,
    backend: &mut SimplexBackend,
    tokens: &[u32],
    scored: &[Scored],
    timing: Value,
) -> Result<(), String> {
    std::fs::create_dir_all(&s.out).map_err(|e| format!("{}: {e}", s.out.display()))?;
    let methods = methods(scored)?;
    let run = Run {
        scored,
        tokens,
        model,
        basis,
    };
    let sample = sample_steps(scored.len(), s.sample);
    let mut summary = vec![];
    for (m, &rate) in s
        .rates
        .iter()
        .flat_map(|rate| methods.iter().map(move |m| (m, rate)))
    {
        let decided = m.decided();
        let Some(parameter) = m.matched(rate) else {
            summary.push(
                json!({"rate": rate, "method": m.name, "decided": decided, "parameter": null}),
            );
            continue;
        };
        let (rejected, ambiguous) = m.rejected_at(parameter);
        let rule = m.family.rule(parameter);
        let kept: Vec<f64> = scored
            .iter()
            .map(|r| {
                Step::new(&r.logits, &rule)
                    .map(|step| step.q().iter().filter(|&&v| v >= step.tau()).count() as f64)
            })
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let mut entry = json!({
            "rate": rate,
            "method": m.name,
            "parameter": parameter,
            "decided": decided,
            "undecided": m.bounds.len() - decided,
            "rejected": rejected,
            "ambiguous": ambiguous,
            "threshold_kept_mean": mean(&kept),
            "threshold_kept_median": median(&kept),
        });
        if m.bat {
            eprintln!("match: full truncations for {} at {parameter:.4e}", m.name);
            entry["bat_sample"] = bat_sample(m, parameter, &sample, &run, backend)?;
            entry["gold_rescues"] = gold_rescues(m, parameter, &run)?;
        }
        summary.push(entry);
    }
    let per_token: Vec<Value> = scored
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let mut bounds = serde_json::Map::new();
            for m in &methods {
                bounds.insert(
                    m.name.clone(),
                    match m.bounds[k] {
                        Bound::At { rejected, kept } if m.bat => json!([kept, rejected]),
                        Bound::At { rejected, .. } => json!(rejected),
                        Bound::Never => json!("never"),
                        Bound::KeptUpTo(kept) => json!({"kept_up_to": kept}),
                        Bound::Undecided => json!("undecided"),
                    },
                );
            }
            json!({
                "index": r.index, "window_start": r.window_start, "gold": r.gold,
                "q_gold": r.q_gold, "rank": r.rank, "q_max": r.q_max, "entropy": r.entropy,
                "critical_tau": [r.bat.kept_tau, r.bat.rejected_tau],
                "bat_decided": r.bat.decided, "bat_probes": r.bat.probes,
                "bat_ms": r.bat_time.as_secs_f64() * 1e3,
                "boundaries": bounds,
            })
        })
        .collect();
    let results = json!({
        "settings": {
            "text": s.text, "model": s.model, "tokens": s.tokens, "window": s.window,
            "context": s.context, "start_line": s.start_line, "svd": s.svd, "sample": s.sample,
            "rates": s.rates, "rel_tol": s.search.rel_tol,
            "max_width": s.search.max_width, "max_tau": s.search.max_tau,
        },
        "text_tokens": tokens,
        "sample_steps": sample,
        "timing": timing,
        "matched": summary,
        "gold": per_token,
    });
    let path = s.out.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results).expect("json"))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let chart = s.out.join("rejection.svg").to_string_lossy().into_owned();
    /// One method's curve, owned, for the chart's borrowed series.
    struct Owned {
        name: String,
        colour: RGBColor,
        dashed: bool,
        points: Vec<(f64, f64)>,
    }
    let curves: Vec<Owned> = methods
        .iter()
        .map(|m| Owned {
            name: if m.family == Family::TopP {
                "top-p (x = 1 - p)".to_string()
            } else {
                m.name.clone()
            },
            colour: match m.family {
                Family::Epsilon => plot::PALETTE[2],
                Family::Eta => plot::PALETTE[1],
                Family::TopP => plot::PALETTE[3],
                _ => plot::PALETTE[4],
            },
            dashed: m.bat,
            points: m.curve(),
        })
        .collect();
    let series: Vec<plot::Series> = curves
        .iter()
        .map(|c| plot::Series {
            name: &c.name,
            colour: c.colour,
            dashed: c.dashed,
            markers: false,
            points: &c.points,
        })
        .collect();
    plot::chart(
        &chart,
        &format!(
            "Gold-token rejection rate, SmolLM2-135M on {} real tokens (BAT: top-{} SVD basis)",
            scored.len(),
            s.svd
        ),
        &plot::Axis::log("parameter (epsilon, eta, min-p; 1 - p for top-p)").range(X_MIN..1.0),
        &plot::Axis::linear("share of gold tokens rejected")
            .range(0.0..1.0)
            .percent(),
        &s.rates,
        &series,
    )?;
    print_summary(&results);
    println!("\nwrote {} and {chart}", path.display());
    Ok(())
}

fn print_summary(results: &Value) {
    let number = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let mut rate = f64::NAN;
    for m in results["matched"].as_array().into_iter().flatten() {
        if number(&m["rate"]) != rate {
            rate = number(&m["rate"]);
            println!(
                "\n| method | parameter rejecting {}% of gold tokens | gold tokens rejected there | kept per step by the threshold, all steps (mean / median) | BAT on the sampled steps: kept by threshold + rescued below tau (mean), rescued median [min, max], undecided |",
                rate * 100.0
            );
            println!("|---|---|---|---|---|");
        }
        let name = m["method"].as_str().unwrap_or("");
        if m["parameter"].is_null() {
            println!(
                "| {name} | not reached by a valid parameter | - ({} decided) | - | - |",
                m["decided"]
            );
            continue;
        }
        let bat = &m["bat_sample"];
        let sample = if bat.is_null() {
            "-".to_string()
        } else {
            format!(
                "{:.1} + {:.1} = {:.1} ({} steps), {} [{}, {}], {}",
                number(&bat["threshold_kept_mean"]),
                number(&bat["rescued_mean"]),
                number(&bat["kept_mean"]),
                bat["steps"],
                bat["rescued_median"],
                bat["rescued_min"],
                bat["rescued_max"],
                bat["undecided_total"]
            )
        };
        println!(
            "| {name} | {:.3e} | {} of {} (+{} inside a bracket; {} undecided) | {:.1} / {} | {sample} |",
            number(&m["parameter"]),
            m["rejected"],
            m["decided"],
            m["ambiguous"],
            m["undecided"],
            number(&m["threshold_kept_mean"]),
            m["threshold_kept_median"],
        );
    }
}

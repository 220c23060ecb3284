//! `basis-aware evaluate` (feature `eval`): the ground-truth evaluation end to end from one seed.
//! Writes `results.json` and SVG plots to `--out`, and prints the markdown tables of
//! `docs/evaluation.md`.

use std::time::{Duration, Instant};

use basis_aware::eval::fit::{fit, FitConfig};
use basis_aware::eval::support::STATIONARY_TOL;
use basis_aware::eval::sweep::{at_rejection, sweep, Curve, CurvePoint, Family, Method};
use basis_aware::eval::world::{World, WorldConfig};
use basis_aware::{Basis, Rule};
use serde_json::json;

use crate::flags::Flags;
use crate::svg;

const COLOURS: &[&str] = &["#444444", "#d62728", "#1f77b4", "#2ca02c", "#9467bd"];

/// The parameter grids: each from loose (keeps more) to strict.
fn families() -> Vec<Family> {
    let grid = |name: &str, make: fn(f64) -> Rule, values: &[f64]| Family {
        name: name.into(),
        rules: values.iter().map(|&v| (v, make(v))).collect(),
    };
    vec![
        grid(
            "epsilon",
            Rule::Epsilon,
            &[1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
        ),
        grid("eta", Rule::Eta, &[1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]),
        grid("top-p", Rule::TopP, &[0.99, 0.95, 0.9, 0.8, 0.7, 0.5]),
        grid("min-p", Rule::MinP, &[1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3]),
    ]
}

fn list<T: std::str::FromStr>(text: &str, name: &str) -> Result<Vec<T>, String> {
    text.split(',')
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| format!("--{name}: `{v}` is not a valid number"))
        })
        .collect()
}

pub fn evaluate(args: &[String]) -> Result<(), String> {
    let flags = Flags::parse(
        args,
        &[
            "out",
            "seed",
            "contexts",
            "vocab",
            "dim",
            "latent",
            "min-support",
            "max-support",
            "zipf",
            "steps",
            "lr",
            "svd",
            "time-limit",
            "targets",
        ],
    )?;
    let out = flags
        .get("out")
        .ok_or_else(|| "evaluate needs --out DIR; see `basis-aware --help`".to_string())?;
    let seed: u64 = flags.number("seed", 0)?;
    let dim: usize = flags.number("dim", 16)?;
    let world_config = WorldConfig {
        contexts: flags.number("contexts", 100)?,
        vocab: flags.number("vocab", 2000)?,
        latent: flags.number("latent", 256)?,
        min_support: flags.number("min-support", 8)?,
        max_support: flags.number("max-support", 128)?,
        zipf: flags.number("zipf", 1.0)?,
        seed,
    };
    let fit_config = FitConfig {
        dim,
        steps: flags.number("steps", 600)?,
        learning_rate: flags.number("lr", 0.05)?,
        seed: seed.wrapping_add(1),
    };
    let ranks: Vec<usize> = list(flags.get("svd").unwrap_or("4,8"), "svd")?;
    let targets: Vec<f64> = list(
        flags.get("targets").unwrap_or("0.98,0.99,0.995,0.999"),
        "targets",
    )?;
    let time_limit: f64 = flags.number("time-limit", 2.0)?;
    if !(time_limit.is_finite() && time_limit > 0.0 && time_limit < 1e9) {
        return Err("--time-limit must be a positive number of seconds".into());
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{out}: {e}"))?;

    let started = Instant::now();
    let world = World::generate(&world_config).map_err(|e| e.to_string())?;
    let (model, trace, stationarity) = fit(&world, &fit_config).map_err(|e| e.to_string())?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let w = model.embedding();
    let mut bases = vec![(Method::BatFull, Basis::full(w).map_err(|e| e.to_string())?)];
    for &c in &ranks {
        bases.push((
            Method::BatSvd(c),
            Basis::svd(w, c).map_err(|e| e.to_string())?,
        ));
    }
    let families = families();
    let swept = sweep(
        &world,
        &model,
        &stationarity,
        &families,
        &bases,
        Duration::from_secs_f64(time_limit),
    )
    .map_err(|e| e.to_string())?;
    let sweep_seconds = started.elapsed().as_secs_f64() - fit_seconds;

    let contexts = world.contexts();
    let entropy = (0..contexts).map(|c| world.entropy(c)).sum::<f64>() / contexts as f64;
    let mut adam: Vec<f64> = stationarity.iter().map(|s| s.adam_residual).collect();
    let mut newton: Vec<f64> = stationarity.iter().map(|s| s.residual).collect();
    adam.sort_by(f64::total_cmp);
    newton.sort_by(f64::total_cmp);
    let quantiles = |v: &[f64]| json!({"min": v[0], "median": v[v.len() / 2], "p90": v[v.len() * 9 / 10], "max": v[v.len() - 1]});
    let curve_json = |c: &Curve| {
        json!({
            "family": c.family, "method": c.method.to_string(),
            "points": c.points.iter().map(|p| json!({
                "param": p.param, "rejection": p.rejection, "outside_rejection": p.outside_rejection,
                "precision": p.precision, "recall": p.recall, "kept": p.kept, "undecided": p.undecided,
            })).collect::<Vec<_>>(),
        })
    };
    let s = swept.soundness;
    let results = json!({
        "config": {
            "seed": seed, "contexts": contexts, "vocab": world.vocab, "dim": dim,
            "latent": world_config.latent, "min_support": world_config.min_support,
            "max_support": world_config.max_support, "zipf": world_config.zipf,
            "steps": fit_config.steps, "lr": fit_config.learning_rate, "svd": ranks,
            "time_limit": time_limit,
        },
        "fit": {
            "mean_entropy": entropy,
            "trace": trace.iter().map(|p| json!([p.step, p.loss, p.grad_norm, p.max_residual])).collect::<Vec<_>>(),
            "adam_residual": quantiles(&adam),
            "newton_residual": quantiles(&newton),
            "stationary_contexts": swept.stationary,
            "stationary_tol": STATIONARY_TOL,
            "residuals": stationarity.iter().map(|s| json!([s.adam_residual, s.residual, s.newton_iterations])).collect::<Vec<_>>(),
        },
        "soundness": {
            "containment_failures": s.containment_failures, "covered": s.covered,
            "kept_checked": s.kept_checked, "below_tau_checked": s.below_tau_checked,
            "violations": s.violations,
        },
        "curves": swept.curves.iter().map(curve_json).collect::<Vec<_>>(),
        "seconds": {"fit": fit_seconds, "sweep": sweep_seconds},
    });
    let json_path = format!("{out}/results.json");
    std::fs::write(&json_path, format!("{results:#}\n"))
        .map_err(|e| format!("{json_path}: {e}"))?;

    // Plots: the fit, then recall and precision against the share of non-support tokens kept.
    let excess: Vec<(f64, f64)> = trace
        .iter()
        .map(|p| (p.step as f64 + 1.0, p.loss - entropy))
        .collect();
    let grad: Vec<(f64, f64)> = trace
        .iter()
        .map(|p| (p.step as f64 + 1.0, p.grad_norm))
        .collect();
    let residual: Vec<(f64, f64)> = trace
        .iter()
        .map(|p| (p.step as f64 + 1.0, p.max_residual))
        .collect();
    let io = |path: String, r: std::io::Result<()>| r.map_err(|e| format!("{path}: {e}"));
    let path = format!("{out}/eval-fit.svg");
    io(
        path.clone(),
        svg::xy_chart(
            &path,
            "Adam fit: excess cross-entropy (nats), gradient norm, max |W^T (q - p*)|",
            ("step", true),
            ("value", true),
            &[
                ("loss - entropy of p*", COLOURS[0], &excess),
                ("gradient norm", COLOURS[1], &grad),
                ("max_c |W^T (q_c - p*_c)|_inf", COLOURS[2], &residual),
            ],
        ),
    )?;
    let sorted = |v: &[f64]| -> Vec<(f64, f64)> {
        v.iter()
            .enumerate()
            .map(|(k, &r)| ((k + 1) as f64, r))
            .collect()
    };
    let (adam_sorted, newton_sorted) = (sorted(&adam), sorted(&newton));
    let path = format!("{out}/eval-residuals.svg");
    io(
        path.clone(),
        svg::xy_chart(
            &path,
            "Per-context |W^T (q_c - p*_c)|_inf, sorted (Newton: 0 where exact, not drawn)",
            ("context (sorted by residual)", false),
            ("residual", true),
            &[
                ("after Adam (f64 W)", COLOURS[0], &adam_sorted),
                ("after Newton re-solve (f32 W)", COLOURS[1], &newton_sorted),
            ],
        ),
    )?;
    for family in &families {
        let curves: Vec<&Curve> = swept
            .curves
            .iter()
            .filter(|c| c.family == family.name)
            .collect();
        for (what, pick) in [
            (
                "recall",
                (|p: &CurvePoint| p.recall) as fn(&CurvePoint) -> f64,
            ),
            ("precision", |p| p.precision),
        ] {
            let series: Vec<(String, Vec<(f64, f64)>)> = curves
                .iter()
                .map(|c| {
                    (
                        c.method.to_string(),
                        c.points
                            .iter()
                            .map(|p| (1.0 - p.outside_rejection, pick(p)))
                            .collect(),
                    )
                })
                .collect();
            let refs: Vec<svg::Series<'_>> = series
                .iter()
                .enumerate()
                .map(|(k, (n, pts))| (n.as_str(), COLOURS[k % COLOURS.len()], pts.as_slice()))
                .collect();
            let path = format!("{out}/eval-{}-{what}.svg", family.name);
            io(
                path.clone(),
                svg::xy_chart(
                    &path,
                    &format!("{}: {what} of the true support", family.name),
                    (
                        "share of non-support tokens kept (1 - rejection rate outside the support)",
                        true,
                    ),
                    (what, false),
                    &refs,
                ),
            )?;
        }
    }

    // Markdown tables.
    println!(
        "world: {contexts} contexts, V = {}, supports {}..={} (Zipf {}), latent rank {}; model d = {dim}; seed {seed}",
        world.vocab, world_config.min_support, world_config.max_support, world_config.zipf, world_config.latent
    );
    let last = trace.last().expect("at least one step");
    println!(
        "fit: {} Adam steps, loss {:.4} (entropy of p* {:.4}, excess {:.4}), gradient norm {:.2e}; \
         |W^T (q - p*)|_inf after Adam median {:.1e} max {:.1e}, after Newton median {:.1e} max {:.1e}; \
         {} of {contexts} contexts stationary (<= {STATIONARY_TOL:e})",
        fit_config.steps, last.loss, entropy, last.loss - entropy, last.grad_norm,
        adam[contexts / 2], adam[contexts - 1], newton[contexts / 2], newton[contexts - 1],
        swept.stationary
    );
    println!(
        "soundness: {} evaluations with stationarity and the box; {} kept tokens checked ({} below tau), {} with p* = 0; {} BAT sets missing a threshold token",
        s.covered, s.kept_checked, s.below_tau_checked, s.violations, s.containment_failures
    );
    println!("time: fit {fit_seconds:.1} s, sweep {sweep_seconds:.1} s\n");
    println!(
        "Per parameter (means over contexts; rejection = share of non-support tokens rejected):\n"
    );
    println!(
        "| rule | method | param | rejection outside | kept | precision | recall | undecided |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for c in &swept.curves {
        for p in &c.points {
            println!(
                "| {} | {} | {} | {:.4} | {:.1} | {:.3} | {:.3} | {} |",
                c.family,
                c.method,
                p.param,
                p.outside_rejection,
                p.kept,
                p.precision,
                p.recall,
                p.undecided
            );
        }
    }
    println!("\nAt matched rejection rates outside the support (linear interpolation; - outside the swept range):\n");
    let header: Vec<String> = targets
        .iter()
        .map(|t| format!("recall @ {:.1}% | precision @ {:.1}%", t * 100.0, t * 100.0))
        .collect();
    println!("| rule | method | {} |", header.join(" | "));
    println!("|---|---|{}", "---|---|".repeat(targets.len()));
    for c in &swept.curves {
        let cells: Vec<String> = targets
            .iter()
            .map(|&t| {
                let value = |pick: fn(&CurvePoint) -> f64| {
                    let pts: Vec<(f64, f64)> = c
                        .points
                        .iter()
                        .map(|p| (p.outside_rejection, pick(p)))
                        .collect();
                    at_rejection(&pts, t).map_or("-".to_string(), |v| format!("{v:.3}"))
                };
                format!("{} | {}", value(|p| p.recall), value(|p| p.precision))
            })
            .collect();
        println!("| {} | {} | {} |", c.family, c.method, cells.join(" | "));
    }
    println!("\nwrote {json_path} and SVG plots to {out}");
    Ok(())
}

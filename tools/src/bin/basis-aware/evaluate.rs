//! `basis-aware evaluate` (feature `eval`): the ground-truth evaluation end to end from one seed.
//! Writes `results.json` and SVG plots to `--out`, and prints the markdown tables of
//! `docs/evaluation.md`.

use std::time::Duration;

/// Run the ground-truth evaluation (feature eval): a synthetic world with known true supports,
/// a fitted rank-d softmax, and every rule's precision and recall with and without BAT.
#[derive(clap::Args)]
pub struct Args {
    /// Directory for results.json and the SVG plots.
    #[arg(long, value_name = "DIR")]
    pub out: String,
    /// Seed of the world (the fit uses seed + 1).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Contexts of the world.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub contexts: usize,
    /// Vocabulary size.
    #[arg(long, value_name = "V", default_value_t = 2000)]
    pub vocab: usize,
    /// Hidden size of the fitted model.
    #[arg(long, value_name = "D", default_value_t = 16)]
    pub dim: usize,
    /// Rank of the latent scores that pick the supports.
    #[arg(long, value_name = "L", default_value_t = 256)]
    pub latent: usize,
    /// Smallest support.
    #[arg(long, value_name = "K", default_value_t = 8)]
    pub min_support: usize,
    /// Largest support.
    #[arg(long, value_name = "K", default_value_t = 128)]
    pub max_support: usize,
    /// Zipf exponent of the supports' weights.
    #[arg(long, value_name = "A", default_value_t = 1.0)]
    pub zipf: f64,
    /// Adam steps of the fit.
    #[arg(long, value_name = "N", default_value_t = 600)]
    pub steps: usize,
    /// Adam's learning rate.
    #[arg(long, value_name = "X", default_value_t = 0.05)]
    pub lr: f64,
    /// Ranks of the SVD bases, next to the full W.
    #[arg(
        long,
        value_name = "C,C,...",
        value_delimiter = ',',
        default_value = "4,8"
    )]
    pub svd: Vec<usize>,
    /// Time limit of each LP solve, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "2", value_parser = crate::backend::seconds)]
    pub time_limit: Duration,
    /// Rejection rates outside the support to compare the methods at.
    #[arg(
        long,
        value_name = "R,R,...",
        value_delimiter = ',',
        default_value = "0.98,0.99,0.995,0.999"
    )]
    pub targets: Vec<f64>,
}

#[cfg(not(feature = "eval"))]
pub fn run(_: Args) -> Result<(), String> {
    Err(
        "evaluate needs a build with the `eval` feature (-p basis-aware-tools --features eval)"
            .into(),
    )
}

#[cfg(feature = "eval")]
pub use with_eval::run;

#[cfg(feature = "eval")]
mod with_eval {
    use std::time::Instant;

    use basis_aware::{Basis, Rule};
    use basis_aware_tools::eval::fit::{fit, FitConfig};
    use basis_aware_tools::eval::support::STATIONARY_TOL;
    use basis_aware_tools::eval::sweep::{at_rejection, sweep, Curve, CurvePoint, Family, Method};
    use basis_aware_tools::eval::world::{World, WorldConfig};
    use serde_json::json;

    use super::Args;
    use crate::plot::{self, Axis, PALETTE};

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

    pub fn run(args: Args) -> Result<(), String> {
        let Args {
            out,
            seed,
            dim,
            svd: ranks,
            time_limit,
            targets,
            ..
        } = args;
        let out = out.as_str();
        let world_config = WorldConfig {
            contexts: args.contexts,
            vocab: args.vocab,
            latent: args.latent,
            min_support: args.min_support,
            max_support: args.max_support,
            zipf: args.zipf,
            seed,
        };
        let fit_config = FitConfig {
            dim,
            steps: args.steps,
            learning_rate: args.lr,
            seed: seed.wrapping_add(1),
        };
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
        let swept = sweep(&world, &model, &stationarity, &families, &bases, time_limit)
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
                "time_limit": time_limit.as_secs_f64(),
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
        let line = |name, colour, points| plot::Series {
            name,
            colour,
            dashed: false,
            markers: false,
            points,
        };
        plot::chart(
            &format!("{out}/eval-fit.svg"),
            "Adam fit: excess cross-entropy (nats), gradient norm, max |W^T (q - p*)|",
            &Axis::log("step"),
            &Axis::log("value"),
            &[],
            &[
                line("loss - entropy of p*", PALETTE[0], &excess),
                line("gradient norm", PALETTE[1], &grad),
                line("max_c |W^T (q_c - p*_c)|_inf", PALETTE[2], &residual),
            ],
        )?;
        let sorted = |v: &[f64]| -> Vec<(f64, f64)> {
            v.iter()
                .enumerate()
                .map(|(k, &r)| ((k + 1) as f64, r))
                .collect()
        };
        let (adam_sorted, newton_sorted) = (sorted(&adam), sorted(&newton));
        plot::chart(
            &format!("{out}/eval-residuals.svg"),
            "Per-context |W^T (q_c - p*_c)|_inf, sorted (Newton: 0 where exact, not drawn)",
            &Axis::linear("context (sorted by residual)"),
            &Axis::log("residual"),
            &[],
            &[
                line("after Adam (f64 W)", PALETTE[0], &adam_sorted),
                line("after Newton re-solve (f32 W)", PALETTE[1], &newton_sorted),
            ],
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
                let points: Vec<(String, Vec<(f64, f64)>)> = curves
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
                let series: Vec<plot::Series> = points
                    .iter()
                    .enumerate()
                    .map(|(k, (name, pts))| plot::Series {
                        name,
                        colour: PALETTE[k % PALETTE.len()],
                        dashed: false,
                        markers: true,
                        points: pts,
                    })
                    .collect();
                plot::chart(
                    &format!("{out}/eval-{}-{what}.svg", family.name),
                    &format!("{}: {what} of the true support", family.name),
                    &Axis::log(
                        "share of non-support tokens kept (1 - rejection rate outside the support)",
                    ),
                    &Axis::linear(what),
                    &[],
                    &series,
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
}

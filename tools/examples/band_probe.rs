//! Full masks on a few exported real steps (`scripts/bench-steps.sh`) with per-phase counts and
//! times, for quick iteration on the band engines: `cargo run --release -p basis-aware-tools
//! --example band_probe -- [steps] [pipeline]` (`pipeline`: `default`, `bulk`, `band` or `old`;
//! `PROBE_ONLY=<k>` for one step, `PROBE_HEADS=256,4096` and `PROBE_GROW` for the band's
//! head LP, priced head and growth). `PROBE_DRAWS=<passes>` times lazy draws instead, and
//! `PROBE_EACH` prints each draw's backend calls, refusals, time and proof.

use std::path::PathBuf;
use std::time::Instant;

use basis_aware::backends::SimplexBackend;
use basis_aware::reduction::{BandLp, BulkRejects, EachToken, HeadKeeps, Reduction, TailChunks};
use basis_aware::{truncate_with, Basis, Rule};
use basis_aware_tools::instance::{Constraint, Instance};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let picks: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(3);
    let which = args.get(2).cloned().unwrap_or_else(|| "default".into());
    let home = std::env::var_os("HOME").map(PathBuf::from).expect("HOME");
    // `PROBE_DIR`: another directory of exported steps (with its own `svd20.safetensors`).
    let dir = std::env::var_os("PROBE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".cache/basis-aware/steps"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("steps dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("prompt"))
        })
        .collect();
    files.sort();
    let mut all = Vec::new();
    let mut w = None;
    for file in &files {
        let instance = Instance::load(file).expect("instance");
        for k in 0..instance.steps {
            let logits = instance.step_logits(k).expect("step").to_vec();
            let q = basis_aware::softmax(&logits).expect("finite");
            let entropy: f64 = q.iter().filter(|&&p| p > 0.0).map(|&p| -p * p.ln()).sum();
            all.push((entropy, logits));
        }
        if w.is_none() {
            if let Constraint::Embedding(e, d) = instance.constraint {
                w = Some((e, d));
            }
        }
    }
    let (w, d) = w.expect("embedding");
    let basis = svd_basis(&dir, &w, d);
    if let Some(file) = std::env::var("PROBE_SEQ")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        sequence(&files[file], &basis);
        return;
    }
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    if std::env::var_os("PROBE_DRAWS").is_some() {
        draws(&all, &basis);
        return;
    }
    let h: Vec<f32> = (0..d)
        .map(|k| ((k * 37 % 101) as f32 - 50.0) / 50.0)
        .collect();
    let t = Instant::now();
    for _ in 0..20 {
        std::hint::black_box(unembed(&w, &h));
    }
    let wh = t.elapsed().as_secs_f64() / 20.0;
    eprintln!("W h: {:.2} ms", wh * 1e3);
    let only: Option<usize> = std::env::var("PROBE_ONLY")
        .ok()
        .and_then(|v| v.parse().ok());
    for p in 0..picks {
        let at = if picks == 1 {
            0
        } else {
            p * (all.len() - 1) / (picks - 1)
        };
        let at = only.unwrap_or(at);
        let (entropy, logits) = &all[at];
        // One band reduction per step: epsilon's mask starts from eta's pool of duals.
        let mut band = match std::env::var("PROBE_HEADS") {
            Ok(v) => {
                let t: Vec<usize> = v.split(',').filter_map(|x| x.parse().ok()).collect();
                let grow = std::env::var("PROBE_GROW")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(256);
                BandLp::with_heads(t[0], t[1], grow)
            }
            Err(_) => BandLp::default(),
        };
        if std::env::var("PROBE_POOL").is_ok_and(|v| v == "0") {
            band.pool_size = 0;
        }
        // `PROBE_REPEAT`: the step's masks this many times, so a profile holds little setup.
        let repeat: usize = std::env::var("PROBE_REPEAT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let rules = [("eta", Rule::Eta(9e-4)), ("epsilon", Rule::Epsilon(3e-4))];
        for (name, rule) in rules.iter().cycle().take(2 * repeat) {
            let threads: usize = std::env::var("PROBE_THREADS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            let start = Instant::now();
            let m = pool
                .install(|| {
                    let mut pipeline: Vec<Box<dyn Reduction + '_>> = match which.as_str() {
                        "bulk" => vec![Box::new(BulkRejects::default())],
                        "band" => vec![Box::new(BulkRejects::default()), Box::new(&mut band)],
                        "old" => vec![
                            Box::new(BulkRejects::default()),
                            Box::new(HeadKeeps),
                            Box::new(TailChunks),
                            Box::new(EachToken),
                        ],
                        _ => vec![
                            Box::new(BulkRejects::default()),
                            Box::new(&mut band),
                            Box::new(HeadKeeps),
                            Box::new(TailChunks),
                            Box::new(EachToken),
                        ],
                    };
                    truncate_with(
                        logits,
                        &basis,
                        rule,
                        Some(&mut SimplexBackend::default()),
                        &mut pipeline,
                    )
                })
                .expect("mask");
            let e = start.elapsed().as_secs_f64();
            let c = &m.counts;
            eprintln!(
                "step {at} {name} H {entropy:.2}: {:.1} ms = {:.1}x | kept {} thr {} dual {} | bulk {} chunk {} point {} | undec {} | solves {} sets {}",
                e * 1e3, e / wh, m.kept.len(), c.threshold_kept, c.dual_kept, c.bulk_rejected,
                c.chunk_rejected, c.point_rejected, c.undecided, c.solves, c.set_solves
            );
            let r = &band.report;
            let e = &r.engines;
            eprintln!("    band asked {} points {:?} duals {:?} refused {} screened {} misses {} left {} grown_max {} waves {} | pool tried {} hits {} kept {}", e.asked, e.points, e.duals, e.refused, e.screened, e.misses, e.left, e.grown_max, r.waves, r.pool_tried, r.pool_hits, r.pool_kept);
            eprintln!(
                "    band tokens by time per token (< 0.15, 0.5, 2, 5 ms, rest): {}",
                e.by_time
                    .iter()
                    .map(|(n, t)| format!("{n} in {:.1} ms", t.as_secs_f64() * 1e3))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            eprintln!(
                "    lp {:?} | lp {:.1} ms verify {:.1} ms price {:.1} ms (summed over threads)",
                e.lp.iter()
                    .map(|s| (s.solves, s.pivots))
                    .collect::<Vec<_>>(),
                e.lp_time.as_secs_f64() * 1e3,
                e.verify_time.as_secs_f64() * 1e3,
                e.price_time.as_secs_f64() * 1e3
            );
        }
        if only.is_some() {
            break;
        }
    }
}

/// Lazy draws whose first candidate is below `tau` (eta), four seeds a step, three passes:
/// median, p90 and p99 of whole `sample_step` calls with a fresh simplex backend.
fn draws(all: &[(f64, Vec<f32>)], basis: &Basis) {
    use basis_aware::{sample_step, synthetic, SampleBudget, Step};
    let mut pairs = Vec::new();
    // The seeds found once, cached: the search is most of a run under a profiler.
    let cache = std::env::temp_dir().join(format!("band_probe_draw_seeds{}.txt", cache_tag()));
    let cached: Option<Vec<Vec<u64>>> = std::fs::read_to_string(&cache).ok().map(|text| {
        text.lines()
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|v| v.parse().ok())
                    .collect()
            })
            .collect()
    });
    let mut found = Vec::new();
    for (k, (_, logits)) in all.iter().enumerate() {
        let step = Step::new(logits, &Rule::Eta(9e-4)).expect("step");
        if let Some(seeds) = cached.as_ref().and_then(|c| c.get(k)) {
            pairs.extend(seeds.iter().map(|&s| (step.clone(), s)));
            continue;
        }
        let seeds: Vec<u64> = (0..3000)
            .filter(|&seed| {
                !sample_step(
                    &step,
                    basis,
                    None,
                    SampleBudget::unlimited(),
                    &mut synthetic::rng(seed),
                )
                .expect("draw")
                .refused
                .is_empty()
            })
            .take(4)
            .collect();
        found.push(
            seeds
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(" "),
        );
        pairs.extend(seeds.into_iter().map(|s| (step.clone(), s)));
    }
    if cached.is_none() {
        std::fs::write(&cache, found.join("\n")).expect("seed cache");
    }
    let passes: usize = std::env::var("PROBE_DRAWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let times = timed_draws(&pairs, basis, passes);
    if let Some(repeats) = std::env::var("PROBE_MEDIAN")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        // The middle fifth of the pairs by time, alone, for a profile of the typical draw
        // (`--toggle-collect=*median_draw*`).
        // Chosen once and cached, so that builds compared run the same draws.
        let cache =
            std::env::temp_dir().join(format!("band_probe_middle_pairs{}.txt", cache_tag()));
        let picks: Vec<usize> = match std::fs::read_to_string(&cache) {
            Ok(text) => text
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect(),
            Err(_) if std::env::var_os("PROBE_ONE_LP").is_some() => {
                // The draws the bench's are (1.02 LPs a draw there): one backend call.
                let mut ones: Vec<usize> = (0..pairs.len())
                    .filter(|&k| {
                        let (step, seed) = &pairs[k];
                        let drawn = basis_aware::sample_step(
                            &fresh(step),
                            basis,
                            Some(&mut SimplexBackend::default()),
                            basis_aware::SampleBudget::unlimited(),
                            &mut basis_aware::synthetic::rng(*seed),
                        )
                        .expect("draw");
                        drawn.solves == 1
                    })
                    .collect();
                ones.sort_by(|&a, &b| times[a].total_cmp(&times[b]));
                let picks = ones[ones.len() * 2 / 5..ones.len() * 3 / 5].to_vec();
                let text: Vec<String> = picks.iter().map(|k| k.to_string()).collect();
                std::fs::write(&cache, text.join(" ")).expect("middle pairs cache");
                picks
            }
            Err(_) => {
                let mut order: Vec<usize> = (0..pairs.len()).collect();
                order.sort_by(|&a, &b| times[a].total_cmp(&times[b]));
                let picks = order[order.len() * 2 / 5..order.len() * 3 / 5].to_vec();
                let text: Vec<String> = picks.iter().map(|k| k.to_string()).collect();
                std::fs::write(&cache, text.join(" ")).expect("middle pairs cache");
                picks
            }
        };
        let middle: Vec<_> = picks.iter().map(|&k| pairs[k].clone()).collect();
        let fresh_pairs: Vec<_> = (0..repeats)
            .flat_map(|_| middle.iter().map(|(step, seed)| (fresh(step), *seed)))
            .collect();
        let start = Instant::now();
        median_draw(&fresh_pairs, basis);
        eprintln!(
            "middle {} pairs alone: {:.3} ms a draw",
            middle.len(),
            start.elapsed().as_secs_f64() * 1e3 / (repeats * middle.len()) as f64
        );
    }
    report_draws(times);
}

/// Tells the caches of one steps directory from another's.
fn cache_tag() -> String {
    std::env::var("PROBE_DIR")
        .map(|d| format!("_{}", d.replace('/', "_")))
        .unwrap_or_default()
}

/// A copy of `step` with nothing cached, as a new decode step starts.
fn fresh(step: &basis_aware::Step) -> basis_aware::Step {
    basis_aware::Step::from_probabilities(step.q().to_vec(), step.tau()).expect("step")
}

/// Draws from fresh steps, for profilers.
#[inline(never)]
fn median_draw(pairs: &[(basis_aware::Step, u64)], basis: &Basis) {
    use basis_aware::{sample_step, synthetic, SampleBudget};
    let mut solves = 0;
    for pair in pairs {
        let drawn = sample_step(
            &pair.0,
            basis,
            Some(&mut SimplexBackend::default()),
            SampleBudget::unlimited(),
            &mut synthetic::rng(pair.1),
        )
        .expect("draw");
        solves += drawn.solves;
        std::hint::black_box(drawn);
    }
    eprintln!(
        "{:.2} backend calls a draw",
        solves as f64 / pairs.len() as f64
    );
}

/// The timed part of [`draws`], apart for profilers (`--toggle-collect=*timed_draws*`).
#[inline(never)]
fn timed_draws(pairs: &[(basis_aware::Step, u64)], basis: &Basis, passes: usize) -> Vec<f64> {
    use basis_aware::{sample_step, synthetic, SampleBudget};
    let mut times = Vec::new();
    for _ in 0..passes {
        for (step, seed) in pairs {
            let step = fresh(step);
            let start = Instant::now();
            let drawn = std::hint::black_box(
                sample_step(
                    &step,
                    basis,
                    Some(&mut SimplexBackend::default()),
                    SampleBudget::unlimited(),
                    &mut synthetic::rng(*seed),
                )
                .expect("draw"),
            );
            times.push(start.elapsed().as_secs_f64() * 1e3);
            if std::env::var_os("PROBE_EACH").is_some() {
                eprintln!(
                    "EACH {} {} {:.3} {:?}",
                    drawn.solves,
                    drawn.refused.len(),
                    times[times.len() - 1],
                    drawn.proof
                );
            }
        }
    }
    times
}

fn report_draws(mut times: Vec<f64>) {
    times.sort_by(f64::total_cmp);
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    eprintln!(
        "draws {}: median {:.3} ms p90 {:.3} p99 {:.3} max {:.3}",
        times.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        times[times.len() - 1]
    );
}

fn unembed(w: &[f32], h: &[f32]) -> Vec<f32> {
    w.chunks_exact(h.len())
        .map(|row| {
            let mut lanes = [0.0f32; 8];
            for (r, x) in row.chunks_exact(8).zip(h.chunks_exact(8)) {
                for k in 0..8 {
                    lanes[k] += r[k] * x[k];
                }
            }
            lanes.iter().sum()
        })
        .collect()
}

/// The directory's top-20 SVD basis of `w` (`d` columns), built and saved there when missing
/// (the mask bench writes the same file).
fn svd_basis(dir: &std::path::Path, w: &[f32], d: usize) -> Basis {
    let file = dir.join("svd20.safetensors");
    if let Ok((basis, _)) = Basis::load(&file) {
        return basis;
    }
    let view = basis_aware::MatrixView::new(w, w.len() / d, d).expect("embedding shape");
    let basis = Basis::svd(view, 20).expect("SVD basis");
    basis
        .save(&file, &std::collections::HashMap::new())
        .expect("save the SVD basis");
    basis
}

/// The consecutive steps of one prompt under eta through one `BandLp`: how many of each step's
/// keeps the duals carried from the step before settle (the pool's hit rate step to step).
fn sequence(file: &std::path::Path, basis: &Basis) {
    let instance = Instance::load(file).expect("instance");
    let mut band = BandLp::default();
    for k in 0..instance.steps {
        let logits = instance.step_logits(k).expect("step").to_vec();
        let start = Instant::now();
        let mut pipeline: Vec<Box<dyn Reduction + '_>> = vec![
            Box::new(BulkRejects::default()),
            Box::new(&mut band),
            Box::new(HeadKeeps),
            Box::new(TailChunks),
            Box::new(EachToken),
        ];
        let m = truncate_with(
            &logits,
            basis,
            &Rule::Eta(9e-4),
            Some(&mut SimplexBackend::default()),
            &mut pipeline,
        )
        .expect("mask");
        drop(pipeline);
        let r = &band.report;
        eprintln!(
            "seq {} step {k}: {:.1} ms, dual keeps {}, pool tried {} hits {} kept {}",
            file.display(),
            start.elapsed().as_secs_f64() * 1e3,
            m.counts.dual_kept,
            r.pool_tried,
            r.pool_hits,
            r.pool_kept
        );
    }
}

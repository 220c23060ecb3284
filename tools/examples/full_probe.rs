//! Per-token decisions against the full basis (`[W 1]`, `m + 1 = 577` rows) on exported real
//! steps (`scripts/bench-steps.sh`): median and p90 per decided token, keeps and rejects apart,
//! for tokens near `tau` and in the tail, and a full mask within a deadline. `cargo run --release -p basis-aware-tools --example
//! full_probe -- [tokens per group] [steps] [old tail tokens] [mask]`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use basis_aware::backends::SimplexBackend;
use basis_aware::{decide, Basis, Outcome, Rule, Step};
use basis_aware_tools::instance::Instance;

/// Deadline of a full mask: undecided tokens are what it left.
const MASK_SECONDS: u64 = 180;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let per_group: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(20);
    let n_steps: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(2);
    let old_tail: usize = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(2);
    let mask = args.get(4).is_some_and(|v| v == "mask");
    let home = std::env::var_os("HOME").map(PathBuf::from).expect("HOME");
    let dir = home.join(".cache/basis-aware/steps");
    let instance = Instance::load(dir.join("prompt0.safetensors")).expect("instance");
    let basis: Basis = instance.basis(None).expect("full basis");
    eprintln!("basis: V = {}, m + 1 = {}", basis.vocab(), basis.dim() + 1);
    for k in 0..n_steps.min(instance.steps) {
        let logits = instance.step_logits(k).expect("step");
        let step = Step::new(logits, &Rule::Eta(9e-4)).expect("step");
        let below = step.below_threshold();
        let near: Vec<u32> = below.iter().copied().take(per_group).collect();
        let stride = (below.len() / 2 / per_group).max(1);
        let tail: Vec<u32> = below[below.len() / 2..]
            .iter()
            .copied()
            .step_by(stride)
            .take(per_group)
            .collect();
        eprintln!(
            "step {k}: tau = {:.3e}, {} below tau",
            step.tau(),
            below.len()
        );
        // The new path: one backend for the step's tokens, near ones first (as a mask asks
        // them), so the engine's head LP and its pooled duals carry from token to token.
        let mut backend = SimplexBackend::default();
        for (group, tokens) in [("near", &near), ("tail", &tail)] {
            let (keeps, rejects, undecided) =
                time_tokens(&step, &basis, tokens, &mut backend, None);
            eprintln!(
                "  new {group}: keeps {} | rejects {} | undecided {undecided}",
                stats(keeps),
                stats(rejects)
            );
        }
        eprintln!("  engine: {:?}", backend.full_basis_stats());
        if std::env::var_os("FULL_PROBE_NEW_ONLY").is_some() {
            continue;
        }
        // The old path (column generation from the logical basis), a fresh backend per token as
        // `benches/real.rs` times it; tail rejects take a minute or more each, so only `old_tail`
        // of them.
        for (group, tokens, limit) in [("near", &near, per_group), ("tail", &tail, old_tail)] {
            let mut old = SimplexBackend::default();
            old.full_basis_engine = false;
            let (keeps, rejects, undecided) = time_tokens(
                &step,
                &basis,
                &tokens[..limit.min(tokens.len())],
                &mut old,
                Some(()),
            );
            eprintln!(
                "  old {group}: keeps {} | rejects {} | undecided {undecided}",
                stats(keeps),
                stats(rejects)
            );
        }
        if mask {
            // The bulk certificate, which the pipeline skips above `BULK_MAX_ROWS` rows: what
            // it would reject at this size, and at what cost.
            let start = Instant::now();
            let bulk = basis_aware::verify::rejected_by_bulk(
                &step,
                &basis,
                &basis_aware::BulkRejectCertificate {
                    radius: basis_aware::reduction::DEFAULT_BULK_RADIUS,
                },
            );
            eprintln!(
                "  bulk certificate at m + 1 = {}: {:.2} s, {}",
                basis.dim() + 1,
                start.elapsed().as_secs_f64(),
                match &bulk {
                    Ok(r) => format!("{} rejected", r.len()),
                    Err(e) => format!("refused: {e}"),
                }
            );
            let start = Instant::now();
            let t = basis_aware::truncate_within(
                logits,
                &basis,
                &Rule::Eta(9e-4),
                Some(&mut SimplexBackend::default()),
                &mut basis_aware::reduction::default_pipeline(),
                basis_aware::Budget::within(Duration::from_secs(MASK_SECONDS)),
            )
            .expect("mask");
            eprintln!(
                "  full mask: {:.2} s, kept {} (threshold {}, duals {}), rejected {}, undecided {}, solves {}",
                start.elapsed().as_secs_f64(),
                t.kept.len(),
                t.counts.threshold_kept,
                t.counts.dual_kept,
                t.counts.point_rejected + t.counts.chunk_rejected + t.counts.bulk_rejected,
                t.counts.undecided,
                t.counts.solves
            );
        }
    }
}

/// Decides `tokens` one call at a time through `backend` (a fresh copy per call when `fresh`),
/// timing each; the keep and reject times and the undecided count.
fn time_tokens(
    step: &Step,
    basis: &Basis,
    tokens: &[u32],
    backend: &mut SimplexBackend,
    fresh: Option<()>,
) -> (Vec<Duration>, Vec<Duration>, usize) {
    let (mut keeps, mut rejects, mut undecided) = (Vec::new(), Vec::new(), 0);
    for &t in tokens {
        let mut copy = backend.clone();
        let b = if fresh.is_some() {
            &mut copy
        } else {
            &mut *backend
        };
        let start = Instant::now();
        let outcome = decide(step, basis, t, Some(b)).expect("decide");
        let e = start.elapsed();
        if std::env::var_os("FULL_PROBE_VERBOSE").is_some() {
            eprintln!(
                "    token {t}: {:.1} ms, {}",
                e.as_secs_f64() * 1e3,
                describe(&outcome)
            );
        }
        match outcome {
            Outcome::Keep(_) => keeps.push(e),
            Outcome::Reject(_) => rejects.push(e),
            Outcome::Undecided(_) => undecided += 1,
        }
    }
    (keeps, rejects, undecided)
}

fn stats(mut times: Vec<Duration>) -> String {
    if times.is_empty() {
        return "0".into();
    }
    times.sort();
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;
    format!(
        "{} median {:.1} ms p90 {:.1} ms",
        times.len(),
        at(0.5),
        at(0.9)
    )
}

fn describe(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Keep(_) => "keep",
        Outcome::Reject(_) => "reject",
        Outcome::Undecided(_) => "undecided",
    }
}

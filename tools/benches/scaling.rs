//! How the default simplex backend's per-token time grows with the vocabulary `V` and the number
//! of basis columns `m`: Gaussian `W` with hidden size 64, `V` from 4096 to 262144, top-20 SVD
//! basis (`m + 1 = 21` rows) and the full `W` (`m + 1 = 65`); and, for SmolLM2-135M's number of
//! rows, a second Gaussian `W` with hidden size 576 used as the full basis (`m + 1 = 577`).
//!
//!     cargo bench -p basis-aware-tools --bench scaling
//!
//! At `m + 1 = 577` one token takes seconds, so each token is first solved once and timed; a
//! token that took more than 30 s is not repeated by criterion, and once one has, the larger
//! vocabularies are skipped at `m + 1 = 577`. The one solve per token is printed as
//! `full577,V,token,seconds`.
//!
//! Tokens per instance: the most probable one below `tau` and the median one of the tail.
//! Before the criterion groups, the bench times the two ways to use BAT in a decode loop on the
//! same instances and prints them as `scaling,V,m+1,kind,seconds` lines (for
//! `benches/plot_scaling.py`): a lazy draw whose first candidate is below `tau` (median over up
//! to 10 such draws, each with a fresh backend) and a full mask (one `truncate`, only where
//! `V (m + 1) <= 16384 x 21`: beyond, one mask takes minutes). At `m + 1 = 577` the lazy draw is
//! the median of 3 draws, each capped at 120 s inside the backend.

use std::hint::black_box;
use std::time::{Duration, Instant};

use basis_aware::backends::SimplexBackend;
use basis_aware::synthetic::{self, gaussian_instance, Synthetic};
use basis_aware::{decide, sample_step, truncate, Basis, Rule, SampleBudget, Step};

mod common;
use common::first_draw_below_tau;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};

const HIDDEN: usize = 64;
const VOCABS: [usize; 4] = [4096, 16384, 49152, 262144];
/// Hidden size of the instances whose full `W` gives SmolLM2-135M's `m + 1 = 577` rows.
const FULL_HIDDEN: usize = 576;
/// One solve longer than this at `m + 1 = 577` is not repeated, and larger `V` are skipped.
const FULL_PROBE_LIMIT: Duration = Duration::from_secs(30);
/// Lazy draws at `m + 1 = 577`, and the backend time each may spend (a draw may need several
/// LPs of seconds each).
const FULL_LAZY_DRAWS: usize = 3;
const FULL_LAZY_BACKEND_TIME: Duration = Duration::from_secs(120);
/// Largest `V (m + 1)` whose full mask is timed: on these flat Gaussian steps a mask keeps
/// thousands of tokens, and at `V = 16384`, `m + 1 = 65` one took more than 5 minutes.
const FULL_MASK_UP_TO: usize = 16384 * 21;
const LAZY_DRAWS: usize = 10;

/// Flat Gaussian steps as in the tables of `docs/performance.md`: logits of standard deviation
/// about 2.5 whatever the hidden size.
fn instance(vocab: usize, hidden: usize) -> Synthetic {
    gaussian_instance(vocab, hidden, 1, 2.5 * (hidden as f64).sqrt(), 3)
}

/// Lazy draws against full masks, timed directly (seconds to minutes each for the masks, too
/// slow for criterion's repetitions).
fn lazy_and_full() {
    for vocab in VOCABS {
        let inst = instance(vocab, HIDDEN);
        let logits = inst.step_logits(0).unwrap();
        let step = Step::new(logits, &Rule::Eta(9e-4)).unwrap();
        for rank in [Some(20), None] {
            let basis = inst.basis(rank).unwrap();
            let rows = basis.dim() + 1;
            let draws = lazy_draws(&step, &basis, LAZY_DRAWS, SampleBudget::unlimited());
            if let Some(median) = draws.median {
                eprintln!("scaling,{vocab},{rows},lazy_draw,{median:.6e}");
            }
            if vocab * rows <= FULL_MASK_UP_TO {
                let start = Instant::now();
                let mask = truncate(
                    logits,
                    &basis,
                    &Rule::Eta(9e-4),
                    Some(&mut SimplexBackend::default()),
                )
                .unwrap();
                let seconds = start.elapsed().as_secs_f64();
                eprintln!(
                    "scaling,{vocab},{rows},full_mask,{seconds:.6e}  # {} kept, {} undecided",
                    mask.kept.len(),
                    mask.counts.undecided
                );
            }
        }
    }
}

/// Median time of lazy draws whose first candidate is below `tau`, over at most `count` of them.
struct LazyDraws {
    median: Option<f64>,
    solves: usize,
    exhausted: usize,
}

fn lazy_draws(step: &Step, basis: &Basis, count: usize, budget: SampleBudget) -> LazyDraws {
    let (mut solves, mut exhausted) = (0, 0);
    let mut times: Vec<f64> = lp_seeds(step, basis, count)
        .map(|seed| {
            let start = Instant::now();
            let draw = black_box(
                sample_step(
                    step,
                    basis,
                    Some(&mut SimplexBackend::default()),
                    budget,
                    &mut synthetic::rng(seed),
                )
                .unwrap(),
            );
            solves += draw.solves;
            exhausted += usize::from(draw.budget_exhausted);
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    LazyDraws {
        median: times.get(times.len() / 2).copied(),
        solves,
        exhausted,
    }
}

/// Seeds whose first draw is below `tau`, at most `count` of the first 3000.
fn lp_seeds<'a>(step: &'a Step, basis: &'a Basis, count: usize) -> impl Iterator<Item = u64> + 'a {
    (0..3000u64)
        .filter(move |&seed| first_draw_below_tau(step, basis, seed))
        .take(count)
}

/// The tokens timed per instance: the most probable one below `tau` and the median one of the
/// tail.
fn tokens(step: &Step) -> [(&'static str, u32); 2] {
    let below: Vec<u32> = step
        .by_probability()
        .iter()
        .copied()
        .filter(|&j| !step.above_threshold(j))
        .collect();
    [("near_tau", below[0]), ("tail", below[below.len() / 2])]
}

/// One `m + 1 = 577` instance and the tokens whose one solve stayed within [`FULL_PROBE_LIMIT`].
struct FullPoint {
    vocab: usize,
    step: Step,
    basis: Basis,
    tokens: Vec<(&'static str, u32)>,
}

/// The `m + 1 = 577` instances: each token solved once and timed (lines `full577,V,token,...`),
/// then the lazy draws (unless the near-`tau` token took longer than [`FULL_PROBE_LIMIT`]);
/// stops before the next `V` once a token did.
fn full_points() -> Vec<FullPoint> {
    let mut points = Vec::new();
    for vocab in VOCABS {
        let inst = instance(vocab, FULL_HIDDEN);
        let step = Step::new(inst.step_logits(0).unwrap(), &Rule::Eta(9e-4)).unwrap();
        let basis = inst.basis(None).unwrap();
        let rows = basis.dim() + 1;
        let mut kept_tokens = Vec::new();
        for (name, token) in tokens(&step) {
            let start = Instant::now();
            let outcome =
                decide(&step, &basis, token, Some(&mut SimplexBackend::default())).unwrap();
            let took = start.elapsed();
            eprintln!(
                "full{rows},{vocab},{name},{:.3}  # one solve, q = {:.2e}, keep {}, undecided {}",
                took.as_secs_f64(),
                step.q()[token as usize],
                outcome.is_keep(),
                outcome.is_undecided()
            );
            if took <= FULL_PROBE_LIMIT {
                kept_tokens.push((name, token));
            }
        }
        let slow = kept_tokens.len() < 2;
        // A lazy draw's candidates below `tau` are mostly near it, so it is affordable as long
        // as the near-`tau` token is (and each draw is capped).
        if kept_tokens.iter().any(|&(name, _)| name == "near_tau") {
            let draws = lazy_draws(
                &step,
                &basis,
                FULL_LAZY_DRAWS,
                SampleBudget::backend_time(FULL_LAZY_BACKEND_TIME),
            );
            if let Some(median) = draws.median {
                eprintln!(
                    "scaling,{vocab},{rows},lazy_draw,{median:.6e}  # {} LP solves in all, {} \
                     draws out of backend time",
                    draws.solves, draws.exhausted
                );
            }
        }
        points.push(FullPoint {
            vocab,
            step,
            basis,
            tokens: kept_tokens,
        });
        if slow {
            eprintln!(
                "m + 1 = {rows}: a token at V = {vocab} took more than {} s; larger V skipped",
                FULL_PROBE_LIMIT.as_secs()
            );
            break;
        }
    }
    points
}

fn bench(c: &mut Criterion) {
    lazy_and_full();
    let full = full_points();
    let mut group = c.benchmark_group("simplex_scaling");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for vocab in VOCABS {
        let inst = instance(vocab, HIDDEN);
        let step = Step::new(inst.step_logits(0).unwrap(), &Rule::Eta(9e-4)).unwrap();
        for (rank, label) in [(Some(20), "m21"), (None, "m65")] {
            let basis = inst.basis(rank).unwrap();
            for (name, token) in tokens(&step) {
                let mut backend = SimplexBackend::default();
                let outcome = decide(&step, &basis, token, Some(&mut backend)).unwrap();
                eprintln!(
                    "V={vocab} {label} {name}: q = {:.2e}, keep {}",
                    step.q()[token as usize],
                    outcome.is_keep()
                );
                group.bench_function(format!("{label}/{name}/V{vocab}"), |b| {
                    b.iter(|| black_box(decide(&step, &basis, token, Some(&mut backend))))
                });
            }
        }
    }
    // Seconds per iteration: 10 samples of one iteration each, as in `benches/real.rs`.
    group
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    for point in &full {
        for &(name, token) in &point.tokens {
            // A fresh backend per solve (cold, as the one solve above and `benches/real.rs`'s
            // `full_basis`); the groups above reuse theirs.
            group.bench_function(format!("m577/{name}/V{}", point.vocab), |b| {
                b.iter(|| {
                    black_box(decide(
                        &point.step,
                        &point.basis,
                        token,
                        Some(&mut SimplexBackend::default()),
                    ))
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

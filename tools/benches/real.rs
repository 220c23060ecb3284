//! BAT on real SmolLM2-135M decode steps, next to the model's own f32 unembedding product in the
//! same run, so the ratios of issues 3 and 4 can be read off one report.
//!
//!     export BASIS_AWARE_MODEL="$(bash scripts/fetch-model.sh | tail -n 1)"
//!     cargo bench -p basis-aware-tools --features highs,candle --bench real
//!
//! Without `BASIS_AWARE_MODEL` the bench prints how to set it and exits successfully. Setup, not
//! timed: 12 greedy steps from each of two prompts through `GgufModel::forward`, eta = 9e-4, the
//! cached top-20 SVD basis (`m + 1 = 21` rows). Groups:
//!
//! - `unembedding/f32_matvec`: `W h` for the model's `W` (49152 x 576) and a fixed random `h`,
//!   the baseline (the bench has no access to the model's real `h`; the cost is the same).
//! - `sample/lp_steps`: issue 4's target is the lazy sampler on draws whose first candidate falls
//!   below `tau`, the ones that need an LP. For each step the bench finds seeds whose first draw
//!   is below `tau` (a draw without a backend refuses it), then times the whole `sample_step`
//!   from such a seed on a fresh copy of the step (nothing an earlier draw computed carries over,
//!   as at a new decode step; built outside the timer) with a fresh simplex backend: the LP for that candidate and, when it is
//!   rejected, the further draws and LPs until a kept token. Timing `sample_step` rather than
//!   `decide` on the candidate keeps those redraws and the ledger's setup in the figure, as a
//!   decode loop pays them. Criterion's estimate is the mean over the draws (it cycles through
//!   them); a table printed before the criterion runs gives their median and p99.
//! - `truncate/full_mask/*`: the full-vocabulary decision on three steps (seconds each).
//! - `keep/*`: the most probable token below `tau` of the first step, simplex against HiGHS
//!   (with feature `highs`); `reject/simplex`: the median-rank token below `tau` of that step.
//! - `full_basis/simplex_{keep,reject}`: the same two tokens against the full basis, the model's
//!   whole `W` (`m = 576`, `m + 1 = 577` rows; what `basis-aware truncate` uses without `--svd`).
//!   HiGHS may take minutes per token at this size (86 to 101 s on a GPT-2 sized instance), too
//!   long for criterion's repetitions: with feature `highs`, one solve per token is timed
//!   directly, with a wall-time limit of 300 s per HiGHS call, before the criterion groups, and
//!   printed as `full_basis,highs,keep,<seconds>` (`limit` in place of the seconds when HiGHS
//!   stopped at it), next to one direct simplex solve per token (`full_basis,simplex,...`). The
//!   full basis adds about a minute to the run (up to ten more if HiGHS runs into its limits):
//!   `BASIS_AWARE_BENCH_FULL=0` skips all of it.
//!
//! Slow groups run 10 samples of one iteration each (criterion's flat sampling), which keeps the
//! whole run without the full basis between two and three minutes on two cores.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use basis_aware::backends::SimplexBackend;
use basis_aware::synthetic;
use basis_aware::{decide, sample_step, truncate, Basis, Outcome, Rule, SampleBudget, Step};
use basis_aware_tools::model::{cached_svd_basis, GgufModel, MODEL_ENV};
use criterion::{BatchSize, BenchmarkGroup, Criterion, SamplingMode};

mod common;
use common::{first_draw_below_tau, fresh, unembedding};

const PROMPTS: [&str; 2] = [
    "The best thing about living by the sea is",
    "Once upon a time, in a small village at the edge of the forest,",
];
const STEPS_PER_PROMPT: usize = 12;
const RANK: usize = 20;
const ETA: f64 = 9e-4;
/// Seeds kept per step whose first draw is below `tau`, and how many seeds are tried to find
/// them (a confident step has little mass below `tau` and may yield fewer, or none).
const SEEDS_PER_STEP: usize = 4;
const SEEDS_TRIED: u64 = 3000;
/// Timed passes over the draws for the median and p99 table.
const TABLE_PASSES: usize = 3;
/// Steps whose full mask is timed (indices into the decoded steps: the first step of each
/// prompt, and one in the middle of the first).
const MASK_STEPS: [usize; 3] = [0, STEPS_PER_PROMPT / 2, STEPS_PER_PROMPT];
/// Set to `0` to skip the full-basis part (the group `full_basis` and the direct HiGHS solves).
const FULL_ENV: &str = "BASIS_AWARE_BENCH_FULL";
/// Wall-time limit of each HiGHS call on the full basis, in seconds.
#[cfg(feature = "highs")]
const HIGHS_FULL_LIMIT: f64 = 300.0;

struct Setup {
    logits: Vec<Vec<f32>>,
    steps: Vec<Step>,
    basis: Basis,
    /// The model's whole `W` as the basis, unless [`FULL_ENV`] is `0`.
    full: Option<Basis>,
    w: Vec<f32>,
    h: Vec<f32>,
    /// `(step index, seed)` pairs whose first draw is below `tau`.
    lp_draws: Vec<(usize, u64)>,
}

fn main() {
    let Some(path) = std::env::var_os(MODEL_ENV).map(PathBuf::from) else {
        eprintln!(
            "benches/real.rs: {MODEL_ENV} is not set, so there is no model to run; skipping. Set \
             it with: export {MODEL_ENV}=\"$(bash scripts/fetch-model.sh | tail -n 1)\""
        );
        return;
    };
    let setup = setup(&path);
    print_draw_table(&setup);
    if let Some(full) = &setup.full {
        print_full_basis_solves(&setup.steps[0], full);
    }
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &setup);
    c.final_summary();
}

fn setup(path: &Path) -> Setup {
    let mut model = GgufModel::load(path).expect("load the model named by BASIS_AWARE_MODEL");
    let rule = Rule::Eta(ETA);
    let mut logits = Vec::new();
    for prompt in PROMPTS {
        let (mut input, mut position) = (model.encode(prompt).expect("tokenize the prompt"), 0);
        for _ in 0..STEPS_PER_PROMPT {
            let step = model.forward(&input, position).expect("forward pass");
            position += input.len();
            input = vec![argmax(&step)];
            logits.push(step);
        }
    }
    let steps: Vec<Step> = logits
        .iter()
        .map(|l| Step::new(l, &rule).expect("finite logits"))
        .collect();
    let basis = cached_svd_basis(path, RANK).expect("top-20 SVD basis of the model's W");
    let full = std::env::var(FULL_ENV)
        .map_or(true, |v| v != "0")
        .then(|| Basis::full(model.embedding()).expect("the model's W as the basis"));
    let w = model.embedding().as_slice().to_vec();
    let mut rng = synthetic::rng(7);
    let h = (0..model.hidden())
        .map(|_| synthetic::gaussian(&mut rng) as f32)
        .collect();
    let mut lp_draws = Vec::new();
    for (k, step) in steps.iter().enumerate() {
        let below_mass: f64 = step.q().iter().filter(|&&q| q < step.tau()).sum();
        let seeds: Vec<u64> = (0..SEEDS_TRIED)
            .filter(|&seed| first_draw_below_tau(step, &basis, seed))
            .take(SEEDS_PER_STEP)
            .collect();
        eprintln!(
            "step {k:>2}: tau = {:.3e}, mass below tau = {below_mass:.4}, seeds {seeds:?}",
            step.tau()
        );
        lp_draws.extend(seeds.into_iter().map(|seed| (k, seed)));
    }
    Setup {
        logits,
        steps,
        basis,
        full,
        w,
        h,
        lp_draws,
    }
}

/// One lazy draw as a decode loop makes it, on a fresh step (see [`fresh`]) with a fresh
/// backend, so the draws do not depend on the order they run in.
fn lp_draw(s: &Setup, step: &Step, seed: u64) -> basis_aware::Sampled {
    sample_step(
        step,
        &s.basis,
        Some(&mut SimplexBackend::default()),
        SampleBudget::unlimited(),
        &mut synthetic::rng(seed),
    )
    .expect("lazy draw")
}

/// Median, p90 and p99 of the lazy draws on LP steps, timed one by one (criterion reports one
/// figure per benchmark, not a spread across steps).
fn print_draw_table(s: &Setup) {
    let mut times = Vec::new();
    let (mut solves, mut below) = (0, 0);
    for _ in 0..TABLE_PASSES {
        for &(k, seed) in &s.lp_draws {
            let step = fresh(&s.steps[k]);
            let start = Instant::now();
            let draw = black_box(lp_draw(s, &step, seed));
            times.push(start.elapsed());
            solves += draw.solves;
            below += usize::from(draw.below_threshold());
        }
    }
    if times.is_empty() {
        eprintln!("no step had a first draw below tau; sample/lp_steps is skipped");
        return;
    }
    times.sort();
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    eprintln!(
        "lazy draws whose first candidate is below tau: {} draws ({} step/seed pairs x {TABLE_PASSES} \
         passes), median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms; {:.2} LP solves per draw, {:.0}% returned a token below tau",
        times.len(),
        s.lp_draws.len(),
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(0.99)),
        ms(times[times.len() - 1]),
        solves as f64 / times.len() as f64,
        100.0 * below as f64 / times.len() as f64,
    );
}

fn bench(c: &mut Criterion, s: &Setup) {
    let mut group = c.benchmark_group("unembedding");
    group.bench_function("f32_matvec", |b| {
        b.iter(|| black_box(unembedding(&s.w, &s.h)))
    });
    group.finish();

    if !s.lp_draws.is_empty() {
        let mut group = c.benchmark_group("sample");
        let mut next = 0;
        group.bench_function("lp_steps", |b| {
            b.iter_batched(
                || {
                    let (k, seed) = s.lp_draws[next % s.lp_draws.len()];
                    next += 1;
                    (fresh(&s.steps[k]), seed)
                },
                |(step, seed)| black_box(lp_draw(s, &step, seed)),
                BatchSize::PerIteration,
            )
        });
        group.finish();
    }

    let mut group = c.benchmark_group("truncate");
    slow(&mut group);
    for k in MASK_STEPS {
        let mask = truncate(
            &s.logits[k],
            &s.basis,
            &Rule::Eta(ETA),
            Some(&mut SimplexBackend::default()),
        )
        .expect("full mask");
        eprintln!(
            "step {k}: {} kept ({} by the threshold), {:.2} s untimed",
            mask.kept.len(),
            mask.counts.threshold_kept,
            mask.elapsed.as_secs_f64()
        );
        group.bench_function(format!("full_mask/step{k}"), |b| {
            b.iter(|| {
                black_box(truncate(
                    &s.logits[k],
                    &s.basis,
                    &Rule::Eta(ETA),
                    Some(&mut SimplexBackend::default()),
                ))
            })
        });
    }
    group.finish();

    let step = &s.steps[0];
    let (near, tail) = compared_tokens(step);
    for (name, token) in [("near_tau", near), ("deep_tail", tail)] {
        let outcome =
            decide(step, &s.basis, token, Some(&mut SimplexBackend::default())).expect("decision");
        eprintln!(
            "step 0, {name} token {token} (q = {:.3e}, tau = {:.3e}): simplex says {}",
            step.q()[token as usize],
            step.tau(),
            describe(&outcome)
        );
    }
    let mut group = c.benchmark_group("keep");
    group.bench_function("simplex", |b| {
        b.iter(|| {
            black_box(decide(
                step,
                &s.basis,
                near,
                Some(&mut SimplexBackend::default()),
            ))
        })
    });
    #[cfg(feature = "highs")]
    {
        use basis_aware::backends::HighsBackend;
        let outcome =
            decide(step, &s.basis, near, Some(&mut HighsBackend::default())).expect("decision");
        eprintln!(
            "step 0, near_tau token {near}: HiGHS says {}",
            describe(&outcome)
        );
        // Settings apply to the benchmarks defined after them: HiGHS takes seconds.
        slow(&mut group);
        group.bench_function("highs", |b| {
            b.iter(|| {
                black_box(decide(
                    step,
                    &s.basis,
                    near,
                    Some(&mut HighsBackend::default()),
                ))
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("reject");
    group.bench_function("simplex", |b| {
        b.iter(|| {
            black_box(decide(
                step,
                &s.basis,
                tail,
                Some(&mut SimplexBackend::default()),
            ))
        })
    });
    group.finish();

    if let Some(full) = &s.full {
        let mut group = c.benchmark_group("full_basis");
        slow(&mut group);
        for (name, token) in [("simplex_keep", near), ("simplex_reject", tail)] {
            group.bench_function(name, |b| {
                b.iter(|| {
                    black_box(decide(
                        step,
                        full,
                        token,
                        Some(&mut SimplexBackend::default()),
                    ))
                })
            });
        }
        group.finish();
    }
}

/// The tokens the per-token groups decide: the most probable token below `tau` (a keep on these
/// steps) and the median-rank one below it (a reject).
fn compared_tokens(step: &Step) -> (u32, u32) {
    let below = step.below_threshold();
    (below[0], below[below.len() / 2])
}

/// One solve per token against the full basis, timed directly: the simplex once (criterion's
/// `full_basis` group repeats it), HiGHS once with [`HIGHS_FULL_LIMIT`] (too slow to repeat).
/// Lines `full_basis,<backend>,<keep|reject>,<seconds|limit>  # outcome`, `keep` and `reject`
/// naming the token as in the groups `keep/*` and `reject/*`.
fn print_full_basis_solves(step: &Step, full: &Basis) {
    let (near, tail) = compared_tokens(step);
    for (name, token) in [("keep", near), ("reject", tail)] {
        let start = Instant::now();
        let outcome =
            decide(step, full, token, Some(&mut SimplexBackend::default())).expect("decision");
        eprintln!(
            "full_basis,simplex,{name},{:.3}  # token {token}, q = {:.3e}, m + 1 = {}: {}",
            start.elapsed().as_secs_f64(),
            step.q()[token as usize],
            full.dim() + 1,
            describe(&outcome)
        );
        #[cfg(feature = "highs")]
        {
            use basis_aware::backends::HighsBackend;
            let mut highs = HighsBackend::with_time_limit(HIGHS_FULL_LIMIT);
            let start = Instant::now();
            let outcome = decide(step, full, token, Some(&mut highs)).expect("decision");
            let seconds = start.elapsed().as_secs_f64();
            let time = match &outcome {
                Outcome::Undecided(basis_aware::UndecidedReason::Backend(
                    basis_aware::BackendError::Limit(_),
                )) => "limit".to_owned(),
                _ => format!("{seconds:.3}"),
            };
            eprintln!(
                "full_basis,highs,{name},{time}  # token {token}, {seconds:.1} s wall: {} {}",
                describe(&outcome),
                match &outcome {
                    Outcome::Undecided(reason) => format!("({reason:?})"),
                    _ => String::new(),
                }
            );
        }
    }
}

/// Settings for routines of seconds: 10 samples (criterion's minimum) of
/// one iteration each, instead of criterion's linear ramp of 1 + 2 + ... + 10 iterations.
fn slow(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
}

fn argmax(logits: &[f32]) -> u32 {
    let best = logits
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i);
    best as u32
}

fn describe(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Keep(_) => "keep",
        Outcome::Reject(_) => "reject",
        Outcome::Undecided(_) => "undecided",
    }
}

//! How the default simplex backend's per-token time grows with the vocabulary `V` and the number
//! of basis columns `m`: Gaussian `W` with hidden size 64, `V` from 4096 to 262144, top-20 SVD
//! basis (`m + 1 = 21` rows) and the full `W` (`m + 1 = 65`).
//!
//!     cargo bench --bench scaling
//!
//! Tokens per instance: the most probable one below `tau` and the median one of the tail.
//! Before the criterion groups, the bench times the two ways to use BAT in a decode loop on the
//! same instances and prints them as `scaling,V,m+1,kind,seconds` lines (for
//! `benches/plot_scaling.py`): a lazy draw whose first candidate is below `tau` (median over up
//! to 10 such draws, each with a fresh backend) and a full mask (one `truncate`, only where
//! `V (m + 1) <= 16384 x 21`: beyond, one mask takes minutes).

use std::hint::black_box;
use std::time::{Duration, Instant};

use basis_aware::backends::SimplexBackend;
use basis_aware::synthetic::gaussian_instance;
use basis_aware::synthetic::SplitMix64;
use basis_aware::{decide, sample_step, truncate, Basis, Rule, SampleBudget, Step};

mod common;
use common::first_draw_below_tau;
use criterion::{criterion_group, criterion_main, Criterion};

const HIDDEN: usize = 64;
const VOCABS: [usize; 4] = [4096, 16384, 49152, 262144];
/// Largest `V (m + 1)` whose full mask is timed: on these flat Gaussian steps a mask keeps
/// thousands of tokens, and at `V = 16384`, `m + 1 = 65` one took more than 5 minutes.
const FULL_MASK_UP_TO: usize = 16384 * 21;
const LAZY_DRAWS: usize = 10;

/// Lazy draws against full masks, timed directly (seconds to minutes each for the masks, too
/// slow for criterion's repetitions).
fn lazy_and_full() {
    for vocab in VOCABS {
        let inst = gaussian_instance(vocab, HIDDEN, 1, 2.5 * (HIDDEN as f64).sqrt(), 3);
        let logits = inst.step_logits(0).unwrap();
        let step = Step::new(logits, &Rule::Eta(9e-4)).unwrap();
        for rank in [Some(20), None] {
            let basis = inst.basis(rank).unwrap();
            let rows = basis.dim() + 1;
            let mut times: Vec<f64> = lp_seeds(&step, &basis)
                .map(|seed| {
                    let start = Instant::now();
                    black_box(
                        sample_step(
                            &step,
                            &basis,
                            Some(&mut SimplexBackend::default()),
                            SampleBudget::unlimited(),
                            &mut SplitMix64::new(seed),
                        )
                        .unwrap(),
                    );
                    start.elapsed().as_secs_f64()
                })
                .collect();
            times.sort_by(f64::total_cmp);
            if let Some(median) = times.get(times.len() / 2) {
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

/// Seeds whose first draw is below `tau`, at most [`LAZY_DRAWS`] of the first 3000.
fn lp_seeds<'a>(step: &'a Step, basis: &'a Basis) -> impl Iterator<Item = u64> + 'a {
    (0..3000u64)
        .filter(move |&seed| first_draw_below_tau(step, basis, seed))
        .take(LAZY_DRAWS)
}

fn bench(c: &mut Criterion) {
    lazy_and_full();
    let mut group = c.benchmark_group("simplex_scaling");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for vocab in VOCABS {
        let inst = gaussian_instance(vocab, HIDDEN, 1, 2.5 * (HIDDEN as f64).sqrt(), 3);
        let step = Step::new(inst.step_logits(0).unwrap(), &Rule::Eta(9e-4)).unwrap();
        let below: Vec<u32> = step
            .by_probability()
            .iter()
            .copied()
            .filter(|&j| !step.above_threshold(j))
            .collect();
        let tokens = [("near_tau", below[0]), ("tail", below[below.len() / 2])];
        for (rank, label) in [(Some(20), "m21"), (None, "m65")] {
            let basis = inst.basis(rank).unwrap();
            for (name, token) in tokens {
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
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

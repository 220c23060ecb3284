//! Per-token solve time of each backend on one decode step shaped like SmolLM2-135M
//! (V = 49152, d = 576; a Gaussian W, top-20 SVD basis, so m + 1 = 21 rows), measured in one run
//! next to the model's own f32 unembedding product `W h`, so ratios are comparable.
//!
//!     cargo bench -p basis-aware-tools --features highs --bench backends
//!
//! Tokens: the most probable one below `tau` (near the threshold: usually kept) and one from the
//! deep tail (usually rejected). `simplex_sequence` decides 16 tail tokens in a row, with and
//! without warm starts, and reports the time per token.

use std::hint::black_box;
use std::time::Duration;

use basis_aware::synthetic::{self, gaussian_instance};
use basis_aware::{decide, Backend, Basis, Rule, Step};
use criterion::{criterion_group, criterion_main, Criterion};

mod common;
use common::unembedding;

const VOCAB: usize = 49152;
const HIDDEN: usize = 576;
const RANK: usize = 20;

struct Setup {
    step: Step,
    basis: Basis,
    w: Vec<f32>,
    h: Vec<f32>,
    tokens: Vec<(&'static str, u32)>,
}

fn setup() -> Setup {
    // Logit standard deviation 2.5 (scale = 2.5 sqrt(d)).
    let inst = gaussian_instance(VOCAB, HIDDEN, 1, 2.5 * (HIDDEN as f64).sqrt(), 42);
    let basis = inst.basis(Some(RANK)).unwrap();
    let step = Step::new(inst.step_logits(0).unwrap(), &Rule::Eta(9e-4)).unwrap();
    let q = step.q();
    let mut below: Vec<u32> = (0..VOCAB as u32)
        .filter(|&j| !step.above_threshold(j))
        .collect();
    below.sort_by(|&a, &b| q[b as usize].total_cmp(&q[a as usize]));
    let tokens = vec![
        ("near_tau", below[0]),
        ("deep_tail", below[below.len() / 2]),
    ];
    let w = inst.w;
    let mut rng = synthetic::rng(7);
    let h = (0..HIDDEN)
        .map(|_| synthetic::gaussian(&mut rng) as f32)
        .collect();
    Setup {
        step,
        basis,
        w,
        h,
        tokens,
    }
}

fn backends() -> Vec<Box<dyn Backend>> {
    vec![
        Box::new(basis_aware::backends::SimplexBackend::default()),
        #[cfg(feature = "highs")]
        Box::new(basis_aware::backends::HighsBackend::default()),
    ]
}

fn bench(c: &mut Criterion) {
    let s = setup();
    eprintln!(
        "tau = {:.3e}, tokens: {:?}",
        s.step.tau(),
        s.tokens
            .iter()
            .map(|&(name, t)| (name, t, s.step.q()[t as usize]))
            .collect::<Vec<_>>()
    );
    let mut unembed = c.benchmark_group("unembedding");
    unembed.bench_function("f32_w_times_h", |b| {
        b.iter(|| black_box(unembedding(&s.w, &s.h)))
    });
    unembed.finish();
    let mut group = c.benchmark_group("token_solve_m21");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    for mut backend in backends() {
        for &(name, token) in &s.tokens {
            let outcome = decide(&s.step, &s.basis, token, Some(backend.as_mut())).unwrap();
            eprintln!("{} {name}: {}", backend.name(), describe(&outcome));
            group.bench_function(format!("{}/{name}", backend.name()), |b| {
                b.iter(|| black_box(decide(&s.step, &s.basis, token, Some(backend.as_mut()))))
            });
        }
    }
    group.finish();

    let q = s.step.q();
    let mut tail: Vec<u32> = (0..VOCAB as u32)
        .filter(|&j| !s.step.above_threshold(j) && q[j as usize] < 1e-6)
        .collect();
    tail.truncate(16);
    let mut sequence = c.benchmark_group("simplex_sequence");
    sequence.sample_size(10);
    for (name, warm) in [("cold", false), ("warm", true)] {
        sequence.bench_function(format!("{name}_16_tail_tokens"), |b| {
            b.iter(|| {
                let mut backend = basis_aware::backends::SimplexBackend::default();
                backend.warm_start = warm;
                for &t in &tail {
                    black_box(decide(&s.step, &s.basis, t, Some(&mut backend)).unwrap());
                }
            })
        });
    }
    sequence.finish();
}

fn describe(outcome: &basis_aware::Outcome) -> &'static str {
    match outcome {
        basis_aware::Outcome::Keep(_) => "keep",
        basis_aware::Outcome::Reject(_) => "reject",
        basis_aware::Outcome::Undecided(_) => "undecided",
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

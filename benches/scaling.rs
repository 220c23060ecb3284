//! How the default simplex backend's per-token time grows with the vocabulary `V` and the number
//! of basis columns `m`: Gaussian `W` with hidden size 64, `V` from 4096 to 262144, top-20 SVD
//! basis (`m + 1 = 21` rows) and the full `W` (`m + 1 = 65`).
//!
//!     cargo bench --bench scaling
//!
//! Tokens per instance: the most probable one below `tau` and the median one of the tail.

use std::hint::black_box;
use std::time::Duration;

use basis_aware::backends::SimplexBackend;
use basis_aware::synthetic::gaussian_instance;
use basis_aware::{decide, Rule, Step};
use criterion::{criterion_group, criterion_main, Criterion};

const HIDDEN: usize = 64;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("simplex_scaling");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for vocab in [4096, 16384, 49152, 262144] {
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

//! nalgebra against faer on what the bounded dual simplex does with its basis matrix, at the row
//! counts basis-aware meets (`m + 1` = 21 and 65 for top-`c` SVD bases, 577 for SmolLM2's full
//! basis): the explicit inverse it refactorises into, and the inverse-times-vector product each
//! pivot makes (twice). Same matrices for both libraries.
//!
//!     cd benches/linalg && cargo bench --bench factorisation

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

/// A well-conditioned, dense, nonsymmetric matrix (diagonally weighted), column-major.
fn matrix(n: usize) -> Vec<f64> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    (0..n * n)
        .map(|k| next() + if k % (n + 1) == 0 { n as f64 / 4.0 } else { 0.0 })
        .collect()
}

fn bench(c: &mut Criterion) {
    for n in [21usize, 65, 577] {
        let data = matrix(n);
        let na = nalgebra::DMatrix::from_column_slice(n, n, &data);
        let fa = faer::Mat::<f64>::from_fn(n, n, |i, j| data[j * n + i]);
        let v: Vec<f64> = (0..n).map(|k| (k as f64).sin()).collect();
        let nv = nalgebra::DVector::from_column_slice(&v);
        let fv = faer::Col::<f64>::from_fn(n, |k| v[k]);
        let mut group = c.benchmark_group(format!("m{n}"));
        group.bench_function("inverse/nalgebra", |b| {
            b.iter(|| black_box(na.clone().try_inverse().expect("invertible")))
        });
        group.bench_function("inverse/faer", |b| {
            b.iter(|| {
                use faer::linalg::solvers::DenseSolveCore;
                black_box(fa.partial_piv_lu().inverse())
            })
        });
        group.bench_function("matvec/nalgebra", |b| b.iter(|| black_box(&na * &nv)));
        group.bench_function("matvec/faer", |b| b.iter(|| black_box(&fa * &fv)));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! One pass over a SmolLM2-sized top-20 basis (`V = 49152`, `m = 20`), the unit of work of every
//! keep check and pricing round: `row_dots` on the row-major matrix against `tiled_dots` on its
//! tiles, side by side in one run. `cargo bench -p basis-aware-kernels --bench dots`.

use std::hint::black_box;

use basis_aware_kernels::{row_dots, tile_rows, tiled_dots};
use criterion::{criterion_group, criterion_main, Criterion};

const VOCAB: usize = 49152;
const DIM: usize = 20;

fn passes(c: &mut Criterion) {
    // Entries without structure a kernel could exploit, in about [-1, 1].
    let data: Vec<f32> = (0..VOCAB * DIM)
        .map(|i| ((i * 7919 % 2003) as f32 - 1001.0) / 1001.0)
        .collect();
    let y: Vec<f64> = (0..DIM).map(|k| (k as f64 - 9.5) / 10.0).collect();
    let tiles = tile_rows(&data, DIM);
    let mut out = vec![0.0; VOCAB];
    let mut group = c.benchmark_group("vocab_pass");
    group.bench_function("row_dots", |b| {
        b.iter(|| row_dots(black_box(&data), DIM, black_box(&y), &mut out))
    });
    group.bench_function("tiled_dots", |b| {
        b.iter(|| tiled_dots(black_box(&tiles), DIM, black_box(&y), &mut out))
    });
    group.finish();
}

criterion_group!(benches, passes);
criterion_main!(benches);

//! Bases: the SVD projection against nalgebra's own SVD, and the save/load round trip.

mod common;

use std::collections::HashMap;

use approx::assert_relative_eq;
use basis_aware::{Basis, BasisKind, MatrixView};
use nalgebra::DMatrix;

fn gaussian(rows: usize, cols: usize, seed: u64) -> Vec<f32> {
    let mut rng = common::rng(seed);
    (0..rows * cols)
        .map(|_| common::synthetic::gaussian(&mut rng) as f32)
        .collect()
}

#[test]
fn svd_basis_spans_the_top_right_singular_vectors() {
    let (v, d, c) = (200, 12, 4);
    let w = gaussian(v, d, 7);
    let basis = Basis::svd(MatrixView::new(&w, v, d).unwrap(), c).unwrap();
    assert_eq!(
        (basis.vocab(), basis.dim(), basis.kind()),
        (v, c, BasisKind::Svd { rank: c })
    );
    // W V_c has orthogonal columns whose norms are the top singular values.
    let reference =
        DMatrix::from_row_slice(v, d, &w.iter().map(|&x| f64::from(x)).collect::<Vec<_>>());
    let mut sigma: Vec<f64> = reference
        .clone()
        .svd(false, false)
        .singular_values
        .iter()
        .copied()
        .collect();
    sigma.sort_by(|a, b| b.total_cmp(a));
    let b = DMatrix::from_fn(v, c, |r, k| f64::from(basis.row(r).unwrap()[k]));
    let gram = b.tr_mul(&b);
    for i in 0..c {
        for j in 0..c {
            let expected = if i == j { sigma[i] * sigma[i] } else { 0.0 };
            assert_relative_eq!(gram[(i, j)], expected, epsilon = 1e-3 * sigma[0] * sigma[0]);
        }
    }
}

#[test]
fn a_saved_basis_loads_back_identical() {
    let (v, d) = (50, 6);
    let w = gaussian(v, d, 3);
    let basis = Basis::svd(MatrixView::new(&w, v, d).unwrap(), 3).unwrap();
    let dir = std::env::temp_dir().join(format!("basis-aware-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("basis.safetensors");
    let meta = HashMap::from([("model_sha256".to_string(), "abc".to_string())]);
    basis.save(&path, &meta).unwrap();
    let (loaded, loaded_meta) = Basis::load(&path).unwrap();
    assert_eq!(loaded, basis);
    assert_eq!(
        loaded_meta.get("model_sha256").map(String::as_str),
        Some("abc")
    );
    assert!(Basis::load(dir.join("missing.safetensors")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

//! The exact-feasibility criterion behind every reject (docs/architecture.md, "Reject
//! certificates"): a computed point `p = q + d` is accepted only when a correction `delta`, moving
//! each absorber `j` by at most its box slack `s_j`, provably removes the exact residual
//! `r = A d` (`a_j = (b_j, 1)`), so that `p + delta` is an exact point of the feasible set. No
//! tolerance decides anything: rounding enters only through rigorous bounds.
//!
//! With `D = diag(s_j)` over the absorbers `S`, any invertible `L` and `G_L = L A_S D^2 A_S^T
//! L^T`, the correction `delta = D^2 A_S^T L^T G_L^{-1} (-L r)` solves `A_S delta = -r` and has
//! `|delta_j| <= s_j |L r|_2 / sqrt(lambda_min(G_L))`. So `|L r|_2 <= sqrt(lambda_min(G_L))`
//! suffices. `L` is `R^{-T}` for a floating-point QR factor `R` of `D A_S^T` (Givens rotations, largest
//! rows first), which makes `G_L` close to the identity; `lambda_min(G_L)` is then bounded below by Gershgorin's
//! theorem on the computed `G_L`, minus a bound on its rounding (Weyl's inequality). `L` is any
//! lower-triangular matrix with a positive diagonal: its rounding needs no analysis, because the
//! argument holds for the matrix actually used.
//!
//! Rows of `[B 1]` that are exactly zero, or exact multiples of an earlier row, over every token
//! that moves (the point's changes and the absorbers) are dropped: the correction satisfies them
//! whenever it satisfies the row they are a multiple of. Rank-deficient structure that is not of
//! that form leaves `G` singular and the point refused (undecided), never accepted.

use super::gram::GramFactor;
use super::square::absorbed_by_square_system;
use super::CertificateError;
use crate::basis::Basis;
use crate::compensated::{Dot2, ETA};

/// A computed residual `sum_j d_j a_j` (`a_j = (b_j, 1)`) of a point's changes `d`, with a
/// componentwise bound on its rounding error.
#[derive(Debug, Clone, PartialEq)]
pub struct Residual {
    /// `m + 1` entries: one per basis column, then the sum row.
    pub value: Vec<f64>,
    /// `|exact_k - value_k| <= bound_k` for every row `k`.
    pub bound: Vec<f64>,
}

impl Residual {
    /// The residual of the changes `(token, d_j)` (tokens in range), summed with compensated
    /// dot products (`crate::compensated::Dot2`): accurate to about `u |r| + n^2 u^2 sum |b_jk
    /// d_j|`, so the large cancelling moves of other tokens cannot hide a small token's own term.
    pub fn of_changes(basis: &Basis, changes: &[(u32, f64)]) -> Self {
        let m = basis.dim();
        let mut rows = vec![Dot2::default(); m + 1];
        for &(token, d) in changes {
            for (acc, &b) in rows.iter_mut().zip(basis.token_row(token as usize)) {
                acc.add_product(f64::from(b), d);
            }
            rows[m].add(d);
        }
        Self {
            value: rows.iter().map(Dot2::value).collect(),
            bound: rows.iter().map(Dot2::error_bound).collect(),
        }
    }

    /// The residual on the kept `rows`, each scaled by its power of two (exact), and the scaled
    /// bounds (plus one subnormal for the scaling's underflow).
    pub(super) fn on_rows(&self, rows: &[usize], row_scale: &[f64]) -> (Vec<f64>, Vec<f64>) {
        rows.iter()
            .zip(row_scale)
            .map(|(&k, &p)| (p * self.value[k], p * self.bound[k] + ETA))
            .unzip()
    }

    /// Whether the residual is exactly zero (every entry and every bound zero).
    pub fn is_exactly_zero(&self) -> bool {
        self.value.iter().chain(&self.bound).all(|&v| v == 0.0)
    }
}

/// A token that may absorb the residual: its probability can move by `slack` either way without
/// leaving its box `[0, sigma q_j]` (a lower bound on the true room, after rounding).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Absorber {
    /// The token.
    pub token: u32,
    /// How far its probability may move either way (`> 0`, rounded down).
    pub slack: f64,
}

/// Whether a correction of at most `slack` on each absorber provably cancels the exact residual
/// that `residual` encloses, on every row of `[B 1]`: the Gram test of the module documentation,
/// then, when it cannot certify (slacks spanning too many orders of magnitude), a square system
/// of absorbers with a verified inverse (`square.rs`). `moved`
/// lists the tokens whose changes produced the residual: rows are dropped as dependent only when
/// they are exact multiples over `moved` and the absorbers together.
///
/// `Ok(())` proves that the point the residual belongs to is an exact point of the feasible set
/// once corrected (the tokens it zeroes untouched, as long as no absorber is one of them).
pub fn exact_point_exists(
    basis: &Basis,
    residual: &Residual,
    moved: &[u32],
    absorbers: &[Absorber],
) -> Result<(), CertificateError> {
    let m = basis.dim();
    if residual.value.len() != m + 1 || residual.bound.len() != m + 1 {
        return Err(CertificateError::ResidualLength {
            got: residual.value.len().min(residual.bound.len()),
            expected: m + 1,
        });
    }
    if let Some(a) = absorbers.iter().find(|a| a.token as usize >= basis.vocab()) {
        return Err(CertificateError::TokenOutOfRange(a.token));
    }
    if let Some(&t) = moved.iter().find(|&&t| t as usize >= basis.vocab()) {
        return Err(CertificateError::TokenOutOfRange(t));
    }
    if residual
        .value
        .iter()
        .chain(&residual.bound)
        .any(|v| !v.is_finite())
    {
        return Err(CertificateError::NotAbsorbed {
            needed: f64::INFINITY,
            capacity: 0.0,
        });
    }
    if residual.is_exactly_zero() {
        return Ok(());
    }
    absorbed_by_gram(basis, residual, moved, absorbers).or_else(|gram| {
        absorbed_by_square_system(basis, residual, moved, absorbers).map_err(|_| gram)
    })
}

/// The Gram test of the module documentation: every absorber weighed by its slack.
fn absorbed_by_gram(
    basis: &Basis,
    residual: &Residual,
    moved: &[u32],
    absorbers: &[Absorber],
) -> Result<(), CertificateError> {
    GramFactor::new(basis, moved, absorbers)
        .ok_or_else(|| CertificateError::NotAbsorbed {
            needed: norm(&residual.value),
            capacity: 0.0,
        })?
        .absorbs(residual)
}

/// Each kept row's scale: a power of two (exact) that brings its largest absorber entry to about
/// one.
pub(super) fn row_scales(basis: &Basis, rows: &[usize], absorbers: &[Absorber]) -> Vec<f64> {
    rows.iter()
        .map(|&k| {
            let largest = absorbers
                .iter()
                .map(|a| entry(basis, a.token, k).abs())
                .fold(0.0f64, f64::max);
            if largest > 0.0 {
                pow2(-exponent(largest))
            } else {
                1.0
            }
        })
        .collect()
}

/// Entry `k` of `a_j = (b_j, 1)`.
pub(super) fn entry(basis: &Basis, token: u32, k: usize) -> f64 {
    let row = basis.token_row(token as usize);
    row.get(k).map_or(1.0, |&b| f64::from(b))
}

pub(super) fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// The exponent `e` with `2^e <= x < 2^(e+1)`, for finite `x > 0` (clamped to the normal range).
pub(super) fn exponent(x: f64) -> i32 {
    if x >= f64::MIN_POSITIVE {
        ((x.to_bits() >> 52) & 0x7ff) as i32 - 1023
    } else {
        -1022
    }
}

/// `2^e`, exact, for `e` in `-1022..=1023`.
pub(super) fn pow2(e: i32) -> f64 {
    f64::from_bits(((e.clamp(-1022, 1023) + 1023) as u64) << 52)
}

/// The rows of `[B 1]` (basis columns `0..m`, then the sum row `m`) kept for the criterion: the
/// sum row, then every basis column that is neither zero nor an exact multiple of a row kept
/// before it over the tokens of `moved` and `absorbers`. Products of two f32 entries are exact in
/// f64, so the cross-multiplied test `b_jk b_il == b_ik b_jl` decides proportionality exactly.
pub(super) fn independent_rows(basis: &Basis, moved: &[u32], absorbers: &[Absorber]) -> Vec<usize> {
    let m = basis.dim();
    let mut tokens: Vec<u32> = moved
        .iter()
        .copied()
        .chain(absorbers.iter().map(|a| a.token))
        .collect();
    tokens.sort_unstable();
    tokens.dedup();
    let value = |j: u32, k: usize| f64::from(basis.token_row(j as usize)[k]);
    // Kept basis columns with their pivot token (one where the column is nonzero).
    let mut kept: Vec<(usize, u32)> = Vec::new();
    for k in 0..m {
        let Some(&pivot) = tokens.iter().find(|&&j| value(j, k) != 0.0) else {
            continue;
        };
        let constant = tokens.iter().all(|&j| value(j, k) == value(pivot, k));
        if constant {
            continue;
        }
        let multiple = kept.iter().any(|&(l, i)| {
            let (bik, bil) = (value(i, k), value(i, l));
            tokens
                .iter()
                .all(|&j| value(j, k) * bil == bik * value(j, l))
        });
        if !multiple {
            kept.push((k, pivot));
        }
    }
    let mut rows: Vec<usize> = kept.into_iter().map(|(k, _)| k).collect();
    rows.push(m);
    rows
}

//! The basis `B` (`V x m`): the linear maps whose expectations the true distribution shares with
//! the model's (`B^T p* = B^T q`). Built once per model and reused at every decode step.

mod file;
mod svd;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::matrix::MatrixView;

/// Where a basis came from; recorded so a saved basis says what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BasisKind {
    /// The whole output embedding `W`: every constraint of the softmax bottleneck.
    Full,
    /// `W V_c`, the projection on the top `rank` right singular vectors of `W` (a relaxation of
    /// the full rule: fewer tokens are kept).
    Svd {
        /// Number of singular vectors `c`.
        rank: usize,
    },
    /// A matrix supplied by the caller, e.g. a Jacobian of the logits.
    Explicit,
}

/// The constraint matrix `B`, row-major `V x m` in f32 (row `j` belongs to token `j`). A basis
/// of at most 64 columns holds a second copy laid out for its passes over the vocabulary
/// (`4 V m` bytes more: 3.9 MB at `V = 49152`, `m = 20`).
#[derive(Debug, Clone)]
pub struct Basis {
    data: Vec<f32>,
    vocab: usize,
    dim: usize,
    kind: BasisKind,
    /// `|b_j|_1` per token, in f64: the verifier bounds the size of every term it sums with these
    /// instead of summing `|b_jk y_k|` itself, which halves its pass (see `verify`).
    row_l1: Vec<f64>,
    /// The same matrix in tiles of tokens (`basis_aware_kernels::tile_rows`) for the passes over
    /// the vocabulary, when `m <= TILED_MAX_DIM`; empty otherwise.
    tiles: Vec<f32>,
    /// Identifies this matrix for what is kept per basis (verified certificates, the engines'
    /// state, the verifier's shared absorbers); clones share it (a basis never changes).
    id: u64,
}

/// Widest basis also kept in tiles for its passes over the vocabulary: the tiled pass is about
/// twice as fast at `m = 20` and still faster at 64, for a second copy of the matrix (3.9 MB at
/// `V = 49152`, `m = 20`); a full `W` (`m` in the hundreds) is not copied again, and its long rows
/// fill the SIMD lanes as they are.
pub(crate) const TILED_MAX_DIM: usize = 64;

impl PartialEq for Basis {
    fn eq(&self, other: &Self) -> bool {
        (self.vocab, self.dim, self.kind, &self.data)
            == (other.vocab, other.dim, other.kind, &other.data)
    }
}

impl Basis {
    /// The full output embedding `W` (`V x d`). Copied once; build it once per model.
    pub fn full(w: MatrixView<'_>) -> Result<Self> {
        Self::from_view(w, "embedding", BasisKind::Full)
    }

    /// Any `V x m` matrix whose columns the true distribution is known to match in expectation.
    pub fn explicit(b: MatrixView<'_>) -> Result<Self> {
        Self::from_view(b, "basis", BasisKind::Explicit)
    }

    /// `W V_c`: `W` projected on its top `rank` right singular vectors (the paper's practical
    /// setting, `rank` 20 or 30). Costs one pass of `V d^2` flops; save the result with
    /// [`Basis::save`] so a model is factored once.
    pub fn svd(w: MatrixView<'_>, rank: usize) -> Result<Self> {
        w.check_finite("embedding")?;
        if rank == 0 || rank > w.cols() {
            return Err(Error::Shape(format!(
                "svd rank must lie in 1..={} (the hidden size), got {rank}",
                w.cols()
            )));
        }
        let data = svd::project_on_top_singular_vectors(w, rank)?;
        Ok(Self::from_parts(
            data,
            w.rows(),
            rank,
            BasisKind::Svd { rank },
        ))
    }

    fn from_view(view: MatrixView<'_>, name: &'static str, kind: BasisKind) -> Result<Self> {
        view.check_finite(name)?;
        Ok(Self::from_parts(
            view.as_slice().to_vec(),
            view.rows(),
            view.cols(),
            kind,
        ))
    }

    /// `data` is finite, `vocab * dim` long, `dim > 0`.
    fn from_parts(data: Vec<f32>, vocab: usize, dim: usize, kind: BasisKind) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let row_l1 = data
            .chunks_exact(dim)
            .map(|row| row.iter().map(|&b| f64::from(b).abs()).sum())
            .collect();
        let tiles = if dim <= TILED_MAX_DIM {
            basis_aware_kernels::tile_rows(&data, dim)
        } else {
            Vec::new()
        };
        Self {
            data,
            vocab,
            dim,
            kind,
            row_l1,
            tiles,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Number of tokens `V`.
    pub fn vocab(&self) -> usize {
        self.vocab
    }

    /// Number of constraint columns `m`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// How the basis was built.
    pub fn kind(&self) -> BasisKind {
        self.kind
    }

    /// Token `j`'s row `b_j`, or `None` outside the vocabulary.
    pub fn row(&self, j: usize) -> Option<&[f32]> {
        let start = j.checked_mul(self.dim)?;
        self.data.get(start..start.checked_add(self.dim)?)
    }

    /// Row `j` for a `j` the crate has checked against the vocabulary (panics otherwise).
    #[inline]
    pub(crate) fn token_row(&self, j: usize) -> &[f32] {
        &self.data[j * self.dim..(j + 1) * self.dim]
    }

    /// `B y` into `out` (`y` of length `m`, `out` of length `V`), accumulated in f64.
    pub(crate) fn dots(&self, y: &[f64], out: &mut [f64]) {
        if self.tiles.is_empty() {
            basis_aware_kernels::row_dots(&self.data, self.dim, y, out)
        } else {
            basis_aware_kernels::tiled_dots(&self.tiles, self.dim, y, out)
        }
    }

    /// The same basis without its tiled copy, for tests of the passes that read either.
    #[cfg(test)]
    pub(crate) fn without_tiles(&self) -> Self {
        Self {
            tiles: Vec::new(),
            ..self.clone()
        }
    }

    /// The tiled copy of the matrix, when it has one.
    pub(crate) fn tiles(&self) -> Option<&[f32]> {
        (!self.tiles.is_empty()).then_some(&self.tiles[..])
    }

    /// `|b_j|_1` for every token.
    pub(crate) fn row_l1(&self) -> &[f64] {
        &self.row_l1
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }
}

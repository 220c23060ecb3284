//! The basis `B` (`V x m`): the linear maps whose expectations the true distribution shares with
//! the model's (`B^T p* = B^T q`). Built once per model and reused at every decode step.

mod file;
mod svd;

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
    Svd { rank: usize },
    /// A matrix supplied by the caller, e.g. a Jacobian of the logits.
    Explicit,
}

/// The constraint matrix `B`, row-major `V x m` in f32 (row `j` belongs to token `j`).
#[derive(Debug, Clone, PartialEq)]
pub struct Basis {
    data: Vec<f32>,
    vocab: usize,
    dim: usize,
    kind: BasisKind,
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
        let data = svd::project_on_top_singular_vectors(w, rank);
        Ok(Self {
            data,
            vocab: w.rows(),
            dim: rank,
            kind: BasisKind::Svd { rank },
        })
    }

    fn from_view(view: MatrixView<'_>, name: &'static str, kind: BasisKind) -> Result<Self> {
        view.check_finite(name)?;
        Ok(Self {
            data: view.as_slice().to_vec(),
            vocab: view.rows(),
            dim: view.cols(),
            kind,
        })
    }

    /// Number of tokens `V`.
    pub fn vocab(&self) -> usize {
        self.vocab
    }

    /// Number of constraint columns `m`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn kind(&self) -> BasisKind {
        self.kind
    }

    /// Token `j`'s row `b_j`.
    pub fn row(&self, j: usize) -> &[f32] {
        &self.data[j * self.dim..(j + 1) * self.dim]
    }
}

//! `basis_aware.Basis`: the constraint matrix, built once per model and shared by every `Bat`.

use std::collections::HashMap;
use std::sync::Arc;

use basis_aware::{Basis, BasisKind, MatrixView};
use pyo3::prelude::*;

use crate::arrays::floats;
use crate::errors::value_error;

/// The basis `B` (`V x m`) whose expectations the true distribution shares with the model's.
///
/// Build it once per model (`Basis.svd(W, 20)` is the paper's setting), save it with `save`,
/// and pass it to every `Bat`.
#[pyclass(name = "Basis", module = "basis_aware", frozen)]
pub struct PyBasis {
    pub inner: Arc<Basis>,
}

fn matrix(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<(Vec<f32>, usize, usize)> {
    let w = floats(obj, 2, what)?;
    let (rows, cols) = w.rows_cols();
    Ok((w.data, rows, cols))
}

#[pymethods]
impl PyBasis {
    /// `W` (`V x d`) projected on its top `c` right singular vectors.
    #[staticmethod]
    fn svd(py: Python<'_>, w: &Bound<'_, PyAny>, c: usize) -> PyResult<Self> {
        let (data, rows, cols) = matrix(w, "W")?;
        let basis = py
            .detach(|| Basis::svd(MatrixView::new(&data, rows, cols)?, c))
            .map_err(value_error)?;
        Ok(Self {
            inner: Arc::new(basis),
        })
    }

    /// The whole output embedding `W` (`V x d`).
    #[staticmethod]
    fn full(w: &Bound<'_, PyAny>) -> PyResult<Self> {
        let (data, rows, cols) = matrix(w, "W")?;
        let basis = Basis::full(MatrixView::new(&data, rows, cols).map_err(value_error)?)
            .map_err(value_error)?;
        Ok(Self {
            inner: Arc::new(basis),
        })
    }

    /// Any `V x m` matrix `B`, used as given.
    #[staticmethod]
    fn explicit(b: &Bound<'_, PyAny>) -> PyResult<Self> {
        let (data, rows, cols) = matrix(b, "B")?;
        let basis = Basis::explicit(MatrixView::new(&data, rows, cols).map_err(value_error)?)
            .map_err(value_error)?;
        Ok(Self {
            inner: Arc::new(basis),
        })
    }

    /// A basis written by `save` (or by the Rust crate's `Basis::save`).
    #[staticmethod]
    fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        let (basis, _metadata) = py.detach(|| Basis::load(&path)).map_err(value_error)?;
        Ok(Self {
            inner: Arc::new(basis),
        })
    }

    /// Writes the basis as a safetensors file, with `metadata` (str -> str) in its header.
    #[pyo3(signature = (path, metadata=None))]
    fn save(
        &self,
        py: Python<'_>,
        path: std::path::PathBuf,
        metadata: Option<HashMap<String, String>>,
    ) -> PyResult<()> {
        let metadata = metadata.unwrap_or_default();
        py.detach(|| self.inner.save(&path, &metadata))
            .map_err(value_error)
    }

    /// Number of tokens `V`.
    #[getter]
    fn vocab(&self) -> usize {
        self.inner.vocab()
    }

    /// Number of constraint columns `m`.
    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    /// `"full"`, `"svd"` or `"explicit"`.
    #[getter]
    fn kind(&self) -> &'static str {
        match self.inner.kind() {
            BasisKind::Full => "full",
            BasisKind::Svd { .. } => "svd",
            BasisKind::Explicit => "explicit",
            _ => "other",
        }
    }

    fn __repr__(&self) -> String {
        let kind = match self.inner.kind() {
            BasisKind::Svd { rank } => format!("svd(c={rank})"),
            _ => self.kind().to_string(),
        };
        format!(
            "Basis({kind}, vocab={}, dim={})",
            self.inner.vocab(),
            self.inner.dim()
        )
    }
}

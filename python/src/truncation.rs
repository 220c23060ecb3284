//! `basis_aware.Truncation`: one step's decision as plain Python values.

use basis_aware::{Counts, Truncation};
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The result of `Bat.truncate`: the kept tokens and how each decision was reached.
#[pyclass(name = "Truncation", module = "basis_aware", frozen)]
pub struct PyTruncation {
    kept: Vec<u32>,
    undecided: Vec<u32>,
    tau: f64,
    counts: Counts,
    elapsed_s: f64,
}

impl From<Truncation> for PyTruncation {
    fn from(t: Truncation) -> Self {
        Self {
            undecided: t.undecided(),
            kept: t.kept,
            tau: t.tau,
            counts: t.counts,
            elapsed_s: t.elapsed.as_secs_f64(),
        }
    }
}

#[pymethods]
impl PyTruncation {
    /// Kept token ids, ascending (`numpy.uint32`). Undecided tokens are not in it.
    #[getter]
    fn kept<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u32>> {
        PyArray1::from_slice(py, &self.kept)
    }

    /// Tokens below the threshold left without a certificate (treated as rejected), ascending.
    #[getter]
    fn undecided<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u32>> {
        PyArray1::from_slice(py, &self.undecided)
    }

    /// The threshold in force.
    #[getter]
    fn tau(&self) -> f64 {
        self.tau
    }

    /// How each token's decision was reached, and how many backend calls were made.
    #[getter]
    fn counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = &self.counts;
        let dict = PyDict::new(py);
        for (name, value) in [
            ("threshold_kept", c.threshold_kept),
            ("dual_kept", c.dual_kept),
            ("zero_mass_rejected", c.zero_mass_rejected),
            ("point_rejected", c.point_rejected),
            ("chunk_rejected", c.chunk_rejected),
            ("approximate", c.approximate),
            ("undecided", c.undecided),
            ("solves", c.solves),
            ("set_solves", c.set_solves),
        ] {
            dict.set_item(name, value)?;
        }
        Ok(dict)
    }

    /// Wall time of the whole call, in seconds.
    #[getter]
    fn elapsed_s(&self) -> f64 {
        self.elapsed_s
    }

    fn __len__(&self) -> usize {
        self.kept.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "Truncation(kept={}, undecided={}, tau={:.3e}, elapsed_s={:.6})",
            self.kept.len(),
            self.undecided.len(),
            self.tau,
            self.elapsed_s
        )
    }
}

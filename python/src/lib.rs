//! The `basis_aware._native` extension module: Python classes over the crate's `Basis` and `Bat`.
//! Decisions are the crate's; this layer only converts arrays, releases the GIL around every
//! call into the crate and turns the crate's errors into `ValueError`.

mod arrays;
mod basis;
mod bat;
mod errors;
mod truncation;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<basis::PyBasis>()?;
    m.add_class::<bat::PyBat>()?;
    m.add_class::<truncation::PyTruncation>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

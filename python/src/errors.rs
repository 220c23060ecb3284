//! The crate's errors as Python exceptions: bad input is a `ValueError` carrying the crate's own
//! message, so a caller sees the same text as a Rust user.

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::PyErr;

/// `basis_aware::Error` -> `ValueError(message)`.
pub fn value_error(err: basis_aware::Error) -> PyErr {
    PyValueError::new_err(err.to_string())
}

/// A `Bat` whose lock was poisoned by a panic in an earlier call: its scratch state cannot be
/// trusted, so every later call says so instead of deciding with it.
pub fn poisoned() -> PyErr {
    PyRuntimeError::new_err("this Bat panicked in an earlier call; create a new one")
}

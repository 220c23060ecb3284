//! numpy arrays in, owned f32 buffers out. Every input is copied once into a contiguous f32
//! vector while the GIL is held, so the crate never reads memory another Python thread may be
//! writing while the GIL is released, and any float dtype or stride layout is accepted.

use half::f16;
use numpy::ndarray::ArrayViewD;
use numpy::{PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// A row-major f32 copy of a numpy array and its shape.
pub struct Floats {
    pub data: Vec<f32>,
    pub shape: Vec<usize>,
}

impl Floats {
    /// `(rows, cols)` of a 2-D array.
    pub fn rows_cols(&self) -> (usize, usize) {
        (self.shape[0], self.shape[1])
    }
}

fn collect<T: Copy>(view: ArrayViewD<'_, T>, convert: impl Fn(T) -> f32) -> Vec<f32> {
    match view.as_slice() {
        Some(slice) => slice.iter().map(|&v| convert(v)).collect(),
        // Logical (C) order whatever the strides: transposed or sliced views come out row-major.
        None => view.iter().map(|&v| convert(v)).collect(),
    }
}

/// Converts `obj` (a numpy array, or anything `numpy.asarray` accepts) of float16, float32 or
/// float64 with `ndim` dimensions. `what` names the argument in error messages.
pub fn floats(obj: &Bound<'_, PyAny>, ndim: usize, what: &str) -> PyResult<Floats> {
    floats_of_rank(obj, &[ndim], what)
}

/// [`floats`] for an array with any of the dimension counts in `ndims`.
pub fn floats_of_rank(obj: &Bound<'_, PyAny>, ndims: &[usize], what: &str) -> PyResult<Floats> {
    let py = obj.py();
    let array = if obj.is_instance_of::<PyUntypedArray>() {
        obj.clone()
    } else {
        py.import("numpy")?
            .call_method1("asarray", (obj,))
            .map_err(|e| PyValueError::new_err(format!("{what}: not an array ({e})")))?
    };
    let untyped = array.cast::<PyUntypedArray>()?;
    if !ndims.contains(&untyped.ndim()) {
        let expected: Vec<String> = ndims.iter().map(|n| format!("{n}-D")).collect();
        return Err(PyValueError::new_err(format!(
            "{what} must be a {} array, got {} dimensions (shape {:?})",
            expected.join(" or "),
            untyped.ndim(),
            untyped.shape()
        )));
    }
    let shape = untyped.shape().to_vec();
    let data = if let Ok(a) = array.extract::<PyReadonlyArrayDyn<'_, f32>>() {
        collect(a.as_array(), |v| v)
    } else if let Ok(a) = array.extract::<PyReadonlyArrayDyn<'_, f64>>() {
        collect(a.as_array(), |v| v as f32)
    } else if let Ok(a) = array.extract::<PyReadonlyArrayDyn<'_, f16>>() {
        collect(a.as_array(), f32::from)
    } else {
        return Err(PyValueError::new_err(format!(
            "{what} must be a float16, float32 or float64 array, got dtype {}",
            untyped.dtype()
        )));
    };
    Ok(Floats { data, shape })
}

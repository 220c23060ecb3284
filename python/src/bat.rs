//! `basis_aware.Bat`: one configured decision object per sequence, wrapping the crate's `Bat`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use basis_aware::backends::SimplexBackend;
use basis_aware::{Bat, Rule};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::arrays::{floats, floats_of_rank};
use crate::basis::PyBasis;
use crate::errors::{poisoned, value_error};
use crate::truncation::PyTruncation;

/// Basis-aware threshold truncation for one sequence.
///
/// Every decision is made (and its certificate checked) by the Rust crate with the GIL
/// released. A `Bat` keeps solver state between calls (warm starts), which changes no decision;
/// calls from several threads on one `Bat` run one at a time.
#[pyclass(name = "Bat", module = "basis_aware", frozen)]
pub struct PyBat {
    inner: Mutex<Bat>,
    basis: Py<PyBasis>,
    rule: Rule,
    backend: String,
    temperature: f64,
}

fn positive_finite(name: &str, value: f64) -> PyResult<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(PyValueError::new_err(format!(
            "{name} must be a positive finite number, got {value}"
        )))
    }
}

fn seed_of(seed: &Bound<'_, PyAny>) -> PyResult<u64> {
    seed.extract::<u64>().map_err(|_| {
        PyValueError::new_err(format!(
            "seed must be an integer in 0..2**64, got {}",
            seed.repr().map_or_else(|_| "?".into(), |r| r.to_string())
        ))
    })
}

impl PyBat {
    fn lock(&self) -> PyResult<MutexGuard<'_, Bat>> {
        self.inner.lock().map_err(|_| poisoned())
    }

    /// Runs `f` on the crate's `Bat` with the GIL released.
    fn with_bat<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Bat) -> basis_aware::Result<T> + Send,
    ) -> PyResult<T> {
        py.detach(|| {
            let mut bat = self.lock()?;
            f(&mut bat).map_err(value_error)
        })
    }
}

#[pymethods]
impl PyBat {
    /// `Bat(basis, rule="eta=0.0009", backend="simplex", time_limit=None, temperature=1.0,
    /// threads=None)`.
    #[new]
    #[pyo3(signature = (basis, rule="eta=0.0009", backend="simplex", time_limit=None, temperature=1.0, threads=None))]
    fn new(
        basis: Bound<'_, PyBasis>,
        rule: &str,
        backend: &str,
        time_limit: Option<f64>,
        temperature: f64,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        let parsed: Rule = rule.parse().map_err(value_error)?;
        let mut bat = Bat::new(basis.get().inner.clone(), parsed);
        bat = match backend {
            "simplex" => bat.with_backend(SimplexBackend::default()),
            "none" => bat.without_backend(),
            #[cfg(feature = "highs")]
            "highs" => bat.with_backend(basis_aware::backends::HighsBackend::default()),
            #[cfg(not(feature = "highs"))]
            "highs" => {
                return Err(PyValueError::new_err(
                    "backend \"highs\" needs the package built with the `highs` feature",
                ))
            }
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown backend {other:?}: use \"simplex\", \"highs\" or \"none\""
                )))
            }
        };
        if let Some(seconds) = time_limit {
            let seconds = positive_finite("time_limit", seconds)?;
            bat = bat.with_deadline(Duration::from_secs_f64(seconds));
        }
        let temperature = positive_finite("temperature", temperature)?;
        if temperature != 1.0 {
            bat = bat.with_temperature(temperature);
        }
        if let Some(n) = threads {
            if n == 0 {
                return Err(PyValueError::new_err("threads must be at least 1"));
            }
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| PyValueError::new_err(format!("thread pool: {e}")))?;
            bat = bat.with_thread_pool(Arc::new(pool));
        }
        Ok(Self {
            inner: Mutex::new(bat),
            basis: basis.unbind(),
            rule: parsed,
            backend: backend.to_string(),
            temperature,
        })
    }

    /// Decides every token of one step's `logits` (1-D, length `V`).
    fn truncate(&self, py: Python<'_>, logits: &Bound<'_, PyAny>) -> PyResult<PyTruncation> {
        let logits = floats(logits, 1, "logits")?;
        let t = self.with_bat(py, |bat| bat.truncate(&logits.data))?;
        Ok(t.into())
    }

    /// `truncate` for every row of `logits` (`rows x V`), rows in parallel.
    fn truncate_batch(
        &self,
        py: Python<'_>,
        logits: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<PyTruncation>> {
        let logits = floats(logits, 2, "logits")?;
        let (rows, _) = logits.rows_cols();
        let ts = self.with_bat(py, |bat| bat.truncate_batch(&logits.data, rows))?;
        Ok(ts.into_iter().map(PyTruncation::from).collect())
    }

    /// One token drawn from `softmax(logits / temperature)` restricted to the tokens BAT keeps
    /// under `q = softmax(logits)`, deciding only the candidates drawn (lazy).
    fn sample(
        &self,
        py: Python<'_>,
        logits: &Bound<'_, PyAny>,
        seed: &Bound<'_, PyAny>,
    ) -> PyResult<u32> {
        let logits = floats(logits, 1, "logits")?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed_of(seed)?);
        let s = self.with_bat(py, |bat| bat.sample(&logits.data, &mut rng))?;
        Ok(s.token)
    }

    /// One token drawn from `softmax(proposal)` restricted to the tokens BAT keeps under
    /// `q = softmax(logits)` (e.g. a draft model's proposal, decided for the target's logits).
    fn sample_from(
        &self,
        py: Python<'_>,
        proposal: &Bound<'_, PyAny>,
        logits: &Bound<'_, PyAny>,
        seed: &Bound<'_, PyAny>,
    ) -> PyResult<u32> {
        let proposal = floats(proposal, 1, "proposal")?;
        let logits = floats(logits, 1, "logits")?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed_of(seed)?);
        let s = self.with_bat(py, |bat| {
            bat.sample_from(&proposal.data, &logits.data, &mut rng)
        })?;
        Ok(s.token)
    }

    /// A float32 copy of `logits` (1-D, or 2-D with rows decided in parallel) with every token
    /// BAT does not keep set to `-inf`; kept logits are unchanged bit for bit.
    fn mask<'py>(
        &self,
        py: Python<'py>,
        logits: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut logits = floats_of_rank(logits, &[1, 2], "logits")?;
        if let [rows, vocab] = logits.shape[..] {
            self.with_bat(py, |bat| {
                let ts = bat.truncate_batch(&logits.data, rows)?;
                for (row, t) in logits.data.chunks_exact_mut(vocab.max(1)).zip(&ts) {
                    mask_row(row, &t.kept);
                }
                Ok(())
            })?;
            let array = PyArray1::from_vec(py, logits.data).reshape([rows, vocab])?;
            Ok(array.into_any())
        } else {
            self.with_bat(py, |bat| bat.mask(&mut logits.data).map(|_| ()))?;
            Ok(PyArray1::from_vec(py, logits.data).into_any())
        }
    }

    /// The basis this `Bat` decides over.
    #[getter]
    fn basis(&self, py: Python<'_>) -> Py<PyBasis> {
        self.basis.clone_ref(py)
    }

    /// The threshold rule, e.g. `"eta=0.0009"`.
    #[getter]
    fn rule(&self) -> String {
        self.rule.to_string()
    }

    /// `"simplex"`, `"highs"` or `"none"`.
    #[getter]
    fn backend(&self) -> &str {
        &self.backend
    }

    /// The sampling temperature of `sample` (the rule always sees `softmax(logits)`).
    #[getter]
    fn temperature(&self) -> f64 {
        self.temperature
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let basis = self.basis.bind(py).repr()?;
        Ok(format!(
            "Bat({basis}, rule={:?}, backend={:?}, temperature={})",
            self.rule.to_string(),
            self.backend,
            self.temperature
        ))
    }
}

/// Keeps `kept` (ascending ids) and sets every other entry to `-inf`.
fn mask_row(row: &mut [f32], kept: &[u32]) {
    let mut next = kept.iter().copied().peekable();
    for (j, value) in row.iter_mut().enumerate() {
        if next.peek() == Some(&(j as u32)) {
            next.next();
        } else {
            *value = f32::NEG_INFINITY;
        }
    }
}

//! Decode-step instances on disk: a safetensors file with `logits` `[n, V]` and either `basis`
//! `[V, m]` (used as given) or `embedding` `[V, d]` (the model's `W`). f32, f16, bf16 and f64
//! tensors are read; everything becomes f32, the precision of the public API.

use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use basis_aware::{Basis, Error, MatrixView, Result};

/// The matrix an instance carries besides its logits.
#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    /// `basis` `[V, m]`: the constraint matrix itself.
    Basis(Vec<f32>, usize),
    /// `embedding` `[V, d]`: the output embedding, to be used whole or through its SVD.
    Embedding(Vec<f32>, usize),
}

/// A file of decode steps sharing one vocabulary and one constraint matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Row-major `[steps, vocab]`.
    pub logits: Vec<f32>,
    /// Number of steps.
    pub steps: usize,
    /// Vocabulary size `V`.
    pub vocab: usize,
    /// The basis or embedding the steps share.
    pub constraint: Constraint,
}

/// The library's synthetic steps ([`basis_aware::synthetic`]), with their embedding.
impl From<basis_aware::synthetic::Synthetic> for Instance {
    fn from(s: basis_aware::synthetic::Synthetic) -> Self {
        Instance {
            logits: s.logits,
            steps: s.steps,
            vocab: s.vocab,
            constraint: Constraint::Embedding(s.w, s.dim),
        }
    }
}

fn file_error(path: &Path, message: impl ToString) -> Error {
    Error::File {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

fn to_f32(path: &Path, name: &str, tensor: &TensorView<'_>) -> Result<Vec<f32>> {
    let bytes = tensor.data();
    Ok(match tensor.dtype() {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        other => {
            return Err(file_error(
                path,
                format!("`{name}` has dtype {other:?}; use f32, f16, bf16 or f64"),
            ))
        }
    })
}

impl Instance {
    /// Reads and checks an instance file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&bytes, path)
    }

    /// Checks the bytes of an instance file (`path` names it in errors only): what
    /// [`Instance::load`] does after reading it, for callers that hold the bytes.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| Error::safetensors(path, e))?;
        let matrix = |name: &str| -> Result<Option<(Vec<f32>, usize, usize)>> {
            let Ok(tensor) = tensors.tensor(name) else {
                return Ok(None);
            };
            let shape = tensor.shape().to_vec();
            let (rows, cols) = match shape[..] {
                [rows, cols] => (rows, cols),
                [cols] if name == "logits" => (1, cols),
                _ => {
                    return Err(file_error(
                        path,
                        format!("`{name}` must be 2-dimensional, has shape {shape:?}"),
                    ))
                }
            };
            Ok(Some((to_f32(path, name, &tensor)?, rows, cols)))
        };
        let (logits, steps, vocab) =
            matrix("logits")?.ok_or_else(|| file_error(path, "no `logits` tensor"))?;
        if steps == 0 || vocab == 0 {
            return Err(file_error(path, "`logits` is empty"));
        }
        let (constraint, rows) = match (matrix("basis")?, matrix("embedding")?) {
            (Some((b, rows, cols)), None) => (Constraint::Basis(b, cols), rows),
            (None, Some((w, rows, cols))) => (Constraint::Embedding(w, cols), rows),
            (Some(_), Some(_)) => {
                return Err(file_error(
                    path,
                    "has both `basis` and `embedding`; keep one",
                ))
            }
            (None, None) => return Err(file_error(path, "needs a `basis` or an `embedding`")),
        };
        if rows != vocab {
            return Err(file_error(
                path,
                format!("`logits` has {vocab} tokens but the matrix has {rows} rows"),
            ));
        }
        Ok(Self {
            logits,
            steps,
            vocab,
            constraint,
        })
    }

    /// Writes the instance (f32 tensors).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.write(path.as_ref(), Dtype::F32)
    }

    /// Writes the logits in f32 and the constraint matrix in f16: half the size for a real
    /// model's `V x d` embedding, whose quantised weights lose little in f16, while the logits
    /// keep the precision that `q` depends on.
    pub fn save_compact(&self, path: impl AsRef<Path>) -> Result<()> {
        self.write(path.as_ref(), Dtype::F16)
    }

    fn write(&self, path: &Path, matrix_dtype: Dtype) -> Result<()> {
        let f32_bytes = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
        let logits = f32_bytes(&self.logits);
        let (name, matrix, cols) = match &self.constraint {
            Constraint::Basis(b, m) => ("basis", b, *m),
            Constraint::Embedding(w, d) => ("embedding", w, *d),
        };
        let data = match matrix_dtype {
            Dtype::F16 => matrix
                .iter()
                .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
                .collect(),
            _ => f32_bytes(matrix),
        };
        let views = [
            (
                "logits",
                TensorView::new(Dtype::F32, vec![self.steps, self.vocab], &logits),
            ),
            (
                name,
                TensorView::new(matrix_dtype, vec![self.vocab, cols], &data),
            ),
        ];
        let views: Vec<(&str, TensorView<'_>)> = views
            .into_iter()
            .map(|(n, v)| v.map(|v| (n, v)).map_err(|e| Error::safetensors(path, e)))
            .collect::<Result<_>>()?;
        safetensors::serialize_to_file(views, None, path).map_err(|e| Error::safetensors(path, e))
    }

    /// Step `k`'s logits.
    pub fn step_logits(&self, k: usize) -> Result<&[f32]> {
        if k >= self.steps {
            return Err(Error::Shape(format!(
                "step {k} does not exist: the instance has {} steps",
                self.steps
            )));
        }
        // The fields are public, so they may disagree with each other: out-of-range is an error.
        let start = k.checked_mul(self.vocab);
        let end = start.and_then(|s| s.checked_add(self.vocab));
        start
            .zip(end)
            .and_then(|(s, e)| self.logits.get(s..e))
            .ok_or_else(|| {
                Error::Shape(format!(
                    "step {k} of {} tokens is not within the {} logits the instance holds",
                    self.vocab,
                    self.logits.len()
                ))
            })
    }

    /// The basis: the stored one, or the embedding whole (`svd = None`) or through its top
    /// `svd` singular vectors. Asking for an SVD of a stored basis is an error: it is used as given.
    pub fn basis(&self, svd: Option<usize>) -> Result<Basis> {
        match (&self.constraint, svd) {
            (Constraint::Basis(b, m), None) => Basis::explicit(MatrixView::new(b, self.vocab, *m)?),
            (Constraint::Basis(..), Some(_)) => Err(Error::Shape(
                "the instance stores a `basis`, which is used as given; --svd needs an `embedding`"
                    .into(),
            )),
            (Constraint::Embedding(w, d), None) => Basis::full(MatrixView::new(w, self.vocab, *d)?),
            (Constraint::Embedding(w, d), Some(c)) => {
                Basis::svd(MatrixView::new(w, self.vocab, *d)?, c)
            }
        }
    }
}

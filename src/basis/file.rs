//! Saving and loading a basis as safetensors, so a model's SVD is computed once and cached.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::{Basis, BasisKind};
use crate::error::{Error, Result};

const TENSOR: &str = "basis";

fn file_error(path: &Path, message: impl ToString) -> Error {
    Error::File {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

impl Basis {
    /// Writes the basis (tensor `basis`, f32 `[V, m]`) and its kind; `metadata` carries the
    /// caller's own keys, for example the hash of the model file it was computed from.
    pub fn save(&self, path: impl AsRef<Path>, metadata: &HashMap<String, String>) -> Result<()> {
        let path = path.as_ref();
        let mut meta = metadata.clone();
        let (kind, rank) = match self.kind {
            BasisKind::Full => ("full", self.dim),
            BasisKind::Svd { rank } => ("svd", rank),
            BasisKind::Explicit => ("explicit", self.dim),
        };
        meta.insert("kind".into(), kind.into());
        meta.insert("rank".into(), rank.to_string());
        let bytes: Vec<u8> = self.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = TensorView::new(Dtype::F32, vec![self.vocab, self.dim], &bytes)
            .map_err(|e| Error::safetensors(path, e))?;
        safetensors::serialize_to_file([(TENSOR, view)], Some(meta), path)
            .map_err(|e| Error::safetensors(path, e))
    }

    /// Reads a basis written by [`Basis::save`], with the metadata it was saved with.
    pub fn load(path: impl AsRef<Path>) -> Result<(Self, HashMap<String, String>)> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let (_, header) =
            SafeTensors::read_metadata(&bytes).map_err(|e| Error::safetensors(path, e))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let tensors = SafeTensors::deserialize(&bytes).map_err(|e| Error::safetensors(path, e))?;
        let tensor = tensors
            .tensor(TENSOR)
            .map_err(|_| file_error(path, "no `basis` tensor"))?;
        let shape = tensor.shape();
        if tensor.dtype() != Dtype::F32 || shape.len() != 2 {
            return Err(file_error(path, "`basis` must be an f32 matrix"));
        }
        let data: Vec<f32> = tensor
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let view = crate::matrix::MatrixView::new(&data, shape[0], shape[1])?;
        view.check_finite("basis")?;
        let kind = match meta.get("kind").map(String::as_str) {
            Some("full") => BasisKind::Full,
            Some("svd") => BasisKind::Svd { rank: shape[1] },
            _ => BasisKind::Explicit,
        };
        let basis = Basis::from_parts(data, shape[0], shape[1], kind);
        Ok((basis, meta))
    }
}

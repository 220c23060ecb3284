//! The GGUF file: its header and the output embedding `W`, both read by candle, which
//! dequantises `W` to the f32 values its own matrix products use, so the matrix the crate
//! constrains with is the one the model multiplies by.

use std::fs::File;
use std::path::Path;

use candle_core::quantized::gguf_file::Content;
use candle_core::Device;

use basis_aware::Error;

use super::error::{ModelError, Result};

/// Architectures whose forward pass `candle_transformers::models::quantized_llama` implements.
const SUPPORTED_ARCHITECTURES: &[&str] = &["llama"];

/// An open GGUF file with its parsed header.
pub(super) struct Gguf {
    pub(super) content: Content,
    pub(super) file: File,
}

impl Gguf {
    /// Opens the file and reads its header; fails unless candle's llama forward pass applies.
    pub(super) fn open(path: &Path) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let content = Content::read(&mut file).map_err(ModelError::candle(&format!(
            "{}: not a readable GGUF file",
            path.display()
        )))?;
        let gguf = Self { content, file };
        let arch = gguf.string("general.architecture")?;
        if !SUPPORTED_ARCHITECTURES.contains(&arch) {
            return Err(ModelError::Unsupported {
                what: "architecture",
                name: arch.to_string(),
                supported: SUPPORTED_ARCHITECTURES,
            });
        }
        Ok(gguf)
    }

    pub(super) fn string(&self, key: &str) -> Result<&str> {
        self.content
            .metadata
            .get(key)
            .and_then(|v| v.to_string().ok())
            .map(String::as_str)
            .ok_or_else(|| ModelError::metadata(key, "missing or not a string"))
    }

    /// The output embedding `W` as row-major f32 `(data, vocab, hidden)`. A model without an
    /// `output.weight` ties its output to the token embedding, as llama.cpp and candle do.
    pub(super) fn output_embedding(&mut self) -> Result<(Vec<f32>, usize, usize)> {
        let name = if self.content.tensor_infos.contains_key("output.weight") {
            "output.weight"
        } else {
            "token_embd.weight"
        };
        let info = self
            .content
            .tensor_infos
            .get(name)
            .ok_or_else(|| ModelError::Tensor {
                name,
                problem: "missing".into(),
            })?;
        let (rows, cols) = match info.shape.dims() {
            &[rows, cols] => (rows, cols),
            dims => {
                return Err(ModelError::Tensor {
                    name,
                    problem: format!("shape {dims:?}; expected [vocab, hidden]"),
                })
            }
        };
        let w = self
            .content
            .tensor(&mut self.file, name, &Device::Cpu)
            .and_then(|t| t.dequantize(&Device::Cpu))
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(ModelError::candle(&format!("cannot decode `{name}`")))?;
        Ok((w, rows, cols))
    }
}

//! The GGUF file: its header (read by candle) and the output embedding `W`, decoded from the
//! file's own bytes so that the matrix the crate constrains with is exactly the one the model
//! multiplies by, with no engine in between.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::GgmlDType;

use crate::error::{Error, Result};

/// Architectures whose forward pass `candle_transformers::models::quantized_llama` implements.
const SUPPORTED_ARCHITECTURES: &[&str] = &["llama"];

/// Elements per Q8_0 block, and its bytes: an f16 scale then 32 signed bytes.
const Q8_0_BLOCK: usize = 32;
const Q8_0_BYTES: usize = 2 + Q8_0_BLOCK;

pub(super) fn file_error(path: &Path, message: impl ToString) -> Error {
    Error::File {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// An open GGUF file with its parsed header.
pub(super) struct Gguf {
    pub(super) content: Content,
    pub(super) file: File,
}

impl Gguf {
    /// Opens the file and reads its header; fails unless candle's llama forward pass applies.
    pub(super) fn open(path: &Path) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| file_error(path, e))?;
        let content = Content::read(&mut file)
            .map_err(|e| file_error(path, format!("not a readable GGUF file: {e}")))?;
        let gguf = Self { content, file };
        let arch = gguf.string("general.architecture")?;
        if !SUPPORTED_ARCHITECTURES.contains(&arch) {
            return Err(Error::Model(format!(
                "architecture `{arch}` is not supported (supported: {})",
                SUPPORTED_ARCHITECTURES.join(", ")
            )));
        }
        Ok(gguf)
    }

    pub(super) fn string(&self, key: &str) -> Result<&str> {
        self.content
            .metadata
            .get(key)
            .and_then(|v| v.to_string().ok())
            .map(String::as_str)
            .ok_or_else(|| Error::Model(format!("metadata `{key}` is missing or not a string")))
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
            .ok_or_else(|| Error::Model(format!("tensor `{name}` is missing")))?;
        let (rows, cols) = match info.shape.dims() {
            &[rows, cols] => (rows, cols),
            dims => {
                return Err(Error::Model(format!(
                    "`{name}` has shape {dims:?}; expected [vocab, hidden]"
                )))
            }
        };
        if info.ggml_dtype != GgmlDType::Q8_0 {
            return Err(Error::Model(format!(
                "`{name}` is {:?}; only Q8_0 output embeddings are decoded",
                info.ggml_dtype
            )));
        }
        let start = self
            .content
            .tensor_data_offset
            .checked_add(info.offset)
            .ok_or_else(|| Error::Model(format!("`{name}` has an impossible offset")))?;
        Ok((read_q8_0(&mut self.file, start, rows, cols)?, rows, cols))
    }
}

/// Reads a row-major `rows x cols` Q8_0 tensor starting at byte `start` and decodes it to f32:
/// each value is its block's f16 scale times its signed byte, the product ggml (and candle)
/// dequantise to.
fn read_q8_0(file: &mut File, start: u64, rows: usize, cols: usize) -> Result<Vec<f32>> {
    if !cols.is_multiple_of(Q8_0_BLOCK) {
        return Err(Error::Model(format!(
            "a Q8_0 row of {cols} values is not a whole number of {Q8_0_BLOCK}-value blocks"
        )));
    }
    let len = rows
        .checked_mul(cols / Q8_0_BLOCK * Q8_0_BYTES)
        .ok_or_else(|| Error::Model(format!("a {rows} x {cols} tensor overflows")))?;
    let file_len = file
        .metadata()
        .map_err(|e| Error::Model(format!("cannot read the output embedding: {e}")))?
        .len();
    if start.saturating_add(len as u64) > file_len {
        return Err(Error::Model(format!(
            "the output embedding ({len} bytes at {start}) runs past the end of the file"
        )));
    }
    let mut bytes = vec![0u8; len];
    file.seek(SeekFrom::Start(start))
        .and_then(|_| file.read_exact(&mut bytes))
        .map_err(|e| Error::Model(format!("cannot read the output embedding: {e}")))?;
    let mut out = Vec::with_capacity(rows * cols);
    for block in bytes.chunks_exact(Q8_0_BYTES) {
        let scale = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        out.extend(block[2..].iter().map(|&q| f32::from(q as i8) * scale));
    }
    Ok(out)
}

//! A real language model end to end (feature `candle`): a GGUF file's forward pass through
//! candle's quantized llama, its tokenizer, and its output embedding `W` as a [`MatrixView`], so
//! a decode step's logits and the basis they are truncated against come from the same file.
//!
//! Tests and the CLI find the model through the `BASIS_AWARE_MODEL` environment variable;
//! `scripts/fetch-model.sh` downloads SmolLM2-135M-Instruct (Q4_1 GGUF) and prints its path.

mod cache;
mod error;
mod gguf;
mod tokenizer;

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::ModelWeights;

use basis_aware::{Error, MatrixView};

pub use cache::{cached_svd_basis, ModelCache, CACHE_ENV};
pub use error::{ModelError, Result};

/// The environment variable naming the GGUF file tests and the CLI use.
pub const MODEL_ENV: &str = "BASIS_AWARE_MODEL";

/// A GGUF llama-architecture model on the CPU, with one sequence's KV cache.
pub struct GgufModel {
    weights: ModelWeights,
    tokenizer: tokenizers::Tokenizer,
    embedding: Vec<f32>,
    vocab: usize,
    hidden: usize,
    /// Tokens the KV cache holds; the next `forward` must start at this position or at 0.
    cached: usize,
    device: Device,
}

impl GgufModel {
    /// Reads the weights, the tokenizer and the output embedding from one GGUF file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let mut file = gguf::Gguf::open(path)?;
        let tokenizer = tokenizer::from_gguf(&file)?;
        let (embedding, vocab, hidden) = file.output_embedding()?;
        MatrixView::new(&embedding, vocab, hidden)?;
        let tokens = tokenizer.get_vocab_size(true);
        if tokens != vocab {
            return Err(ModelError::VocabularyMismatch {
                tokenizer: tokens,
                embedding: vocab,
            });
        }
        let device = Device::Cpu;
        let gguf::Gguf { content, mut file } = file;
        let weights = ModelWeights::from_gguf(content, &mut file, &device).map_err(
            ModelError::candle(&format!("{}: cannot load the weights", path.display())),
        )?;
        Ok(Self {
            weights,
            tokenizer,
            embedding,
            vocab,
            hidden,
            cached: 0,
            device,
        })
    }

    /// Vocabulary size `V`.
    pub fn vocab(&self) -> usize {
        self.vocab
    }

    /// Hidden size `d`.
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// The output embedding `W` (`V x d`, row-major f32): logits are `W h` for the final hidden
    /// state `h`, so this is the matrix whose softmax bottleneck BAT uses.
    pub fn embedding(&self) -> MatrixView<'_> {
        MatrixView::new(&self.embedding, self.vocab, self.hidden)
            .expect("load checked the embedding's shape")
    }

    /// Token ids of `text`, without any beginning-of-sequence token (the model uses none).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .tokenizer
            .encode_fast(text, false)
            .map_err(ModelError::tokenizer("encoding"))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The text of `tokens` (special tokens included, as written).
    pub fn decode(&self, tokens: &[u32]) -> Result<String> {
        self.check_tokens(tokens)?;
        self.tokenizer
            .decode(tokens, false)
            .map_err(ModelError::tokenizer("decoding"))
    }

    fn check_tokens(&self, tokens: &[u32]) -> Result<()> {
        match tokens.iter().find(|&&t| t as usize >= self.vocab) {
            Some(&token) => Err(Error::TokenOutOfRange {
                token,
                vocab: self.vocab,
            }
            .into()),
            None => Ok(()),
        }
    }

    /// Runs `tokens` at positions `position..position + tokens.len()` and returns the logits
    /// (`V` values) that predict the token after the last one. `position` 0 starts a new
    /// sequence (the KV cache is dropped); any other position must continue the cached one.
    pub fn forward(&mut self, tokens: &[u32], position: usize) -> Result<Vec<f32>> {
        if tokens.is_empty() {
            return Err(ModelError::NoTokens);
        }
        self.check_tokens(tokens)?;
        if position != 0 && position != self.cached {
            return Err(ModelError::Position {
                position,
                cached: self.cached,
            });
        }
        // A failed pass may leave the cache half written: only position 0 is safe after it.
        self.cached = 0;
        let input = Tensor::new(tokens, &self.device)
            .and_then(|t| t.unsqueeze(0))
            .map_err(ModelError::candle("the input tensor"))?;
        let logits = self
            .weights
            .forward(&input, position)
            .and_then(|l| l.squeeze(0))
            .and_then(|l| l.to_vec1::<f32>())
            .map_err(ModelError::candle("the forward pass"))?;
        self.cached = position + tokens.len();
        Ok(logits)
    }
}

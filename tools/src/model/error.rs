//! What can go wrong loading or running a model: the library's own errors (shapes, token ids,
//! files), the engines' errors with their sources, and what the runner does not support.

/// An error of the model runner.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The library refused an input or a file (the output embedding's shape, a token id, an
    /// I/O or safetensors error of the basis cache).
    #[error(transparent)]
    Library(#[from] basis_aware::Error),
    /// candle failed: reading the GGUF file, decoding a tensor, loading the weights or running
    /// a forward pass.
    #[error("{context}: {source}")]
    Candle {
        /// What was being done, with the file where there is one.
        context: String,
        /// candle's error.
        #[source]
        source: candle_core::Error,
    },
    /// The tokenizer could not be built, or could not encode or decode.
    #[error("tokenizer: {context}: {source}")]
    Tokenizer {
        /// What was being done.
        context: &'static str,
        /// The tokenizers crate's error.
        #[source]
        source: tokenizers::Error,
    },
    /// The file's architecture, tokenizer model or pre-tokenizer is one the runner does not
    /// implement.
    #[error("{what} `{name}` is not supported (supported: {})", supported.join(", "))]
    Unsupported {
        /// Which setting (`architecture`, `tokenizer model`, `pre-tokenizer`).
        what: &'static str,
        /// The file's value.
        name: String,
        /// The values the runner implements.
        supported: &'static [&'static str],
    },
    /// A metadata entry the runner needs is missing or malformed.
    #[error("metadata `{key}`: {problem}")]
    Metadata {
        /// The GGUF metadata key.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The output embedding's tensor is missing or not a matrix.
    #[error("tensor `{name}`: {problem}")]
    Tensor {
        /// The tensor's name.
        name: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The tokenizer and the output embedding disagree on the vocabulary size.
    #[error("the tokenizer has {tokenizer} tokens but the output embedding {embedding} rows")]
    VocabularyMismatch {
        /// Tokens of the tokenizer.
        tokenizer: usize,
        /// Rows of the output embedding.
        embedding: usize,
    },
    /// [`super::GgufModel::forward`] got no tokens.
    #[error("forward needs at least one token")]
    NoTokens,
    /// [`super::GgufModel::forward`] at a position that neither starts a sequence nor continues
    /// the cached one.
    #[error(
        "position {position} does not continue the {cached} cached tokens; pass 0 to start a \
         new sequence"
    )]
    Position {
        /// The position asked for.
        position: usize,
        /// Tokens the KV cache holds.
        cached: usize,
    },
}

impl ModelError {
    /// A candle error while doing `context`, kept as the source.
    pub(super) fn candle(context: &str) -> impl FnOnce(candle_core::Error) -> Self + '_ {
        move |source| ModelError::Candle {
            context: context.to_string(),
            source,
        }
    }

    /// A tokenizers error while doing `context`, kept as the source.
    pub(super) fn tokenizer(context: &'static str) -> impl FnOnce(tokenizers::Error) -> Self {
        move |source| ModelError::Tokenizer { context, source }
    }

    /// A malformed metadata entry.
    pub(super) fn metadata(key: &str, problem: impl Into<String>) -> Self {
        ModelError::Metadata {
            key: key.to_string(),
            problem: problem.into(),
        }
    }
}

/// The model runner's result type.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

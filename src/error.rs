//! Typed errors for everything a caller can get wrong. Nothing in the crate panics on bad input:
//! every malformed slice, shape or parameter comes back as one of these.

use std::sync::Arc;

/// What went wrong with the caller's input.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The logits slice (or the basis) has no tokens.
    #[error("empty vocabulary: there are no logits")]
    EmptyVocabulary,
    /// A logit is NaN or `+inf`; only finite values and `-inf` (a masked token) are meaningful.
    #[error("logit {index} is {value}: logits must be finite or -inf")]
    InvalidLogit {
        /// Position of the logit.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// Every logit is `-inf`, so there is no distribution to truncate.
    #[error("every logit is -inf: the distribution is undefined")]
    AllMasked,
    /// A matrix entry is NaN or infinite.
    #[error("{matrix} entry ({row}, {col}) is {value}: entries must be finite")]
    NonFiniteEntry {
        /// The matrix.
        matrix: &'static str,
        /// Row of the entry.
        row: usize,
        /// Column of the entry.
        col: usize,
        /// Its value.
        value: f32,
    },
    /// Two sizes that must agree do not.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A threshold rule's parameter (or the threshold it produced) is out of range.
    #[error("invalid threshold: {0}")]
    Threshold(String),
    /// A proposal logit ([`crate::Bat::sample_from`]) is NaN or `+inf`.
    #[error("proposal logit {index} is {value}: logits must be finite or -inf")]
    InvalidProposal {
        /// Position of the logit.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// A draw found no token to return: every token the proposal can draw is rejected or
    /// undecided (or the proposal is `-inf` everywhere).
    #[error("no token the proposal can draw is kept")]
    NoKeptToken,
    /// A sampling temperature is not finite and positive.
    #[error("temperature {0}: it must be finite and positive")]
    Temperature(f64),
    /// A token id is not in the vocabulary.
    #[error("token {token} is out of range for a vocabulary of {vocab}")]
    TokenOutOfRange {
        /// The token id.
        token: u32,
        /// The vocabulary size.
        vocab: usize,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// A safetensors file (basis or instance) could not be parsed or written.
    #[error("{path}: {source}")]
    Safetensors {
        /// The file.
        path: String,
        /// The safetensors crate's error.
        #[source]
        source: Arc<safetensors::SafeTensorError>,
    },
    /// A file (basis or instance) holds something other than what it should (a missing tensor,
    /// a wrong dtype or shape).
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// candle failed on a logits tensor ([`crate::filter::candle`]: reading it to the host or
    /// writing the mask back on its device).
    #[cfg(feature = "candle")]
    #[error("candle: {0}")]
    Candle(#[source] Arc<candle_core::Error>),
}

/// Two errors are equal when they are the same variant with the same message: every field of
/// every variant is in its message, and sources (which are not comparable) compare by theirs.
impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
            && self.to_string() == other.to_string()
    }
}

impl Error {
    /// An I/O error on `path`, kept as the source.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            source: Arc::new(source),
        }
    }

    /// A safetensors error on `path`, kept as the source.
    pub fn safetensors(path: &std::path::Path, source: safetensors::SafeTensorError) -> Self {
        Error::Safetensors {
            path: path.display().to_string(),
            source: Arc::new(source),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

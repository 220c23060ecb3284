//! Typed errors for everything a caller can get wrong. Nothing in the crate panics on bad input:
//! every malformed slice, shape or parameter comes back as one of these.

/// What went wrong with the caller's input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The logits slice (or the basis) has no tokens.
    #[error("empty vocabulary: there are no logits")]
    EmptyVocabulary,
    /// A logit is NaN or `+inf`; only finite values and `-inf` (a masked token) are meaningful.
    #[error("logit {index} is {value}: logits must be finite or -inf")]
    InvalidLogit { index: usize, value: f32 },
    /// Every logit is `-inf`, so there is no distribution to truncate.
    #[error("every logit is -inf: the distribution is undefined")]
    AllMasked,
    /// A matrix entry is NaN or infinite.
    #[error("{matrix} entry ({row}, {col}) is {value}: entries must be finite")]
    NonFiniteEntry {
        matrix: &'static str,
        row: usize,
        col: usize,
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
    InvalidProposal { index: usize, value: f32 },
    /// A draw found no token to return: every token the proposal can draw is rejected or
    /// undecided (or the proposal is `-inf` everywhere).
    #[error("no token the proposal can draw is kept")]
    NoKeptToken,
    /// A sampling temperature is not finite and positive.
    #[error("temperature {0}: it must be finite and positive")]
    Temperature(f64),
    /// A token id is not in the vocabulary.
    #[error("token {token} is out of range for a vocabulary of {vocab}")]
    TokenOutOfRange { token: u32, vocab: usize },
    /// A file (basis or instance) could not be read, written or understood.
    #[error("{path}: {message}")]
    File { path: String, message: String },
    /// A model file could not be loaded or run (wrong architecture, missing tensor or metadata,
    /// an engine error during a forward pass).
    #[error("model: {0}")]
    Model(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! Engine adapters: BAT as a logits processor. Many engines own their sampler (temperature,
//! penalties, grammar, a seeded RNG) and only let a plug-in edit the logits vector before it;
//! a [`TokenFilter`] is that plug-in, masking every token it does not keep to `-inf`.
//!
//! The filter must decide every token the sampler could draw, so [`BatFilter`] runs a
//! full-vocabulary [`crate::truncate`] per step, which costs seconds at `V = 49152` today. An
//! engine that samples itself should call the lazy [`crate::sample_step`] instead: it decides
//! only the candidates it draws, most of which are above the threshold and need no LP.
//! [`BatFilter::with_candidates`] is the cheap middle ground for engines that cannot.
//!
//! `docs/integration.md` has recipes for candle, mistral.rs and llama.cpp.

#[cfg(feature = "candle")]
pub mod candle;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::Backend;
use crate::basis::Basis;
use crate::error::{Error, Result};
use crate::reduction::default_pipeline;
use crate::rule::Rule;
use crate::step::Step;
use crate::truncate::{decide_all, truncate, Counts};

/// Edits one decode step's logits in place, masking the tokens it rejects.
pub trait TokenFilter {
    /// Sets every token the filter does not keep to `f32::NEG_INFINITY` and leaves kept ones
    /// bit-identical, so the engine's sampler draws from the model's distribution renormalised
    /// over the kept set. On error the logits are left untouched.
    fn apply(&mut self, logits: &mut [f32]) -> Result<FilterReport>;
}

/// What one [`TokenFilter::apply`] did.
#[derive(Debug, Clone)]
pub struct FilterReport {
    /// The threshold in force.
    pub tau: f64,
    /// Token ids left unmasked, ascending.
    pub kept: Vec<u32>,
    /// How the decided tokens were decided. Undecided tokens are masked.
    pub counts: Counts,
    /// Tokens below `tau` outside the candidate window of [`BatFilter::with_candidates`]:
    /// masked without an LP, which is the threshold's own decision. Zero in full mode.
    pub unexamined: usize,
    pub elapsed: Duration,
    pub backend_time: Duration,
}

/// BAT as a [`TokenFilter`]: the tokens [`crate::truncate`] keeps stay, every other one
/// (rejected or undecided) is masked.
///
/// The basis is shared, not copied: an engine serving many sequences builds one
/// `Arc<Basis>` per model and gives each sequence its own filter, whose backend keeps that
/// sequence's warm start from step to step.
pub struct BatFilter {
    basis: Arc<Basis>,
    rule: Rule,
    backend: Option<Box<dyn Backend + Send>>,
    candidates: Option<usize>,
}

impl std::fmt::Debug for BatFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatFilter")
            .field("basis", &self.basis.kind())
            .field("rule", &self.rule)
            .field("backend", &self.backend.as_ref().map(|b| b.name()))
            .field("candidates", &self.candidates)
            .finish()
    }
}

impl BatFilter {
    /// The exact rule over the whole vocabulary, decided by the default backend
    /// ([`crate::backends::SimplexBackend`]). Without the `simplex` feature there is no default
    /// backend and the filter masks everything below `tau` (the threshold rule alone) until
    /// [`BatFilter::with_backend`] supplies one.
    pub fn new(basis: impl Into<Arc<Basis>>, rule: Rule) -> Self {
        #[cfg(feature = "simplex")]
        let backend: Option<Box<dyn Backend + Send>> =
            Some(Box::new(crate::backends::SimplexBackend::default()));
        #[cfg(not(feature = "simplex"))]
        let backend = None;
        Self {
            basis: basis.into(),
            rule,
            backend,
            candidates: None,
        }
    }

    /// Decides with `backend` instead of the default.
    pub fn with_backend(mut self, backend: impl Backend + Send + 'static) -> Self {
        self.backend = Some(Box::new(backend));
        self
    }

    /// Decides only the `k` most probable tokens below `tau` and masks the rest of the tail
    /// without an LP, as the threshold would. This is an approximation of the rule in one
    /// direction only: every token kept is kept by the exact rule too (each keep carries its
    /// certificate), but a token past the window that the exact rule would keep is masked.
    /// Near the threshold is where keeps concentrate, so a window of a few hundred catches
    /// most of them at a small fraction of a full [`crate::truncate`].
    pub fn with_candidates(mut self, k: usize) -> Self {
        self.candidates = Some(k);
        self
    }

    /// The shared basis, to hand to the filter of another sequence.
    pub fn basis(&self) -> &Arc<Basis> {
        &self.basis
    }
}

/// Every token through [`truncate`].
fn decide_vocabulary(
    logits: &[f32],
    basis: &Basis,
    rule: &Rule,
    backend: Option<&mut dyn Backend>,
) -> Result<FilterReport> {
    let t = truncate(logits, basis, rule, backend)?;
    Ok(FilterReport {
        tau: t.tau,
        kept: t.kept,
        counts: t.counts,
        unexamined: 0,
        elapsed: t.elapsed,
        backend_time: t.backend_time,
    })
}

/// The threshold's keeps plus the decisions for the `k` most probable tokens below `tau`.
fn decide_window(
    logits: &[f32],
    basis: &Basis,
    rule: &Rule,
    backend: Option<&mut dyn Backend>,
    k: usize,
) -> Result<FilterReport> {
    let step = Step::new(logits, rule)?;
    let below: Vec<u32> = step.below_threshold().iter().copied().take(k).collect();
    let (outcomes, mut counts, backend_time) =
        decide_all(&step, basis, &below, backend, &mut default_pipeline())?;
    let mut kept: Vec<u32> = (0..step.vocab() as u32)
        .filter(|&t| step.above_threshold(t))
        .collect();
    counts.threshold_kept = kept.len();
    let unexamined = step.vocab() - kept.len() - below.len();
    kept.extend(
        below
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| o.is_keep())
            .map(|(&t, _)| t),
    );
    kept.sort_unstable();
    Ok(FilterReport {
        tau: step.tau(),
        kept,
        counts,
        unexamined,
        elapsed: Duration::ZERO,
        backend_time,
    })
}

impl TokenFilter for BatFilter {
    fn apply(&mut self, logits: &mut [f32]) -> Result<FilterReport> {
        let start = Instant::now();
        if logits.len() != self.basis.vocab() {
            return Err(Error::Shape(format!(
                "{} logits for a basis of {} tokens",
                logits.len(),
                self.basis.vocab()
            )));
        }
        let Self {
            basis,
            rule,
            backend,
            candidates,
        } = self;
        let backend = backend.as_deref_mut().map(|b| b as &mut dyn Backend);
        let mut report = match *candidates {
            None => decide_vocabulary(logits, basis, rule, backend)?,
            Some(k) => decide_window(logits, basis, rule, backend, k)?,
        };
        let mut keep = vec![false; logits.len()];
        report.kept.iter().for_each(|&t| keep[t as usize] = true);
        for (logit, _) in logits.iter_mut().zip(&keep).filter(|(_, &k)| !k) {
            *logit = f32::NEG_INFINITY;
        }
        report.elapsed = start.elapsed();
        Ok(report)
    }
}

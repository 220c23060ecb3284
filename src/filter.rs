//! Engine adapters: BAT as a logits processor. Many engines own their sampler (temperature,
//! penalties, grammar, a seeded RNG) and only let a plug-in edit the logits vector before it;
//! a [`TokenFilter`] is that plug-in, masking every token it does not keep to `-inf`.
//!
//! The filter must decide every token the sampler could draw, so a [`Bat`] used as a filter runs
//! a full-vocabulary [`Bat::truncate`] per step, which costs seconds at `V = 49152` today. An
//! engine that samples itself should call the lazy [`Bat::sample`] or [`Bat::sample_from`]
//! instead: they decide only the candidates drawn, most of which are above the threshold and need
//! no LP. [`BatFilter::with_candidates`] is the cheap middle ground for engines that cannot.
//!
//! `docs/integration.md` has recipes for candle, mistral.rs and llama.cpp.

#[cfg(feature = "candle")]
pub mod candle;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::Backend;
use crate::basis::Basis;
use crate::bat::Bat;
use crate::error::Result;
use crate::rule::ThresholdRule;
use crate::truncate::Counts;

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
    /// Wall time of the whole call.
    pub elapsed: Duration,
    /// The part of it spent inside the backend.
    pub backend_time: Duration,
}

/// A [`Bat`] with an optional candidate window ([`BatFilter::with_candidates`]), as a
/// [`TokenFilter`]. Without a window it is the `Bat` itself ([`Bat`] implements
/// [`TokenFilter`] too); every token not kept (rejected or undecided) is masked.
///
/// The basis is shared, not copied: an engine serving many sequences builds one
/// `Arc<Basis>` per model and gives each sequence its own filter, whose backend keeps that
/// sequence's warm start from step to step.
#[derive(Debug)]
pub struct BatFilter {
    bat: Bat,
    candidates: Option<usize>,
}

impl BatFilter {
    /// [`Bat::new`] as a filter: the exact rule over the whole vocabulary.
    pub fn new(
        basis: impl Into<Arc<Basis>>,
        rule: impl ThresholdRule + Send + Sync + 'static,
    ) -> Self {
        Bat::new(basis, rule).into()
    }

    /// Decides with `backend` instead of the default.
    pub fn with_backend(self, backend: impl Backend + Send + 'static) -> Self {
        Self {
            bat: self.bat.with_backend(backend),
            ..self
        }
    }

    /// Decides only the `k` most probable tokens below `tau` and masks the rest of the tail
    /// without an LP, as the threshold would. This is an approximation of the rule in one
    /// direction only: every token kept is kept by the exact rule too (each keep carries its
    /// certificate), but a token past the window that the exact rule would keep is masked.
    /// Near the threshold is where keeps concentrate, so a window of a few hundred catches
    /// most of them at a small fraction of a full [`Bat::truncate`].
    pub fn with_candidates(mut self, k: usize) -> Self {
        self.candidates = Some(k);
        self
    }

    /// The shared basis, to hand to the filter of another sequence.
    pub fn basis(&self) -> &Arc<Basis> {
        self.bat.basis()
    }

    /// The `Bat` that decides, to configure it further.
    pub fn bat_mut(&mut self) -> &mut Bat {
        &mut self.bat
    }
}

/// The filter of `bat`, without a candidate window.
impl From<Bat> for BatFilter {
    fn from(bat: Bat) -> Self {
        Self {
            bat,
            candidates: None,
        }
    }
}

/// The threshold's keeps plus the decisions for the `k` most probable tokens below `tau`.
fn decide_window(bat: &mut Bat, logits: &[f32], k: usize) -> Result<FilterReport> {
    let step = bat.step(logits)?;
    let below: Vec<u32> = step.below_threshold().iter().copied().take(k).collect();
    let (outcomes, mut counts, backend_time) = bat.decide_timed(&step, &below)?;
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
        let Some(k) = self.candidates else {
            return self.bat.apply(logits);
        };
        let start = Instant::now();
        let mut report = decide_window(&mut self.bat, logits, k)?;
        let mut keep = vec![false; logits.len()];
        report.kept.iter().for_each(|&t| keep[t as usize] = true);
        for (logit, _) in logits.iter_mut().zip(&keep).filter(|(_, &k)| !k) {
            *logit = f32::NEG_INFINITY;
        }
        report.elapsed = start.elapsed();
        Ok(report)
    }
}

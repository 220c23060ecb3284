//! A [`TokenFilter`] on candle tensors (feature `candle`), for decode loops that hold the logits
//! as a `Tensor` and sample with candle-transformers' `LogitsProcessor`.
//!
//! The filter decides on host `f32` values (the crate's precision), so the logits make one trip
//! to the CPU, small next to the forward pass that produced them; the mask is applied on the
//! tensor's device in its own dtype.

use candle_core::{DType, Tensor};
use candle_transformers::generation::LogitsProcessor;

use super::{FilterReport, TokenFilter};
use crate::error::{Error, Result};

fn engine_error(e: candle_core::Error) -> Error {
    Error::Model(e.to_string())
}

/// `logits` (`[V]`, f32, f16, bf16 or f64, on any device) with the tokens `filter` rejects
/// set to `-inf`, in the input's dtype and on its device.
pub fn apply_to_tensor<F: TokenFilter + ?Sized>(
    filter: &mut F,
    logits: &Tensor,
) -> Result<(Tensor, FilterReport)> {
    if logits.rank() != 1 {
        return Err(Error::Shape(format!(
            "logits must be one row [V], got shape {:?}",
            logits.dims()
        )));
    }
    let dtype = logits.dtype();
    if !dtype.is_float() {
        return Err(Error::Shape(format!(
            "logits must be floating point, got {dtype:?}"
        )));
    }
    let mut values = logits
        .to_dtype(DType::F32)
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(engine_error)?;
    let report = filter.apply(&mut values)?;
    // Masked in the input's own dtype, so kept logits keep their exact bits (f64 included).
    let kept: Vec<u8> = values
        .iter()
        .map(|&v| u8::from(v != f32::NEG_INFINITY))
        .collect();
    let device = logits.device();
    let masked = Tensor::from_vec(kept, values.len(), device)
        .and_then(|kept| {
            let masked = Tensor::new(f32::NEG_INFINITY, device)?
                .to_dtype(dtype)?
                .broadcast_as(values.len())?;
            kept.where_cond(logits, &masked)
        })
        .map_err(engine_error)?;
    Ok((masked, report))
}

/// A `LogitsProcessor` that sees only the tokens `filter` keeps: the drop-in for
/// `LogitsProcessor::sample` in a candle decode loop. Temperature, top-k and top-p then act on
/// the kept set, and argmax is unchanged (the most probable token is always kept).
pub struct FilteredSampler<F> {
    /// The filter that masks each step's logits (a [`crate::Bat`], or a [`crate::BatFilter`]).
    pub filter: F,
    /// candle's sampler, drawing from what the filter keeps.
    pub sampler: LogitsProcessor,
    last: Option<FilterReport>,
}

impl<F: TokenFilter> FilteredSampler<F> {
    /// `sampler` drawing from the logits `filter` masks.
    pub fn new(filter: F, sampler: LogitsProcessor) -> Self {
        Self {
            filter,
            sampler,
            last: None,
        }
    }

    /// Masks `logits` (`[V]`) and draws a token from what is left.
    pub fn sample(&mut self, logits: &Tensor) -> Result<u32> {
        let (masked, report) = apply_to_tensor(&mut self.filter, logits)?;
        self.last = Some(report);
        self.sampler.sample(&masked).map_err(engine_error)
    }

    /// The report of the last [`FilteredSampler::sample`].
    pub fn last_report(&self) -> Option<&FilterReport> {
        self.last.as_ref()
    }
}

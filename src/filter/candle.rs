//! A [`TokenFilter`] on candle tensors (feature `candle`), for decode loops that hold the logits
//! as a `Tensor` and sample with candle-transformers' `LogitsProcessor`.
//!
//! The filter decides on host `f32` values (the crate's precision), so the logits make one trip
//! to the CPU, small next to the forward pass that produced them; the mask is applied on the
//! tensor's device in its own dtype.

use candle_core::{DType, Tensor};

use super::{FilterReport, TokenFilter};
use crate::error::{Error, Result};

fn engine_error(e: candle_core::Error) -> Error {
    Error::Candle(std::sync::Arc::new(e))
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

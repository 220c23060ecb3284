//! BAT in a candle decode loop: SmolLM2 (GGUF) continues a prompt, and every step's logits go
//! through a `BatFilter` (`apply_to_tensor` masks what it rejects to `-inf`) before
//! candle-transformers' `LogitsProcessor` samples from them.
//!
//!     export BASIS_AWARE_MODEL="$(bash scripts/fetch-model.sh | tail -n 1)"
//!     cargo run --release -p basis-aware-tools --features candle --example candle_filter -- "The capital of France is"
//!
//! The filter decides the 64 most probable tokens below `tau` (`with_candidates`): a window
//! keeps the per-step cost in milliseconds, where a full-vocabulary decision costs seconds.

use std::sync::Arc;

use basis_aware::filter::candle::apply_to_tensor;
use basis_aware::{BatFilter, Rule};
use basis_aware_tools::model::{cached_svd_basis, GgufModel, MODEL_ENV};
use candle_core::{Device, Tensor};
use candle_transformers::generation::LogitsProcessor;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::var(MODEL_ENV)
        .map_err(|_| format!("set {MODEL_ENV}; `bash scripts/fetch-model.sh` prints a path"))?;
    let prompt = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "The capital of France is".into());
    let mut model = GgufModel::load(&path)?;
    // Once per model, cached next to it; every sequence's filter shares it.
    let basis = Arc::new(cached_svd_basis(&path, 20)?);
    let mut filter = BatFilter::new(basis, Rule::Eta(9e-4)).with_candidates(64);
    let mut sampler = LogitsProcessor::new(0, Some(1.0), None);

    let (mut input, mut position, mut generated) = (model.encode(&prompt)?, 0, Vec::new());
    for _ in 0..24 {
        let logits = model.forward(&input, position)?;
        position += input.len();
        let logits = Tensor::from_vec(logits, model.vocab(), &Device::Cpu)?;
        let (masked, report) = apply_to_tensor(&mut filter, &logits)?;
        let token = sampler.sample(&masked)?;
        eprintln!(
            "tau {:.2e}: {} kept by the threshold, +{} by BAT, {:.1} ms  {:?}",
            report.tau,
            report.counts.threshold_kept,
            report.counts.dual_kept,
            report.elapsed.as_secs_f64() * 1e3,
            model.decode(&[token])?,
        );
        generated.push(token);
        input = vec![token];
    }
    println!("{prompt}{}", model.decode(&generated)?);
    Ok(())
}

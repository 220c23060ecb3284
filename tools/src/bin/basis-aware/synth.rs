//! `basis-aware synth`: a synthetic instance file (Gaussian embedding and hidden states).

use basis_aware::synthetic;
use basis_aware_tools::instance::Instance;

/// Write a synthetic instance: a Gaussian `vocab x dim` embedding and `steps` decode steps.
#[derive(clap::Args)]
pub struct Args {
    /// The instance file to write (safetensors).
    #[arg(long, value_name = "FILE.safetensors")]
    pub out: String,
    /// Vocabulary size.
    #[arg(long, value_name = "V", default_value_t = 2000)]
    pub vocab: usize,
    /// Hidden size.
    #[arg(long, value_name = "D", default_value_t = 16)]
    pub dim: usize,
    /// Decode steps.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub steps: usize,
    /// Norm of the hidden states (larger: peakier distributions).
    #[arg(long, value_name = "S", default_value_t = 8.0)]
    pub scale: f64,
    /// Seed of the generator.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
}

pub fn run(args: Args) -> Result<(), String> {
    let Args {
        out,
        vocab,
        dim,
        steps,
        scale,
        seed,
    } = args;
    if vocab == 0 || dim == 0 || steps == 0 || !(scale.is_finite() && scale > 0.0) {
        return Err("synth needs vocab, dim and steps >= 1 and a positive finite scale".into());
    }
    synthetic::check_size(vocab, dim, steps).map_err(|e| e.to_string())?;
    let instance = Instance::from(synthetic::gaussian_instance(vocab, dim, steps, scale, seed));
    instance.save(&out).map_err(|e| e.to_string())?;
    println!("wrote {out}: {steps} steps, vocabulary {vocab}, hidden size {dim}, seed {seed}");
    Ok(())
}

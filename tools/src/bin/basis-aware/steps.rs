//! What `truncate` and `sample` share: the instance file, which of its steps, the rule, the basis
//! and the backend a `Bat` decides with.

use std::sync::Arc;
use std::time::Duration;

use basis_aware::{Basis, Bat, Rule};
use basis_aware_tools::instance::Instance;

use crate::backend;

/// The instance, the steps and the `Bat`'s configuration.
#[derive(clap::Args)]
pub struct StepArgs {
    /// The instance file (safetensors).
    #[arg(value_name = "INSTANCE.safetensors")]
    pub instance: String,
    /// Only this step (default: every step).
    #[arg(long, value_name = "K")]
    pub step: Option<usize>,
    /// The threshold rule: eta=E, epsilon=E, top-p=P, top-k=K or min-p=M.
    #[arg(long, default_value = "eta=0.0009")]
    pub rule: Rule,
    /// Project the embedding on its top C right singular vectors (default: the full W).
    #[arg(long, value_name = "C")]
    pub svd: Option<usize>,
    /// LP backend: simplex, highs (feature highs) or none (default: the first compiled in).
    #[arg(long, value_name = "NAME")]
    pub backend: Option<String>,
    /// Time limit of each LP solve, in seconds; a token whose solve runs out is undecided.
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = backend::seconds)]
    pub lp_time_limit: Duration,
}

/// The loaded instance, its basis and the steps the command runs on.
pub struct Steps {
    pub instance: Instance,
    pub basis: Arc<Basis>,
    pub steps: Vec<usize>,
}

impl StepArgs {
    /// The `--backend` name, or the default one.
    pub fn backend_name(&self) -> &str {
        self.backend.as_deref().unwrap_or(backend::default_name())
    }

    /// Reads the instance, builds its basis and lists the steps (`--step`, else all).
    pub fn load(&self) -> Result<Steps, String> {
        let instance = Instance::load(&self.instance).map_err(|e| e.to_string())?;
        let basis = Arc::new(instance.basis(self.svd).map_err(|e| e.to_string())?);
        let steps = match self.step {
            None => (0..instance.steps).collect(),
            Some(k) => vec![k],
        };
        Ok(Steps {
            instance,
            basis,
            steps,
        })
    }

    /// A `Bat` over `basis` with the rule and backend asked for, each call bounded by
    /// `deadline` when given.
    pub fn bat(&self, basis: &Arc<Basis>, deadline: Option<Duration>) -> Result<Bat, String> {
        backend::bat(
            Arc::clone(basis),
            self.rule,
            self.backend_name(),
            deadline,
            self.lp_time_limit,
        )
    }
}

//! TEMPORARY stand-in for the crate's `Bat` (being written on branch `api`), over the free
//! functions, so the binding can be built and tested before it lands. Deleted at the merge.

use std::sync::Arc;
use std::time::Duration;

use basis_aware::backends::SimplexBackend;
use basis_aware::{Basis, Outcome, Result, Rule, Sampled, Truncation};
use rand_xoshiro::rand_core::Rng;

pub trait UndecidedExt {
    fn undecided(&self) -> Vec<u32>;
}

impl UndecidedExt for Truncation {
    fn undecided(&self) -> Vec<u32> {
        self.outcomes
            .iter()
            .enumerate()
            .filter(|(_, o)| matches!(o, Outcome::Undecided(_)))
            .map(|(j, _)| j as u32)
            .collect()
    }
}

pub struct Bat {
    basis: Arc<Basis>,
    rule: Rule,
    backend: Option<SimplexBackend>,
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl Bat {
    pub fn new(basis: impl Into<Arc<Basis>>, rule: Rule) -> Self {
        Self {
            basis: basis.into(),
            rule,
            backend: Some(SimplexBackend::default()),
            pool: None,
        }
    }
    pub fn with_backend(mut self, backend: SimplexBackend) -> Self {
        self.backend = Some(backend);
        self
    }
    pub fn without_backend(mut self) -> Self {
        self.backend = None;
        self
    }
    pub fn with_deadline(self, _per_call: Duration) -> Self {
        self
    }
    pub fn with_temperature(self, _t: f64) -> Self {
        self
    }
    pub fn with_thread_pool(mut self, pool: Arc<rayon::ThreadPool>) -> Self {
        self.pool = Some(pool);
        self
    }
    pub fn truncate(&mut self, logits: &[f32]) -> Result<Truncation> {
        let backend = self
            .backend
            .as_mut()
            .map(|b| b as &mut dyn basis_aware::Backend);
        basis_aware::truncate(logits, &self.basis, &self.rule, backend)
    }
    pub fn truncate_batch(&mut self, logits: &[f32], _rows: usize) -> Result<Vec<Truncation>> {
        let run = || {
            basis_aware::truncate_batch(logits, &self.basis, &self.rule, SimplexBackend::default)
        };
        match &self.pool {
            Some(pool) => pool.install(run),
            None => run(),
        }
    }
    pub fn sample<R: Rng + ?Sized>(&mut self, logits: &[f32], rng: &mut R) -> Result<Sampled> {
        let backend = self
            .backend
            .as_mut()
            .map(|b| b as &mut dyn basis_aware::Backend);
        basis_aware::sample(logits, &self.basis, &self.rule, backend, rng)
    }
    pub fn sample_from<R: Rng + ?Sized>(
        &mut self,
        proposal: &[f32],
        logits: &[f32],
        rng: &mut R,
    ) -> Result<Sampled> {
        if proposal.len() != logits.len() {
            return Err(basis_aware::Error::Shape("proposal".into()));
        }
        self.sample(logits, rng)
    }
    pub fn mask(&mut self, logits: &mut [f32]) -> Result<Truncation> {
        let t = self.truncate(logits)?;
        let mut keep = vec![false; logits.len()];
        for &k in &t.kept {
            keep[k as usize] = true;
        }
        for (v, k) in logits.iter_mut().zip(keep) {
            if !k {
                *v = f32::NEG_INFINITY;
            }
        }
        Ok(t)
    }
}

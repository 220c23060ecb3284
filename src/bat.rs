//! [`Bat`]: the crate's front door. One configured, stateful object per sequence (in the spirit
//! of candle's `LogitsProcessor`): it owns the backend, whose warm starts carry over from step
//! to step, the reduction pipeline, the limits of a call and reusable scratch, and answers the
//! four questions an engine asks of a decode step: which tokens are kept ([`Bat::truncate`],
//! [`Bat::truncate_batch`]), one token drawn from the kept set ([`Bat::sample`],
//! [`Bat::sample_from`]), and the logits with every other token masked ([`Bat::mask`]).
//!
//! The free functions ([`crate::truncate`], [`crate::sample_step`], ...) are the same decisions
//! without the state; every decision still goes through the one ledger and its verifier.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand_core::Rng;
use rayon::prelude::*;
use rayon::ThreadPool;

use crate::backend::Backend;
use crate::basis::Basis;
use crate::budget::Budget;
use crate::certificate::Outcome;
use crate::error::{Error, Result};
use crate::filter::{FilterReport, TokenFilter};
use crate::ledger::Ledger;
use crate::reduction::{default_send_pipeline, Reduction};
use crate::rule::ThresholdRule;
use crate::sample::{weights_into, Draw, SampleBudget, Sampled};
use crate::step::Step;
use crate::truncate::{decide_all, truncate_step, Counts, Truncation};

/// The pipeline as a `Bat` holds it.
type Pipeline = Vec<Box<dyn Reduction + Send>>;

/// What one row of a batch decides with.
type Worker = (Option<Box<dyn Backend + Send>>, Pipeline);

/// BAT for one sequence: a shared basis, a threshold rule, a backend and its state.
///
/// Build the basis once per model (it is shared through an `Arc`, never copied), then one `Bat`
/// per sequence:
///
/// ```
/// use basis_aware::{Bat, Basis, MatrixView, Rule};
/// use rand_xoshiro::{rand_core::SeedableRng, Xoshiro256PlusPlus};
///
/// // Four tokens, hidden size two: W is row-major 4 x 2.
/// let w = [1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, -1.0_f32];
/// let basis = Basis::full(MatrixView::new(&w, 4, 2)?)?;
/// let mut bat = Bat::new(basis, Rule::Epsilon(0.1));
///
/// let logits = [3.0, 1.0, 0.5, -2.0_f32];
/// let mask = bat.truncate(&logits)?;
/// assert!(mask.kept.contains(&0)); // above the threshold: kept without an LP
///
/// let draw = bat.sample(&logits, &mut Xoshiro256PlusPlus::seed_from_u64(7))?; // lazy: decides only what it draws
/// assert!(mask.kept.contains(&draw.token));
///
/// let mut masked = logits;
/// bat.mask(&mut masked)?; // every token not kept is now -inf
/// # Ok::<(), basis_aware::Error>(())
/// ```
///
/// `Bat` is `Send`: an engine may move each sequence's `Bat` to the thread that decodes it.
pub struct Bat {
    basis: Arc<Basis>,
    rule: Box<dyn ThresholdRule + Send + Sync>,
    backend: Option<Box<dyn Backend + Send>>,
    pipeline: Pipeline,
    deadline: Option<Duration>,
    temperature: f64,
    budget: SampleBudget,
    pool: Option<Arc<ThreadPool>>,
    /// Proposal weights of the last draw from another distribution.
    weights: Vec<f64>,
    /// All-false between draws: the candidates a draw has refused.
    refused: Vec<bool>,
}

impl std::fmt::Debug for Bat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bat")
            .field("basis", &self.basis.kind())
            .field("backend", &self.backend.as_ref().map(|b| b.name()))
            .field(
                "pipeline",
                &self.pipeline.iter().map(|r| r.name()).collect::<Vec<_>>(),
            )
            .field("deadline", &self.deadline)
            .field("temperature", &self.temperature)
            .field("budget", &self.budget)
            .field(
                "thread_pool",
                &self.pool.as_ref().map(|p| p.current_num_threads()),
            )
            .finish_non_exhaustive()
    }
}

impl Bat {
    /// The exact rule through the default pipeline, decided by the default backend
    /// ([`crate::backends::SimplexBackend`], feature `simplex`). Without that feature there is no
    /// default backend: tokens below the threshold are undecided (so dropped, the threshold
    /// rule alone) until [`Bat::with_backend`] supplies one.
    pub fn new(
        basis: impl Into<Arc<Basis>>,
        rule: impl ThresholdRule + Send + Sync + 'static,
    ) -> Self {
        #[cfg(feature = "simplex")]
        let backend: Option<Box<dyn Backend + Send>> =
            Some(Box::new(crate::backends::SimplexBackend::default()));
        #[cfg(not(feature = "simplex"))]
        let backend = None;
        Self {
            basis: basis.into(),
            rule: Box::new(rule),
            backend,
            pipeline: default_send_pipeline(),
            deadline: None,
            temperature: 1.0,
            budget: SampleBudget::unlimited(),
            pool: None,
            weights: Vec::new(),
            refused: Vec::new(),
        }
    }

    /// Decides with `backend` instead of the default.
    pub fn with_backend(mut self, backend: impl Backend + Send + 'static) -> Self {
        self.backend = Some(Box::new(backend));
        self
    }

    /// No backend: the threshold's decisions only (tokens below `tau` are undecided, dropped).
    pub fn without_backend(mut self) -> Self {
        self.backend = None;
        self
    }

    /// Decides through `pipeline` instead of the default ([`crate::reduction::default_pipeline`]),
    /// in order; tokens no reduction settles are undecided.
    pub fn with_pipeline(mut self, pipeline: Vec<Box<dyn Reduction + Send>>) -> Self {
        self.pipeline = pipeline;
        self
    }

    /// Bounds every call (a mask, a batch, a draw) by `per_call` of wall time: no LP starts after
    /// it, each LP is told the time left ([`Backend::set_deadline`]), and the tokens still open
    /// are `Undecided(Budget)`, hence dropped. A call returns within its deadline plus about one
    /// LP's worth.
    pub fn with_deadline(mut self, per_call: Duration) -> Self {
        self.deadline = Some(per_call);
        self
    }

    /// [`Bat::sample`] draws from `softmax(logits / t)` restricted to the kept set; the decisions
    /// stay those of the model's own `q = softmax(logits)`. A `t` that is not finite and positive
    /// makes `sample` fail with [`Error::Temperature`].
    pub fn with_temperature(mut self, t: f64) -> Self {
        self.temperature = t;
        self
    }

    /// Limits on the LP work of each draw ([`SampleBudget`]); unlimited by default.
    pub fn with_sample_budget(mut self, budget: SampleBudget) -> Self {
        self.budget = budget;
        self
    }

    /// Runs the rows of [`Bat::truncate_batch`] on `pool` instead of rayon's current pool.
    pub fn with_thread_pool(mut self, pool: Arc<ThreadPool>) -> Self {
        self.pool = Some(pool);
        self
    }

    /// The shared basis, to hand to the `Bat` of another sequence.
    pub fn basis(&self) -> &Arc<Basis> {
        &self.basis
    }

    /// The full-vocabulary decision for one step (`logits.len()` must be the basis's vocabulary).
    pub fn truncate(&mut self, logits: &[f32]) -> Result<Truncation> {
        let start = Instant::now();
        let budget = self.budget_from(start);
        let step = self.step(logits)?;
        truncate_step(
            &step,
            &self.basis,
            self.backend.as_deref_mut().map(|b| b as &mut dyn Backend),
            &mut self.pipeline,
            budget,
            start,
        )
    }

    /// [`Bat::truncate`] for every row of `logits` (row-major `[rows, vocab]`), rows in parallel,
    /// results in row order. Each row gets a fresh backend and pipeline ([`Backend::fresh`],
    /// [`Reduction::fresh`]), so a row decides as a single call on a new `Bat` would, whatever
    /// the number of threads; this `Bat`'s own warm start is neither used nor changed. When the
    /// backend or a reduction cannot make a fresh copy, the rows run in order on this `Bat`'s
    /// own. The deadline bounds the whole batch.
    ///
    /// ```
    /// use basis_aware::{Bat, Basis, MatrixView, Rule};
    ///
    /// let w = [1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, -1.0_f32];
    /// let mut bat = Bat::new(Basis::full(MatrixView::new(&w, 4, 2)?)?, Rule::Epsilon(0.1));
    /// let rows = bat.truncate_batch(&[3.0, 1.0, 0.5, -2.0, 0.0, 2.0, 1.0, 1.0], 2)?;
    /// assert_eq!(rows.len(), 2);
    /// # Ok::<(), basis_aware::Error>(())
    /// ```
    pub fn truncate_batch(&mut self, logits: &[f32], rows: usize) -> Result<Vec<Truncation>> {
        let start = Instant::now();
        let vocab = self.basis.vocab();
        if rows.checked_mul(vocab) != Some(logits.len()) {
            return Err(Error::Shape(format!(
                "{} logits for {rows} rows of a vocabulary of {vocab}",
                logits.len()
            )));
        }
        let budget = self.budget_from(start);
        let fresh = (0..rows)
            .map(|_| self.fresh_worker())
            .collect::<Option<Vec<_>>>();
        let Some(workers) = fresh else {
            let mut out = Vec::with_capacity(rows);
            for row in logits.chunks(vocab) {
                let row_start = Instant::now();
                let step = self.step(row)?;
                out.push(truncate_step(
                    &step,
                    &self.basis,
                    self.backend.as_deref_mut().map(|b| b as &mut dyn Backend),
                    &mut self.pipeline,
                    budget,
                    row_start,
                )?);
            }
            return Ok(out);
        };
        let (basis, rule) = (&*self.basis, &*self.rule);
        let run = || {
            logits
                .par_chunks(vocab)
                .zip(workers)
                .map(|(row, (mut backend, mut pipeline))| {
                    let row_start = Instant::now();
                    let step = Step::new(row, rule)?;
                    truncate_step(
                        &step,
                        basis,
                        backend.as_deref_mut().map(|b| b as &mut dyn Backend),
                        &mut pipeline,
                        budget,
                        row_start,
                    )
                })
                .collect()
        };
        match &self.pool {
            Some(pool) => pool.install(run),
            None => run(),
        }
    }

    /// One token drawn from `softmax(logits / t)` (`t` from [`Bat::with_temperature`], 1 by
    /// default) restricted to the tokens BAT keeps under `q = softmax(logits)`. Lazy and exact:
    /// candidates are drawn without replacement and the first kept one is returned, so only the
    /// candidates drawn are decided, most of them by the threshold alone.
    pub fn sample<R: Rng + ?Sized>(&mut self, logits: &[f32], rng: &mut R) -> Result<Sampled> {
        let start = Instant::now();
        let t = self.temperature;
        if !(t.is_finite() && t > 0.0) {
            return Err(Error::Temperature(t));
        }
        let step = self.step(logits)?;
        if t != 1.0 {
            weights_into(logits, t, &mut self.weights)?;
        }
        self.draw(&step, t != 1.0, rng, start)
    }

    /// One token drawn from `softmax(proposal)` (the engine's processed logits: temperature,
    /// penalties, grammar masks) restricted to the tokens BAT keeps under `q = softmax(logits)`
    /// (the model's own logits): candidates from the proposal without replacement, the first
    /// kept one returned. Fails with [`Error::NoKeptToken`] when no token the proposal can draw
    /// is kept, [`Error::Shape`] when the two slices or the basis disagree in length, and
    /// [`Error::InvalidProposal`] / [`Error::InvalidLogit`] on NaN or `+inf`.
    ///
    /// ```
    /// use basis_aware::{Bat, Basis, MatrixView, Rule};
    /// use rand_xoshiro::{rand_core::SeedableRng, Xoshiro256PlusPlus};
    ///
    /// let w = [1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, -1.0_f32];
    /// let mut bat = Bat::new(Basis::full(MatrixView::new(&w, 4, 2)?)?, Rule::Epsilon(0.1));
    /// let logits = [3.0, 1.0, 0.5, -2.0_f32];
    /// // The engine's grammar forbids token 0: the draw comes from the other kept tokens.
    /// let proposal = [f32::NEG_INFINITY, 1.0, 0.5, -2.0];
    /// let draw = bat.sample_from(&proposal, &logits, &mut Xoshiro256PlusPlus::seed_from_u64(1))?;
    /// assert_ne!(draw.token, 0);
    /// # Ok::<(), basis_aware::Error>(())
    /// ```
    pub fn sample_from<R: Rng + ?Sized>(
        &mut self,
        proposal: &[f32],
        logits: &[f32],
        rng: &mut R,
    ) -> Result<Sampled> {
        let start = Instant::now();
        if proposal.len() != logits.len() {
            return Err(Error::Shape(format!(
                "a proposal of {} entries for {} logits",
                proposal.len(),
                logits.len()
            )));
        }
        let step = self.step(logits)?;
        weights_into(proposal, 1.0, &mut self.weights)?;
        self.draw(&step, true, rng, start)
    }

    /// Sets every token [`Bat::truncate`] does not keep (rejected or undecided) to `-inf` and
    /// leaves kept logits bit-identical; on error the logits are untouched.
    pub fn mask(&mut self, logits: &mut [f32]) -> Result<Truncation> {
        let truncation = self.truncate(logits)?;
        for (logit, outcome) in logits.iter_mut().zip(&truncation.outcomes) {
            if !outcome.is_keep() {
                *logit = f32::NEG_INFINITY;
            }
        }
        Ok(truncation)
    }

    /// Decisions for the listed tokens of `step` (in the listed order, repeats allowed) through
    /// this `Bat`'s backend, pipeline and deadline, sharing every verified certificate among
    /// them: the building block of partial masks such as [`crate::BatFilter::with_candidates`].
    pub fn decide_tokens(&mut self, step: &Step, tokens: &[u32]) -> Result<(Vec<Outcome>, Counts)> {
        let (outcomes, counts, _) = self.decide_timed(step, tokens)?;
        Ok((outcomes, counts))
    }

    /// [`Bat::decide_tokens`] with the time spent inside the backend.
    pub(crate) fn decide_timed(
        &mut self,
        step: &Step,
        tokens: &[u32],
    ) -> Result<(Vec<Outcome>, Counts, Duration)> {
        let budget = self.budget_from(Instant::now());
        decide_all(
            step,
            &self.basis,
            tokens,
            self.backend.as_deref_mut().map(|b| b as &mut dyn Backend),
            &mut self.pipeline,
            budget,
        )
    }

    /// The step of `logits` under this `Bat`'s rule, checked against the basis.
    pub fn step(&self, logits: &[f32]) -> Result<Step> {
        if logits.len() != self.basis.vocab() {
            return Err(Error::Shape(format!(
                "{} logits for a basis of {} tokens",
                logits.len(),
                self.basis.vocab()
            )));
        }
        Step::new(logits, &*self.rule)
    }

    /// One lazy draw from the weights in scratch (`proposal`), else from the step's `q`.
    fn draw<R: Rng + ?Sized>(
        &mut self,
        step: &Step,
        proposal: bool,
        rng: &mut R,
        start: Instant,
    ) -> Result<Sampled> {
        let budget = self.budget_from(start);
        let mut ledger = Ledger::new(step, &self.basis)?;
        ledger.budget = budget;
        let draw = Draw {
            weights: proposal.then_some(&self.weights[..]),
            budget: self.budget,
        };
        draw.run(
            &mut ledger,
            self.backend.as_deref_mut().map(|b| b as &mut dyn Backend),
            &mut self.pipeline,
            &mut self.refused,
            rng,
            start,
        )
    }

    /// The budget of a call begun at `start`. The one place the deadline is turned into a limit
    /// of a call.
    fn budget_from(&self, start: Instant) -> Budget {
        match self.deadline.and_then(|d| start.checked_add(d)) {
            Some(deadline) => Budget::until(deadline),
            None => Budget::unlimited(),
        }
    }

    /// A fresh backend (none when this `Bat` has none) and pipeline for one batch row; `None`
    /// when some part cannot make a fresh copy.
    fn fresh_worker(&self) -> Option<Worker> {
        let backend = match &self.backend {
            Some(backend) => Some(backend.fresh()?),
            None => None,
        };
        let pipeline = self
            .pipeline
            .iter()
            .map(|r| r.fresh())
            .collect::<Option<Pipeline>>()?;
        Some((backend, pipeline))
    }
}

/// BAT as a logits processor: [`Bat::mask`], reported as a [`FilterReport`].
impl TokenFilter for Bat {
    fn apply(&mut self, logits: &mut [f32]) -> Result<FilterReport> {
        let t = self.mask(logits)?;
        Ok(FilterReport {
            tau: t.tau,
            kept: t.kept,
            counts: t.counts,
            unexamined: 0,
            elapsed: t.elapsed,
            backend_time: t.backend_time,
        })
    }
}

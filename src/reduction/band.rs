//! The band: the tokens the bulk certificate leaves, near the boundary of the step's zonotope.
//! Each is asked one question of the same head LP ([`crate::engine::head_lp`]): is
//! `sigma q_i a_i` in `sum_{j in H} [-q_j, kappa q_j] a_j`? Only the right-hand side changes
//! from token to token, so the dual simplex goes on from the last token's basis. A point becomes
//! a sparse reject certificate (changes on the head and the token only, verified in `O(h m)`);
//! a Farkas vector is a keep candidate for the whole vocabulary, which settles every token it
//! keeps. A Farkas vector that the next most probable tokens' columns defeat grows a copy of the
//! head with the columns it prices worst, without a pass over the vocabulary; one that fails
//! over the vocabulary grows it from there, by column generation ([`crate::engine::band`]). What
//! no round settles goes on to the next reduction.
//!
//! Threads: the band is cut into fixed chunks of [`BAND_CHUNK`] tokens, run in waves of
//! [`BAND_WAVE`] chunks on the caller's rayon pool, one engine per chunk of a wave. Each engine
//! sees the ledger as it was when the wave began plus its own certificates (checked by the
//! ledger's verifier on the engine's thread), and the ledger records the wave's certificates in
//! chunk order, so the outcome is the same at any thread count.

use rayon::prelude::*;

use super::{Reduction, Workspace};
use crate::basis::Basis;
use crate::certificate::{Certificate, KeepCertificate};
use crate::engine::band::{BandEngine, BandStats, BandStep};

/// Columns of the persistent head LP, the most probable tokens (issue 15: 64 to 88% of band
/// rejects need only the top 250 absorbers). It keeps its basis from token to token.
pub const BAND_HEAD: usize = 256;

/// The most probable tokens whose columns (built once per step, in f64) column generation
/// prices first, before any pass over the vocabulary.
pub const BAND_PRICED: usize = 4096;

/// Columns added to the token's copy of the head LP when a Farkas vector fails over the
/// vocabulary (the ones with the largest `q_j g(s_j)`), doubling each round.
pub const BAND_GROW: usize = 256;

/// Columns of the head LP a lazy draw's tokens are asked of, with no column generation. Measured
/// on the 95 step/seed pairs of `benches/real.rs` (callgrind, all draws): 820 M instructions at
/// 128 columns, 762 M at 160, 693 M at 192, 743 M at 256. Fewer columns make each pivot
/// cheaper but leave more tokens to the backend.
pub const QUICK_HEAD: usize = 192;

/// Most keep duals carried from one step to the next ([`BandLp`]'s pool).
pub const BAND_POOL: usize = 32;

/// Tokens per chunk of the band: the unit of work of one engine in a wave.
pub const BAND_CHUNK: usize = 8;

/// Most chunks per wave (a wave narrows to one chunk where duals settle runs of tokens).
pub const BAND_WAVE: usize = 4;

/// Fewest pending tokens for which the band engine runs in full: building its priced head costs
/// more than a lazy draw's one backend solve (measured on 144 draws of real steps: median 5.8 ms
/// and p99 68 ms through the band engine, against 0.73 ms and 4.3 ms through the simplex
/// backend). Fewer tokens are asked of a head LP of [`QUICK_HEAD`] columns alone.
pub const BAND_MIN_PENDING: usize = 16;

/// Fewest pending tokens for which the pool is tried (each carried dual costs a pass over the
/// vocabulary) and renewed.
const POOL_MIN_PENDING: usize = 64;

/// What the band reduction did on its last step, for reports and benches.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BandReport {
    /// The engines' work, summed.
    pub engines: BandStats,
    /// Carried duals tried.
    pub pool_tried: usize,
    /// Carried duals that settled at least one token.
    pub pool_hits: usize,
    /// Tokens settled by carried duals.
    pub pool_kept: usize,
    /// Waves run.
    pub waves: usize,
}

/// Head-LP points and Farkas duals for the pending tokens, most probable first. It carries the
/// keep duals that settled most tokens from one call to the next: a dual stays a valid
/// candidate at any `q` over the same basis (only whether it clears `F(y)` changes), and each is
/// verified again by the ledger before it settles anything.
#[derive(Debug)]
pub struct BandLp {
    /// Columns of the persistent head LP.
    pub head: usize,
    /// Most probable tokens priced before the vocabulary (at least `head`).
    pub priced: usize,
    /// Columns added per failed Farkas vector.
    pub grow: usize,
    /// Most duals carried to the next call (0: none).
    pub pool_size: usize,
    /// What the last step did.
    pub report: BandReport,
    /// `(tokens settled, y)` of this call's duals; the pool of the next.
    found: Vec<(usize, Vec<f64>)>,
    pool: Vec<Vec<f64>>,
    /// The basis the pool was found on (its id and width).
    pool_basis: (u64, usize),
    /// One engine per chunk of a wave, their buffers kept from call to call.
    engines: Vec<BandEngine>,
}

impl Default for BandLp {
    fn default() -> Self {
        Self {
            head: BAND_HEAD,
            priced: BAND_PRICED,
            grow: BAND_GROW,
            pool_size: BAND_POOL,
            report: BandReport::default(),
            found: Vec::new(),
            pool: Vec::new(),
            pool_basis: (0, 0),
            engines: Vec::new(),
        }
    }
}

impl BandLp {
    /// A band reduction whose head LP has `head` columns, whose column generation prices the
    /// `priced` most probable tokens first, and adds `grow` columns (doubling) per Farkas vector
    /// that fails over the vocabulary.
    pub fn with_heads(head: usize, priced: usize, grow: usize) -> Self {
        Self {
            head,
            priced,
            grow,
            ..Self::default()
        }
    }

    /// Submits the carried duals (each verified by the ledger) before any LP.
    fn try_pool(&mut self, work: &mut Workspace<'_, '_>) {
        let basis = work.basis();
        if self.pool_basis != (basis.id(), basis.dim()) {
            self.pool.clear();
        }
        for y in std::mem::take(&mut self.pool) {
            self.report.pool_tried += 1;
            let cert = Certificate::Keep(KeepCertificate { y: y.clone() });
            if let Some(n) = work.submit_shared(cert) {
                if n > 0 {
                    self.report.pool_hits += 1;
                    self.report.pool_kept += n;
                    self.found.push((n, y));
                }
            }
        }
    }

    /// A lazy draw's few tokens: each asked of the head LP alone ([`BandEngine::quick`]), over
    /// the `head` most probable tokens' columns only, so the step costs no priced head.
    fn quick(&mut self, work: &mut Workspace<'_, '_>, pending: &[u32]) {
        let head = self.head.min(QUICK_HEAD);
        let band = BandStep::new(&work.checker(), head, head, self.grow);
        if self.engines.is_empty() {
            self.engines.push(BandEngine::default());
        }
        let engine = &mut self.engines[0];
        engine.prepare_quick(&band, work.step().vocab());
        let mut found = Vec::new();
        for &t in pending {
            if work.out_of_time() {
                break;
            }
            engine.solves.clear();
            engine.quick(&band, &work.checker(), t, &mut found);
            for verified in found.drain(..) {
                work.record_verified(verified);
            }
            for &elapsed in &engine.solves {
                work.count_solve(elapsed);
            }
            engine.clear();
        }
        engine.finish();
        self.report.engines.add(&engine.stats);
    }

    /// The duals that settled most tokens this call become the next call's pool.
    fn keep_pool(&mut self, basis: &Basis) {
        self.found.sort_by_key(|f| std::cmp::Reverse(f.0));
        self.found.truncate(self.pool_size);
        self.pool = self.found.drain(..).map(|(_, y)| y).collect();
        self.pool_basis = (basis.id(), basis.dim());
    }
}

impl Reduction for BandLp {
    fn name(&self) -> &'static str {
        "band-lp"
    }

    fn reduce(&mut self, work: &mut Workspace<'_, '_>, pending: &[u32]) {
        self.report = BandReport::default();
        // The band engine is LP work: without a backend the caller asked for the threshold
        // alone (bulk rejects are a closed form, not LP work).
        // Its dense `(m + 1) x (m + 1)` basis inverses are built for the small bases the bulk
        // pass serves; the full basis (`m + 1 = 577`) goes to the backend, as before.
        if !work.has_backend() || work.basis().dim() + 1 > super::BULK_MAX_ROWS {
            return;
        }
        if pending.len() < BAND_MIN_PENDING {
            self.quick(work, pending);
            return;
        }
        let (step, basis) = (work.step(), work.basis());
        self.found.clear();
        // A lazy draw's few tokens do not pay for a pass per carried dual, and must not
        // replace the pool of the full masks.
        let pooled = pending.len() >= POOL_MIN_PENDING && self.pool_size > 0;
        if pooled {
            self.try_pool(work);
        }
        let band = BandStep::new(&work.checker(), self.head, self.priced, self.grow);
        // Most probable first: the keeps sit near the threshold, and the first duals found
        // there keep runs of the tokens after them. (Ordering by direction, a greedy nearest
        // neighbour tour of the `a_i`, did not lower the pivots per token on real steps.)
        let open: Vec<u32> = pending
            .iter()
            .copied()
            .filter(|&t| !work.is_settled(t))
            .collect();
        let chunks: Vec<&[u32]> = open.chunks(BAND_CHUNK).collect();
        let slots = BAND_WAVE.min(chunks.len()).max(1);
        self.engines
            .resize_with(slots.max(self.engines.len()), BandEngine::default);
        for engine in &mut self.engines[..slots] {
            engine.prepare(&band, step.vocab());
        }
        let mut next = 0;
        let mut results: Vec<Vec<crate::ledger::Verified>> = Vec::new();
        // Where one dual settles a run of the tokens after it, chunks running side by side
        // would each solve them again: a wave whose duals settled a chunk's worth of tokens is
        // followed by a single chunk, any other doubles the width up to `slots` (a function of
        // the ledger's state, the same at any thread count).
        let mut width = 1;
        while next < chunks.len() && !work.out_of_time() {
            let mut kept = 0;
            let wave = &chunks[next..(next + width).min(chunks.len())];
            next += wave.len();
            self.report.waves += 1;
            let checker = work.checker();
            results.clear();
            results.resize_with(wave.len(), Vec::new);
            let engines = &mut self.engines[..wave.len()];
            let run = |((engine, chunk), out): ((&mut BandEngine, &&[u32]), &mut Vec<_>)| {
                engine.clear();
                engine.solves.clear();
                engine.run(&band, &checker, chunk, out);
            };
            if wave.len() == 1 {
                run(((&mut engines[0], &wave[0]), &mut results[0]));
            } else {
                engines
                    .par_iter_mut()
                    .zip(wave.par_iter())
                    .zip(results.par_iter_mut())
                    .for_each(run);
            }
            for (engine, found) in self.engines.iter_mut().zip(results.drain(..)) {
                for verified in found {
                    let keep = match verified.certificate() {
                        Certificate::Keep(c) => Some(c.y.clone()),
                        Certificate::Reject(_) => None,
                    };
                    let n = work.record_verified(verified);
                    if let Some(y) = keep {
                        kept += n;
                        if pooled && n > 0 {
                            self.found.push((n, y));
                        }
                    }
                }
                for &elapsed in &engine.solves {
                    work.count_solve(elapsed);
                }
            }
            width = if kept >= BAND_CHUNK {
                1
            } else {
                (2 * width).min(slots)
            };
        }
        for engine in &mut self.engines[..slots] {
            engine.finish();
            self.report.engines.add(&engine.stats);
        }
        if pooled {
            self.keep_pool(basis);
        }
    }

    fn fresh(&self) -> Option<Box<dyn Reduction + Send>> {
        Some(Box::new(Self {
            head: self.head,
            priced: self.priced,
            grow: self.grow,
            pool_size: self.pool_size,
            ..Self::default()
        }))
    }
}

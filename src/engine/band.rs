//! The band engine: one token's question asked of the step's head LP ([`super::head_lp`]),
//! then of a copy grown by column generation, first from the most probable tokens' columns
//! (priced without a pass over the vocabulary), then from the whole vocabulary. Each engine owns
//! its LPs and scratch, sized once per step, so several run side by side on a chunk of the band
//! each; the certificates it finds are checked by the ledger's verifier on its own thread
//! ([`Checker`]) and handed back for the ledger to record.

use std::time::{Duration, Instant};

use super::head_lp::{HeadAnswer, HeadLp, HeadStats};
use super::head_point::{column, reject_point, solve_without};
use crate::basis::Basis;
use crate::certificate::{Certificate, KeepCertificate};
use crate::ledger::{Checker, Verified};
use crate::select::{largest_first, largest_scores};

/// Column-generation rounds per token over the vocabulary; round `k` adds `grow * 2^min(k, 6)`
/// columns, so a token that needs most of the vocabulary reaches it in a few rounds rather than
/// falling through to the backend (tens of milliseconds a token).
const ROUNDS: usize = 12;

/// Column-generation rounds over the priced head.
const HEAD_ROUNDS: usize = 6;

/// Columns the first round over the priced head adds (doubling each round).
const HEAD_GROW: usize = 64;

/// A Farkas vector goes on to the vocabulary once the priced head's terms sum to at most this
/// fraction of its own side: one that only just survives the head would fail over the
/// vocabulary's tail, at the cost of a pass, where more head columns are cheap.
const HEAD_SURVIVE: f64 = 0.5;

/// How far below the sum `F(y)` a token's term `sigma q_j s_j` may be and still make a Farkas
/// vector worth offering to the verifier (whose margin is far smaller than this).
const OFFER_SLACK: f64 = 1e-6;

/// Longest head order searched for a token's position rather than indexed.
const SEARCHED_ORDER: usize = 512;

/// Where an answer came from: the head LP, its copy grown from the priced head, a vector
/// offered after that, or (the last slot) a copy grown from the vocabulary.
pub const SLOTS: usize = 4;

/// Upper ends of [`BandStats::by_time`]'s classes but the last: a head-LP reject takes under
/// 0.15 ms, a token that needs the priced head or the vocabulary milliseconds.
pub const TIME_CLASSES: [Duration; 4] = [
    Duration::from_micros(150),
    Duration::from_micros(500),
    Duration::from_millis(2),
    Duration::from_millis(5),
];

/// What engines did, summed over a step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BandStats {
    /// Tokens asked.
    pub asked: usize,
    /// Reject points verified, by where they were found: the head LP, its copy grown over the
    /// priced head, a vector offered after that, and a copy grown over the vocabulary.
    pub points: [usize; SLOTS],
    /// Keep duals verified, by slot as for `points`.
    pub duals: [usize; SLOTS],
    /// Certificates the verifier refused.
    pub refused: usize,
    /// Rounds of column generation over the priced head (Farkas vectors its columns showed
    /// could not keep their token).
    pub screened: usize,
    /// Farkas vectors that survived the priced head but did not keep their token over the
    /// vocabulary.
    pub misses: usize,
    /// Largest grown head.
    pub grown_max: usize,
    /// The LPs' work: the head LP's, then (the last entry) its grown copies'.
    pub lp: [HeadStats; SLOTS],
    /// Tokens left open.
    pub left: usize,
    /// Time in the LPs.
    pub lp_time: Duration,
    /// Time verifying certificates.
    pub verify_time: Duration,
    /// Time pricing columns over the vocabulary.
    pub price_time: Duration,
    /// Tokens decided (or given up) and their summed time, by class of time per token: below
    /// each of [`TIME_CLASSES`], then the rest.
    pub by_time: [(usize, Duration); TIME_CLASSES.len() + 1],
}

impl BandStats {
    /// Adds `other` field by field (the largest head as a maximum).
    pub fn add(&mut self, other: &Self) {
        self.asked += other.asked;
        for k in 0..SLOTS {
            self.points[k] += other.points[k];
            self.duals[k] += other.duals[k];
            add_stats(&mut self.lp[k], &other.lp[k]);
        }
        self.refused += other.refused;
        self.screened += other.screened;
        self.misses += other.misses;
        self.grown_max = self.grown_max.max(other.grown_max);
        self.left += other.left;
        self.lp_time += other.lp_time;
        self.verify_time += other.verify_time;
        self.price_time += other.price_time;
        for (total, part) in self.by_time.iter_mut().zip(&other.by_time) {
            total.0 += part.0;
            total.1 += part.1;
        }
    }

    /// Counts `elapsed`, one token's time, in its class of [`BandStats::by_time`].
    fn count_time(&mut self, elapsed: Duration) {
        let class = TIME_CLASSES
            .iter()
            .position(|&end| elapsed < end)
            .unwrap_or(TIME_CLASSES.len());
        self.by_time[class].0 += 1;
        self.by_time[class].1 += elapsed;
    }
}

fn add_stats(total: &mut HeadStats, part: &HeadStats) {
    total.solves += part.solves;
    total.pivots += part.pivots;
    total.flips += part.flips;
    total.refactors += part.refactors;
}

/// The step's data every engine reads: the head order and sizes.
#[derive(Debug)]
pub struct BandStep<'a> {
    /// The most probable tokens, as many as are priced before the vocabulary.
    pub order: Vec<u32>,
    /// Columns of the head LP (the first of `order`).
    pub head: usize,
    /// Columns added per failed Farkas vector.
    pub grow: usize,
    /// Each token's position in `order` (`u32::MAX` outside it); empty when `order` has at
    /// most [`SEARCHED_ORDER`] tokens.
    position: Vec<u32>,
    basis: &'a Basis,
}

impl<'a> BandStep<'a> {
    /// The head of `q`: `head` LP columns and `priced` tokens priced first.
    pub fn new(checker: &Checker<'_, 'a>, head: usize, priced: usize, grow: usize) -> Self {
        let step = checker.step();
        let order = step.most_probable(priced.max(head).max(1));
        let head = head.clamp(1, order.len().max(1));
        // A short order is searched instead: a lazy draw's step would pay a `V`-long array.
        let mut position = Vec::new();
        if order.len() > SEARCHED_ORDER {
            position.resize(step.vocab(), u32::MAX);
            for (k, &j) in order.iter().enumerate() {
                position[j as usize] = k as u32;
            }
        }
        Self {
            order,
            head,
            grow,
            position,
            basis: checker.basis(),
        }
    }
}

impl BandStep<'_> {
    /// Token `t`'s column in the head LP and its grown copies, when it is one: only the head's
    /// columns keep their positions in the copies (the token itself is never added to one).
    fn own_column(&self, t: u32) -> Option<usize> {
        if self.position.is_empty() {
            return self.order[..self.head].iter().position(|&j| j == t);
        }
        let p = self.position[t as usize];
        (p != u32::MAX && (p as usize) < self.head).then_some(p as usize)
    }
}

/// Columns about to join a grown copy together, with their boxes `[-q_j, kappa q_j]`.
#[derive(Debug, Default)]
struct Batch {
    tokens: Vec<u32>,
    cols: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
}

impl Batch {
    fn clear(&mut self) {
        self.tokens.clear();
        self.cols.clear();
        self.lower.clear();
        self.upper.clear();
    }

    fn push(&mut self, token: u32, col: &[f64], qj: f64, kappa: f64) {
        self.tokens.push(token);
        self.cols.extend_from_slice(col);
        self.lower.push(-qj);
        self.upper.push(kappa * qj);
    }
}

/// One engine: its head LP (built when first needed), a grown copy, and scratch.
#[derive(Debug, Default)]
pub struct BandEngine {
    head: Option<HeadLp>,
    grown: Option<HeadLp>,
    /// The priced head's columns, row-major, as far as they were built.
    head_cols: Vec<f64>,
    /// Whether a token is a column of the head or of the grown copy.
    in_head: Vec<bool>,
    /// Tokens settled by this engine's own certificates since the last [`BandEngine::clear`].
    mine: Vec<bool>,
    mine_list: Vec<u32>,
    added: Vec<u32>,
    rhs: Vec<f64>,
    a: Vec<f64>,
    point: Vec<f64>,
    s: Vec<f64>,
    /// The vector `s` was computed for.
    s_for: Vec<f64>,
    dots: Vec<f64>,
    no_skip: Vec<bool>,
    scores: Vec<(f64, u32)>,
    batch: Batch,
    /// Work done since the engine was made for the step.
    pub stats: BandStats,
    /// `(token, time)` of every token asked, in order, for the ledger's counts.
    pub solves: Vec<Duration>,
}

impl BandEngine {
    /// Readies the engine for `band`'s step, reusing its buffers (the vocabulary-sized ones
    /// are sized once per vocabulary, not per step).
    pub fn prepare(&mut self, band: &BandStep<'_>, vocab: usize) {
        self.prepare_quick(band, vocab);
        self.in_head.resize(vocab, false);
        for &j in &band.order[..band.head.min(band.order.len())] {
            self.in_head[j as usize] = true;
        }
    }

    /// [`BandEngine::prepare`] for [`BandEngine::quick`] alone, which grows no copy of the head
    /// and so needs no record of its columns.
    pub fn prepare_quick(&mut self, band: &BandStep<'_>, vocab: usize) {
        self.s_for.clear();
        self.in_head.clear();
        self.mine.clear();
        self.mine.resize(vocab, false);
        self.mine_list.clear();
        self.added.clear();
        let r = band.basis.dim() + 1;
        self.rhs.resize(r, 0.0);
        self.a.resize(r, 0.0);
        self.no_skip.clear();
        self.no_skip.resize(band.order.len(), false);
        self.head_cols.clear();
        self.head = None;
        self.stats = BandStats::default();
        self.solves.clear();
    }

    /// Forgets which tokens its own certificates settled (the ledger knows them now).
    pub fn clear(&mut self) {
        for &t in &self.mine_list {
            self.mine[t as usize] = false;
        }
        self.mine_list.clear();
    }

    /// Records the time of a token asked since `clock` started.
    fn token_done(&mut self, clock: Instant) {
        let elapsed = clock.elapsed();
        self.stats.count_time(elapsed);
        self.solves.push(elapsed);
    }

    fn settled(&self, checker: &Checker<'_, '_>, t: u32) -> bool {
        self.mine[t as usize] || checker.is_settled(t)
    }

    fn take(&mut self, verified: Verified, out: &mut Vec<Verified>) {
        for &t in verified.covered() {
            if !self.mine[t as usize] {
                self.mine[t as usize] = true;
                self.mine_list.push(t);
            }
        }
        out.push(verified);
    }

    fn ensure_cols(&mut self, band: &BandStep<'_>, n: usize) {
        let r = band.basis.dim() + 1;
        let have = self.head_cols.len() / r;
        if have < n {
            self.head_cols.resize(n * r, 0.0);
            for (&j, col) in band.order[have..n]
                .iter()
                .zip(self.head_cols[have * r..].chunks_exact_mut(r))
            {
                column(band.basis, j, col);
            }
        }
    }

    /// Decides what it can of `tokens` (skipping any settled before or by its own
    /// certificates), appending the verified certificates to `out` in the order found.
    pub fn run(
        &mut self,
        band: &BandStep<'_>,
        checker: &Checker<'_, '_>,
        tokens: &[u32],
        out: &mut Vec<Verified>,
    ) {
        for &t in tokens {
            if self.settled(checker, t) {
                continue;
            }
            if checker.out_of_time() {
                return;
            }
            let clock = Instant::now();
            self.decide(band, checker, t, out);
            self.token_done(clock);
        }
    }

    /// Asks the head LP (built on first use) whether the head absorbs `t`: a point is submitted
    /// as `t`'s reject certificate, and an infeasible answer leaves its Farkas vector in the
    /// head LP.
    fn ask_head(
        &mut self,
        band: &BandStep<'_>,
        checker: &Checker<'_, '_>,
        t: u32,
        out: &mut Vec<Verified>,
    ) -> HeadAnswer {
        let step = checker.step();
        let (q, kappa) = (step.q(), step.kappa());
        let r = band.basis.dim() + 1;
        self.stats.asked += 1;
        // The point of `P_t` itself: `sum_{j != t} d_j a_j = q_t a_t` with `d_t = -q_t`, the
        // token's own column (when in the head) fixed at zero. No rescaling afterwards, so the
        // columns at a bound stay there, and the verifier's absorbers are only the basic ones.
        column(band.basis, t, &mut self.rhs);
        let scale = q[t as usize];
        self.rhs.iter_mut().for_each(|x| *x *= scale);
        let h0 = band.head;
        self.ensure_cols(band, h0);
        if self.head.is_none() {
            let mut lp = HeadLp::new(r);
            self.batch.clear();
            for (&j, col) in band.order[..h0].iter().zip(self.head_cols.chunks_exact(r)) {
                self.batch.push(j, col, q[j as usize], kappa);
            }
            let b = &self.batch;
            lp.add_columns(&b.tokens, &b.cols, &b.lower, &b.upper);
            self.head = Some(lp);
        }
        let clock = Instant::now();
        let tier = self.head.as_mut().expect("built above");
        let answer = solve_without(tier, &self.rhs, band.own_column(t), &mut self.point);
        self.stats.lp_time += clock.elapsed();
        if answer == HeadAnswer::Feasible {
            let cert = reject_point(tier.tokens(), &self.point, t, q, kappa);
            self.submit(checker, Certificate::Reject(cert), 0, false, out);
        }
        answer
    }

    /// Decides `t` the quick way, for a lazy draw's few tokens: the head LP alone, its point a
    /// reject certificate, its Farkas vector a keep certificate over the vocabulary, with no
    /// column generation. What neither settles is left to the next reduction.
    pub fn quick(
        &mut self,
        band: &BandStep<'_>,
        checker: &Checker<'_, '_>,
        t: u32,
        out: &mut Vec<Verified>,
    ) {
        if self.settled(checker, t) {
            return;
        }
        let clock = Instant::now();
        if self.ask_head(band, checker, t, out) == HeadAnswer::Infeasible {
            let y = self.head.as_ref().expect("asked").farkas().to_vec();
            self.submit(
                checker,
                Certificate::Keep(KeepCertificate { y }),
                0,
                true,
                out,
            );
        }
        self.token_done(clock);
        if !self.settled(checker, t) {
            self.stats.left += 1;
        }
    }

    fn decide(
        &mut self,
        band: &BandStep<'_>,
        checker: &Checker<'_, '_>,
        t: u32,
        out: &mut Vec<Verified>,
    ) {
        let step = checker.step();
        let (q, kappa) = (step.q(), step.kappa());
        let r = band.basis.dim() + 1;
        let own = band.own_column(t);
        let mut y = match self.ask_head(band, checker, t, out) {
            HeadAnswer::Feasible => return,
            HeadAnswer::Infeasible => Some(self.head.as_ref().expect("asked").farkas().to_vec()),
            HeadAnswer::Stalled => None,
        };
        let tier = self.head.as_ref().expect("asked");
        let mut lp = self.grown.take().unwrap_or_else(|| tier.clone());
        lp.clone_from(tier);
        lp.stats = HeadStats::default();
        // Column generation over the head first: the Farkas vector prices the head's other
        // columns (already in f64), and those it prices worst join, until it survives the
        // whole head (then the vocabulary decides) or a point is found.
        self.ensure_cols(band, band.order.len());
        let hmax = self.head_cols.len() / r;
        for round in 0..HEAD_ROUNDS {
            let Some(yv) = y.as_ref() else { break };
            let clock = Instant::now();
            let lhs: f64 = self.rhs.iter().zip(yv).map(|(a, b)| a * b).sum();
            self.dots.resize(hmax, 0.0);
            basis_aware_kernels::column_dots(
                &self.head_cols,
                r,
                yv,
                &self.no_skip[..hmax],
                &mut self.dots,
            );
            let mut total = 0.0;
            self.scores.clear();
            for (p, (&j, &sj)) in band.order[..hmax].iter().zip(&self.dots).enumerate() {
                if j == t {
                    continue;
                }
                let g = q[j as usize] * if sj > 0.0 { kappa * sj } else { -sj };
                total += g;
                if !self.in_head[j as usize] && g > 0.0 {
                    self.scores.push((g, p as u32));
                }
            }
            if total < HEAD_SURVIVE * lhs || self.scores.is_empty() {
                self.stats.price_time += clock.elapsed();
                break;
            }
            self.stats.screened += 1;
            let k = largest_first(&mut self.scores, HEAD_GROW << round);
            self.batch.clear();
            for idx in 0..k {
                let p = self.scores[idx].1 as usize;
                let j = band.order[p];
                self.batch
                    .push(j, &self.head_cols[p * r..(p + 1) * r], q[j as usize], kappa);
            }
            self.join(&mut lp);
            self.stats.price_time += clock.elapsed();
            let clock = Instant::now();
            let answer = solve_without(&mut lp, &self.rhs, own, &mut self.point);
            self.stats.lp_time += clock.elapsed();
            match answer {
                HeadAnswer::Feasible => {
                    let cert = reject_point(lp.tokens(), &self.point, t, q, kappa);
                    self.submit(checker, Certificate::Reject(cert), 1, false, out);
                    y = None;
                    break;
                }
                HeadAnswer::Infeasible => y = Some(lp.farkas().to_vec()),
                HeadAnswer::Stalled => {
                    y = None;
                    break;
                }
            }
        }
        if !self.settled(checker, t) {
            let mut miss = None;
            if let Some(yv) = y {
                if !(self.offer_dual(checker, &yv, 2, out) && self.settled(checker, t)) {
                    self.stats.misses += 1;
                    miss = Some(yv);
                }
            }
            if !self.settled(checker, t) {
                self.grow(&mut lp, band, checker, t, miss, out);
            }
        }
        self.stats.grown_max = self.stats.grown_max.max(lp.len());
        add_stats(&mut self.stats.lp[SLOTS - 1], &lp.stats);
        for &j in &self.added {
            self.in_head[j as usize] = false;
        }
        self.added.clear();
        self.grown = Some(lp);
        if !self.settled(checker, t) {
            self.stats.left += 1;
        }
    }

    /// Adds the batch's columns to `lp`, the grown copy.
    fn join(&mut self, lp: &mut HeadLp) {
        let b = &self.batch;
        for &j in &b.tokens {
            self.in_head[j as usize] = true;
        }
        self.added.extend_from_slice(&b.tokens);
        lp.add_columns(&b.tokens, &b.cols, &b.lower, &b.upper);
    }

    /// `self.s = A^T y` over the vocabulary (`s_j = b_j . y_b + y_0`), remembered as `y`'s.
    fn vocab_dots(&mut self, basis: &Basis, y: &[f64]) {
        let m = basis.dim();
        self.s.resize(basis.vocab(), 0.0);
        basis.dots(&y[..m], &mut self.s);
        self.s.iter_mut().for_each(|v| *v += y[m]);
        self.s_for.clear();
        self.s_for.extend_from_slice(y);
    }

    /// Submits the Farkas vector `y` as a keep certificate when it may keep a token not yet
    /// settled: one pass over the vocabulary here (kept in `self.s` for pricing) decides whether
    /// the verifier's pass is worth making. A vector that keeps nothing open is not offered. The
    /// test is generous by [`OFFER_SLACK`], so it never withholds a dual the verifier would
    /// accept for an open token; it only changes the work. Returns whether it was offered.
    fn offer_dual(
        &mut self,
        checker: &Checker<'_, '_>,
        y: &[f64],
        slot: usize,
        out: &mut Vec<Verified>,
    ) -> bool {
        let clock = Instant::now();
        let step = checker.step();
        self.vocab_dots(checker.basis(), y);
        let (q, kappa, sigma) = (step.q(), step.kappa(), step.sigma());
        let total: f64 = self
            .s
            .iter()
            .zip(q)
            .map(|(&sj, &qj)| qj * if sj > 0.0 { kappa * sj } else { -sj })
            .sum();
        let bar = total * (1.0 - OFFER_SLACK);
        let useful = self.s.iter().zip(q).enumerate().any(|(j, (&sj, &qj))| {
            sigma * qj * sj > bar && !self.settled(checker, j as u32) && qj > 0.0
        });
        self.stats.price_time += clock.elapsed();
        if useful {
            let cert = Certificate::Keep(KeepCertificate { y: y.to_vec() });
            self.submit(checker, cert, slot, true, out);
        }
        useful
    }

    fn submit(
        &mut self,
        checker: &Checker<'_, '_>,
        cert: Certificate,
        slot: usize,
        keep: bool,
        out: &mut Vec<Verified>,
    ) {
        let clock = Instant::now();
        let verified = checker.check(cert);
        self.stats.verify_time += clock.elapsed();
        match verified {
            Some(v) => {
                if keep {
                    self.stats.duals[slot] += 1;
                } else {
                    self.stats.points[slot] += 1;
                }
                self.take(v, out);
            }
            None => self.stats.refused += 1,
        }
    }

    /// Column generation over the vocabulary on `lp` (the token's grown copy): the columns the last Farkas
    /// vector prices worst (largest `q_j g(s_j)`) join, and the token is asked again.
    fn grow(
        &mut self,
        lp: &mut HeadLp,
        band: &BandStep<'_>,
        checker: &Checker<'_, '_>,
        t: u32,
        full_miss: Option<Vec<f64>>,
        out: &mut Vec<Verified>,
    ) {
        let step = checker.step();
        let (q, kappa) = (step.q(), step.kappa());
        let basis = band.basis;
        let own = band.own_column(t);
        let mut y = match full_miss {
            Some(y) => Some(y),
            None => match solve_without(lp, &self.rhs, own, &mut self.point) {
                HeadAnswer::Infeasible => Some(lp.farkas().to_vec()),
                _ => None,
            },
        };
        let last = SLOTS - 1;
        for round in 0..ROUNDS {
            let Some(yv) = y.take() else { break };
            let clock = Instant::now();
            // `self.s` holds `A^T yv` from `offer_dual`, or is computed here for a vector the
            // verifier was not offered (the first round's, after a stalled LP).
            if !self.s_for.as_slice().eq(yv.as_slice()) {
                self.vocab_dots(basis, &yv);
            }
            let (s, in_head) = (&self.s, &self.in_head);
            let k = largest_scores(q.len(), band.grow << round.min(6), &mut self.scores, |j| {
                let (sj, qj) = (s[j], q[j]);
                if in_head[j] || qj == 0.0 || j == t as usize {
                    return 0.0;
                }
                qj * if sj > 0.0 { kappa * sj } else { -sj }
            });
            if k == 0 {
                break;
            }
            self.batch.clear();
            for idx in 0..k {
                let j = self.scores[idx].1;
                column(basis, j, &mut self.a);
                self.batch.push(j, &self.a, q[j as usize], kappa);
            }
            self.join(lp);
            self.stats.price_time += clock.elapsed();
            let clock = Instant::now();
            let answer = solve_without(lp, &self.rhs, own, &mut self.point);
            self.stats.lp_time += clock.elapsed();
            match answer {
                HeadAnswer::Feasible => {
                    let cert = reject_point(lp.tokens(), &self.point, t, q, kappa);
                    self.submit(checker, Certificate::Reject(cert), last, false, out);
                }
                HeadAnswer::Infeasible => {
                    let yv = lp.farkas().to_vec();
                    self.offer_dual(checker, &yv, last, out);
                    if !self.settled(checker, t) {
                        self.stats.misses += 1;
                        y = Some(yv);
                    }
                }
                HeadAnswer::Stalled => {}
            }
            if self.settled(checker, t) {
                break;
            }
        }
    }

    /// Adds the head LP's work to [`BandEngine::stats`] (once, at the end of the step).
    pub fn finish(&mut self) {
        if let Some(lp) = &self.head {
            add_stats(&mut self.stats.lp[0], &lp.stats);
        }
    }
}

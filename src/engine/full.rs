//! The full-basis engine: one step's head LP kept from token to token for bases too large for
//! the band engine (`m + 1` above [`crate::reduction::BULK_MAX_ROWS`], e.g. a model's whole `W`
//! with `m + 1 = 577` rows), and a pool of the keep duals verified so far.
//!
//! It asks the band engine's question of the head `H` (the most probable tokens): is there
//! `d_H` in its box with `sum_{j in H, j != t} d_j a_j = q_t a_t`? Only the right-hand side
//! changes from token to token, so one [`HeadLp`] is kept for the whole step and each token
//! starts from the last token's basis (still dual feasible). The simplex backend's
//! column generation instead solves a fresh restricted LP per token from the logical basis: at
//! `m + 1 = 577` that is over a thousand pivots a token, each against a cost vector of its own.
//!
//! - **A point** is a reject certificate (`d_t = -q_t`, the head's moves).
//! - **A Farkas vector** `y` is a keep candidate for the whole vocabulary: the verifier's one
//!   pass returns every token it keeps, and the engine remembers them, so a later token that
//!   one of its duals already keeps costs no LP at all (with the full basis nearly every token
//!   below `tau` is kept, and one dual typically keeps many). When `y` fails over the
//!   vocabulary, the tokens outside the head it prices worst (largest `q_j g(s_j)`) join the
//!   head for this and every later token of the step (column generation), and the token is
//!   asked again.
//!
//! Nothing is decided here: every certificate is checked through the token's problem
//! ([`TokenProblem::check`]) before it is returned, and returned with the verifier's verdict,
//! which the ledger records as it stands. A pooled dual is returned verified when it is the last
//! one pooled, as a plain certificate (verified by the ledger) otherwise: keeping every pooled
//! dual's verdict would keep every token list it settles. An LP that stalls, a point or a dual
//! the verifier refuses, or a deadline gives `None`, and the caller goes on without it.

use std::time::{Duration, Instant};

use super::head_lp::{HeadAnswer, HeadLp};
use super::head_point::{column, reject_point, solve_without};
use crate::backend::{Answer, TokenProblem};
use crate::basis::Basis;
use crate::certificate::{Certificate, KeepCertificate, RejectCertificate};
use crate::ledger::Verified;
use crate::select::largest_scores;
use crate::step::Step;

/// Columns of the base head: the most probable tokens. Measured on a real SmolLM2 step at
/// `m + 1 = 577` (`tools/examples/full_probe.rs`, the 100 most probable tokens below `tau` and
/// 100 tail ones, one backend): 1,024 columns (growing by 512) gave keeps a median of 278 ms
/// (p90 1.0 s; 137 Farkas vectors of 200 failed over the vocabulary), 2,048 (by 1,024) 24 ms
/// (p90 1.0 s, 28 failed) and 4,096 18 ms (p90 0.74 s); tail rejects 7, 13 and 23 ms.
const HEAD: usize = 2048;
/// Columns priced into the head per failed Farkas vector.
const GROW: usize = 1024;
/// Rounds of column generation per token before the engine gives up on it.
const ROUNDS: usize = 16;
/// Most columns the head may grow to in one step.
const MAX_COLUMNS: usize = 8192;
/// Pivots one right-hand side may take.
const MAX_PIVOTS: usize = 20_000;

/// Marks a token that is not a column of the head, or not kept by any pooled dual.
const NONE: u32 = u32::MAX;

/// Work done, for reports and benches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FullBasisStats {
    /// Tokens asked.
    pub asked: usize,
    /// Tokens answered from a pooled dual, without an LP.
    pub pooled: usize,
    /// Verified reject points and keep duals found.
    pub points: usize,
    /// Keep duals verified (each may keep many tokens).
    pub duals: usize,
    /// Farkas vectors that failed over the vocabulary (each followed by pricing).
    pub misses: usize,
    /// Certificates the verifier refused.
    pub refused: usize,
    /// Sets asked to go to zero at once ([`crate::Backend::solve_set`]), and those the base
    /// head found a point for.
    pub sets: usize,
    /// Set points found (verified by the ledger, not here).
    pub set_points: usize,
    /// Times the grown head was full and started again from the base.
    pub resets: usize,
    /// Pivots over all solves of the step.
    pub pivots: usize,
    /// Columns of the head at the end.
    pub columns: usize,
    /// Time in the head LP (building it included).
    pub lp_time: Duration,
    /// Time in the verifier (keep passes and reject points).
    pub verify_time: Duration,
}

/// The head sizes ([`HEAD`], [`GROW`], [`MAX_COLUMNS`]; the unit tests make them small).
#[derive(Debug, Clone, Copy)]
struct Sizes {
    head: usize,
    grow: usize,
    max_columns: usize,
}

impl Default for Sizes {
    fn default() -> Self {
        Self {
            head: HEAD,
            grow: GROW,
            max_columns: MAX_COLUMNS,
        }
    }
}

/// The engine's state for one step and basis; see the module documentation.
#[derive(Debug, Clone, Default)]
pub(crate) struct FullEngine {
    sizes: Sizes,
    /// `(step id, basis id)` the state belongs to.
    key: Option<(u64, u64)>,
    /// The head LP over the [`HEAD`] most probable tokens: asked first, for every token.
    base: Option<HeadLp>,
    /// The base's columns and those priced in since (column generation), asked when the
    /// base's Farkas vector fails over the vocabulary. Rejects come from the base wherever
    /// they can: every column of a head LP moves (a nonbasic one sits at a bound), and the
    /// exact reject criterion's cost grows with the tokens a point moves (measured at
    /// `m + 1 = 577`: 2 s a point from 1,024 columns, 10 s from 7,680).
    grown: Option<HeadLp>,
    /// Each token's column in the grown head, which extends the base (`NONE` outside it).
    position: Vec<u32>,
    /// The pooled dual that keeps each token (`NONE` for none).
    cover: Vec<u32>,
    duals: Vec<KeepCertificate>,
    /// The verifier's verdict on the last of `duals`.
    last_dual: Option<Verified>,
    /// Whether the last token the engine decided was a reject.
    last_was_point: bool,
    rhs: Vec<f64>,
    a: Vec<f64>,
    point: Vec<f64>,
    s: Vec<f64>,
    scores: Vec<(f64, u32)>,
    /// Work done on the current step.
    pub stats: FullBasisStats,
}

impl FullEngine {
    /// Resets the state when `step` or `basis` is not the one it was built for.
    fn prepare(&mut self, step: &Step, basis: &Basis) {
        let key = (step.id(), basis.id());
        if self.key == Some(key) {
            return;
        }
        self.key = Some(key);
        self.base = None;
        self.grown = None;
        self.position.clear();
        self.position.resize(step.vocab(), NONE);
        self.cover.clear();
        self.cover.resize(step.vocab(), NONE);
        self.duals.clear();
        self.last_dual = None;
        self.last_was_point = false;
        self.stats = FullBasisStats::default();
        let r = basis.dim() + 1;
        self.rhs.resize(r, 0.0);
        self.a.resize(r, 0.0);
    }

    /// Builds the base LP over the [`HEAD`] most probable tokens on first use in a step, and
    /// the grown one (when `grown`), a copy of the base, on its first use.
    fn ensure_head(&mut self, step: &Step, basis: &Basis, grown: bool) {
        if self.base.is_none() {
            let (q, kappa) = (step.q(), step.kappa());
            let mut lp = HeadLp::new(basis.dim() + 1);
            lp.max_pivots = MAX_PIVOTS;
            for j in step.most_probable(self.sizes.head) {
                column(basis, j, &mut self.a);
                let qj = q[j as usize];
                self.position[j as usize] = lp.len() as u32;
                lp.add_column(j, &self.a, -qj, kappa * qj);
            }
            self.base = Some(lp);
        }
        if grown && self.grown.is_none() {
            self.grown = self.base.clone();
        }
    }

    /// A certificate that decides the problem's token (`0 < q_t < tau`), or `None` when the
    /// engine could not find one before `deadline`.
    pub(crate) fn solve(
        &mut self,
        problem: &TokenProblem<'_>,
        deadline: Option<Instant>,
    ) -> Option<Answer> {
        let TokenProblem { step, basis, token } = *problem;
        self.prepare(step, basis);
        self.stats.asked += 1;
        let t = token as usize;
        let k = self.cover[t] as usize;
        if let Some(dual) = self.duals.get(k) {
            self.stats.pooled += 1;
            self.last_was_point = false;
            return Some(match &self.last_dual {
                Some(verified) if k + 1 == self.duals.len() => Answer::Verified(verified.clone()),
                _ => Answer::Certificate(Certificate::Keep(dual.clone())),
            });
        }
        let (q, kappa) = (step.q(), step.kappa());
        column(basis, token, &mut self.rhs);
        self.rhs.iter_mut().for_each(|x| *x *= q[t]);
        // After a keep, the grown head first when there is one (its columns were priced in for
        // earlier keeps); a point it finds is asked of the base again, whose points move fewer
        // tokens. After a reject, the base first: tokens come most probable first, so rejects
        // follow rejects, and the grown head's larger LP would only find the same point.
        let mut grown = self.grown.is_some() && !self.last_was_point;
        let mut base_for_point = false;
        for _ in 0..ROUNDS {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            let clock = Instant::now();
            self.ensure_head(step, basis, grown);
            let lp = if grown {
                &mut self.grown
            } else {
                &mut self.base
            };
            let lp = lp.as_mut().expect("built by ensure_head");
            let own = self.position[t] as usize;
            let own = (own < lp.len()).then_some(own);
            let before = lp.stats.pivots;
            let answer = solve_without(lp, &self.rhs, own, &mut self.point);
            self.stats.pivots += lp.stats.pivots - before;
            self.stats.columns = lp.len();
            self.stats.lp_time += clock.elapsed();
            let clock = Instant::now();
            match answer {
                HeadAnswer::Feasible if grown && !base_for_point => {
                    base_for_point = true;
                    grown = false;
                }
                HeadAnswer::Feasible => {
                    let cert = Certificate::Reject(reject_point(
                        lp.tokens(),
                        &self.point,
                        token,
                        q,
                        kappa,
                    ));
                    let verdict = problem.check(cert);
                    self.stats.verify_time += clock.elapsed();
                    return match verdict {
                        Ok(verified) => {
                            self.stats.points += 1;
                            self.last_was_point = true;
                            Some(Answer::Verified(verified))
                        }
                        Err(_) => {
                            self.stats.refused += 1;
                            None
                        }
                    };
                }
                // The grown head has a point the base has not: take the grown one's.
                HeadAnswer::Infeasible if base_for_point => grown = true,
                HeadAnswer::Infeasible => {
                    let y = lp.farkas().to_vec();
                    let cert = Certificate::Keep(KeepCertificate { y: y.clone() });
                    let verified = problem.check_shared(cert).ok();
                    self.stats.verify_time += clock.elapsed();
                    if let Some(verified) = verified.filter(|v| !v.covered().is_empty()) {
                        self.stats.duals += 1;
                        let k = self.duals.len() as u32;
                        for &j in verified.covered() {
                            if self.cover[j as usize] == NONE {
                                self.cover[j as usize] = k;
                            }
                        }
                        self.duals.push(KeepCertificate { y: y.clone() });
                        if verified.settles(token) {
                            self.last_dual = Some(verified.clone());
                            self.last_was_point = false;
                            return Some(Answer::Verified(verified));
                        }
                        self.last_dual = Some(verified);
                    }
                    self.stats.misses += 1;
                    self.ensure_head(step, basis, true);
                    if !self.grow(step, basis, token, &y) {
                        return None;
                    }
                    grown = true;
                }
                HeadAnswer::Stalled => return None,
            }
        }
        None
    }

    /// A point with every token of `tokens` at zero (a shared rejection, METHOD.md), from the
    /// base head with the set's own head columns fixed at zero, or `None`. Not verified here:
    /// the ledger checks it on receipt, and a set the base cannot zero proves nothing (the
    /// caller splits it).
    pub(crate) fn solve_set(
        &mut self,
        step: &Step,
        basis: &Basis,
        tokens: &[u32],
        deadline: Option<Instant>,
    ) -> Option<RejectCertificate> {
        self.prepare(step, basis);
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        self.stats.sets += 1;
        let clock = Instant::now();
        let (q, kappa, m) = (step.q(), step.kappa(), basis.dim());
        self.ensure_head(step, basis, false);
        self.rhs.fill(0.0);
        for &j in tokens {
            let qj = q[j as usize];
            for (x, &b) in self.rhs.iter_mut().zip(basis.token_row(j as usize)) {
                *x += qj * f64::from(b);
            }
            self.rhs[m] += qj;
        }
        let lp = self.base.as_mut().expect("built by ensure_head");
        let mut saved = Vec::new();
        for &j in tokens {
            let p = self.position[j as usize] as usize;
            if p < lp.len() {
                saved.push((p, lp.bounds(p)));
                lp.set_bounds(p, 0.0, 0.0);
            }
        }
        let before = lp.stats.pivots;
        let answer = lp.solve(&self.rhs);
        if answer == HeadAnswer::Feasible {
            lp.point(&mut self.point);
        }
        for &(p, (lower, upper)) in saved.iter().rev() {
            lp.set_bounds(p, lower, upper);
        }
        self.stats.pivots += lp.stats.pivots - before;
        self.stats.lp_time += clock.elapsed();
        if answer != HeadAnswer::Feasible {
            return None;
        }
        self.stats.set_points += 1;
        let mut zeroed = tokens.to_vec();
        zeroed.sort_unstable();
        let mut changes: Vec<(u32, f64)> = lp
            .tokens()
            .iter()
            .zip(&self.point)
            .filter(|(&j, &dj)| dj != 0.0 && zeroed.binary_search(&j).is_err())
            .map(|(&j, &dj)| {
                let qj = q[j as usize];
                (j, dj.clamp(-qj, kappa * qj))
            })
            .chain(zeroed.iter().map(|&j| (j, -q[j as usize])))
            .collect();
        changes.sort_unstable_by_key(|c| c.0);
        changes.dedup_by_key(|c| c.0);
        self.last_was_point = true;
        Some(RejectCertificate { changes })
    }

    /// Adds to the head the [`GROW`] tokens outside it that `y` prices worst (largest
    /// `q_j g(s_j)`, `s = A^T y`); false when none is left to add or the head is full.
    fn grow(&mut self, step: &Step, basis: &Basis, token: u32, y: &[f64]) -> bool {
        let (q, kappa, m) = (step.q(), step.kappa(), basis.dim());
        let (Some(lp), Some(base)) = (self.grown.as_mut(), self.base.as_ref()) else {
            return false;
        };
        // A full grown head starts again from the base: the columns earlier tokens priced in
        // may not be the ones this token needs, and the head's size bounds the memory and every
        // pivot's cost.
        if lp.len() + self.sizes.grow > self.sizes.max_columns {
            for &j in &lp.tokens()[base.len()..] {
                self.position[j as usize] = NONE;
            }
            lp.clone_from(base);
            self.stats.resets += 1;
        }
        self.s.resize(step.vocab(), 0.0);
        basis.dots(&y[..m], &mut self.s);
        let room = self.sizes.max_columns.saturating_sub(lp.len());
        let (s, position) = (&self.s, &self.position);
        let k = largest_scores(q.len(), self.sizes.grow.min(room), &mut self.scores, |j| {
            if position[j] != NONE || q[j] == 0.0 || j == token as usize {
                return 0.0;
            }
            let sj = s[j] + y[m];
            q[j] * if sj > 0.0 { kappa * sj } else { -sj }
        });
        if k == 0 {
            return false;
        }
        for &(_, j) in &self.scores[..k] {
            column(basis, j, &mut self.a);
            let qj = q[j as usize];
            self.position[j as usize] = lp.len() as u32;
            lp.add_column(j, &self.a, -qj, kappa * qj);
        }
        true
    }
}

#[cfg(test)]
#[allow(dead_code)]
#[path = "../../tests/common/oracle.rs"]
mod oracle;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Rule;
    use crate::verify;
    use crate::MatrixView;
    use rand::{RngExt, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    use super::oracle::min_mass;

    /// Heads far smaller than the vocabulary, so that column generation, the grown head's
    /// restart and set points all run: every certificate is one the verifier accepts and the
    /// oracle agrees with, and most tokens are decided.
    #[test]
    fn small_heads_decide_as_the_oracle() {
        let (vocab, dim) = (120, 24);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let b: Vec<f32> = (0..vocab * dim)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        let h: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.5f32..1.5)).collect();
        let logits: Vec<f32> = b
            .chunks_exact(dim)
            .map(|row| row.iter().zip(&h).map(|(x, y)| x * y).sum())
            .collect();
        let basis = Basis::explicit(MatrixView::new(&b, vocab, dim).unwrap()).unwrap();
        let step = Step::new(&logits, &Rule::Eta(0.05)).unwrap();
        let mut engine = FullEngine {
            sizes: Sizes {
                head: 30,
                grow: 15,
                max_columns: 75,
            },
            ..FullEngine::default()
        };
        let below = step.below_threshold().to_vec();
        let (mut decided, mut keeps) = (0, 0);
        for &t in &below {
            let problem = TokenProblem {
                step: &step,
                basis: &basis,
                token: t,
            };
            let Some(answer) = engine.solve(&problem, None) else {
                continue;
            };
            if let Answer::Verified(verified) = &answer {
                assert!(verified.settles(t));
            }
            let cert = answer.into_certificate();
            assert!(verify::check(&step, &basis, t, &cert).is_ok());
            let relative = min_mass(&step, &basis, t as usize) / step.q()[t as usize];
            let keep = matches!(cert, Certificate::Keep(_));
            if relative.abs() > 1e-6 {
                assert_eq!(keep, relative > 0.0, "token {t}: min p/q = {relative:e}");
            }
            decided += 1;
            keeps += usize::from(keep);
        }
        let stats = engine.stats;
        assert!(
            decided * 10 >= below.len() * 9,
            "{decided} of {} {stats:?}",
            below.len()
        );
        assert!(keeps > 0 && keeps < decided, "{keeps} keeps of {decided}");
        assert!(
            stats.misses > 0 && stats.resets > 0 && stats.pooled > 0,
            "{stats:?}"
        );
        // A set point zeroes the least probable tokens at once; each zeroed token is one the
        // oracle rejects.
        let set: Vec<u32> = below.iter().rev().take(6).copied().collect();
        let cert = engine
            .solve_set(&step, &basis, &set, None)
            .expect("the tail's least probable tokens go together");
        let zeroed = verify::rejected_by(&step, &basis, &cert).unwrap();
        assert!(set.iter().all(|t| zeroed.contains(t)));
        for &t in &zeroed {
            assert!(min_mass(&step, &basis, t as usize) <= 1e-6 * step.q()[t as usize]);
        }
    }
}

//! The band: the tokens the bulk certificate leaves, near the boundary of the step's zonotope.
//! Each is asked one question of the same head LP ([`crate::engine::head_lp`]): is
//! `sigma q_i a_i` in `sum_{j in H} [-q_j, kappa q_j] a_j`? Only the right-hand side changes
//! from token to token, so the dual simplex goes on from the last token's basis. A point becomes
//! a sparse reject certificate (changes on the head and the token only, verified in `O(h m)`);
//! a Farkas vector is a keep candidate for the whole vocabulary, verified by the ledger, which
//! settles every token it keeps. When it does not keep the token, the columns it prices worst
//! join the head (column generation, shared by the rest of the band) and the token is asked
//! again. What no round settles goes on to the next reduction.

use super::{Reduction, Workspace};
use crate::certificate::{Certificate, KeepCertificate, RejectCertificate};
use crate::basis::Basis;
use crate::engine::head_lp::{HeadAnswer, HeadLp, HeadStats};

/// Head sizes of the persistent LPs, tried in turn (issue 15: 64 to 88% of band rejects need
/// only the top 250 absorbers). Each keeps its own basis from token to token.
pub const BAND_TIERS: [usize; 3] = [256, 1024, 4096];

/// Columns added to a copy of the largest tier when a Farkas vector fails over the vocabulary:
/// the ones with the largest `q_j g(s_j)`.
pub const BAND_GROW: usize = 256;

/// Column-generation rounds per token beyond the tiers before it is left to the next reduction.
const ROUNDS: usize = 8;

/// What the band reduction did on its last step, for reports and benches.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BandReport {
    /// Tokens it was handed that were still open when their turn came.
    pub asked: usize,
    /// Reject points verified, by the tier that found them (the last entry: grown heads).
    pub points: [usize; 4],
    /// Keep duals verified, by tier as for `points`.
    pub duals: [usize; 4],
    /// Certificates the ledger refused.
    pub refused: usize,
    /// Farkas vectors the largest tier's columns already showed could not keep their token.
    pub screened: usize,
    /// Farkas vectors that passed the screen but did not keep their own token over the
    /// vocabulary.
    pub misses: usize,
    /// Largest grown head.
    pub grown_max: usize,
    /// The LPs' work.
    pub lp: HeadStats,
    /// Tokens left open.
    pub left: usize,
    /// Time in the LPs.
    pub lp_time: std::time::Duration,
    /// Time in the ledger's verification of submitted certificates.
    pub verify_time: std::time::Duration,
    /// Time pricing columns over the vocabulary.
    pub price_time: std::time::Duration,
}

/// Head-LP points and Farkas duals for the pending tokens, most probable first.
#[derive(Debug, Clone, Copy)]
pub struct BandLp {
    /// Columns added per failed Farkas vector.
    pub grow: usize,
    /// What the last step did.
    pub report: BandReport,
}

impl Default for BandLp {
    fn default() -> Self {
        Self {
            grow: BAND_GROW,
            report: BandReport::default(),
        }
    }
}

/// Token `j`'s column `a_j = (b_j, 1)` in f64.
fn column(basis: &Basis, j: u32, a: &mut [f64]) {
    let m = basis.dim();
    for (x, &b) in a.iter_mut().zip(basis.row(j as usize)) {
        *x = f64::from(b);
    }
    a[m] = 1.0;
}

impl Reduction for BandLp {
    fn name(&self) -> &'static str {
        "band-lp"
    }

    fn reduce(&mut self, work: &mut Workspace<'_, '_>, pending: &[u32]) {
        self.report = BandReport::default();
        let (step, basis) = (work.step(), work.basis());
        let (q, sigma, kappa) = (step.q(), step.sigma(), step.kappa());
        let m = basis.dim();
        let r = m + 1;
        let order = step.most_probable(BAND_TIERS[BAND_TIERS.len() - 1]);
        let mut a = vec![0.0; r];
        // The largest tier's columns, row-major, for the screen.
        let mut head_cols = vec![0.0; order.len() * r];
        for (&j, col) in order.iter().zip(head_cols.chunks_exact_mut(r)) {
            column(basis, j, col);
        }
        let mut tiers: Vec<HeadLp> = Vec::new();
        for &size in &BAND_TIERS {
            let size = size.min(order.len());
            if tiers.last().is_some_and(|t| t.len() >= size) {
                break;
            }
            let mut lp = HeadLp::new(r);
            for (&j, col) in order[..size].iter().zip(head_cols.chunks_exact(r)) {
                let qj = q[j as usize];
                lp.add_column(j, col, -qj, kappa * qj);
            }
            tiers.push(lp);
        }
        let mut in_head = vec![false; step.vocab()];
        for &j in &order {
            in_head[j as usize] = true;
        }
        let mut rhs = vec![0.0; r];
        let mut point = Vec::new();
        let mut s = Vec::new();
        let mut scores: Vec<(f64, u32)> = Vec::new();
        let mut grown: Option<HeadLp> = None;
        let mut added: Vec<u32> = Vec::new();
        let grown_slot = self.report.points.len() - 1;
        for &t in pending {
            if work.is_settled(t) {
                continue;
            }
            self.report.asked += 1;
            let ti = t as usize;
            column(basis, t, &mut rhs);
            rhs.iter_mut().for_each(|x| *x *= sigma * q[ti]);
            let mut settled = false;
            let mut full_miss = None;
            for (k, lp) in tiers.iter_mut().enumerate() {
                let clock = std::time::Instant::now();
                let answer = lp.solve(&rhs);
                self.report.lp_time += clock.elapsed();
                match answer {
                    HeadAnswer::Feasible => {
                        lp.point(&mut point);
                        let cert = reject_point(lp.tokens(), &point, t, q, sigma, kappa);
                        let clock = std::time::Instant::now();
                        let ok = work.submit_shared(Certificate::Reject(cert));
                        self.report.verify_time += clock.elapsed();
                        if ok {
                            self.report.points[k] += 1;
                        } else {
                            self.report.refused += 1;
                        }
                        settled = true;
                        break;
                    }
                    HeadAnswer::Infeasible => {
                        let y = lp.farkas();
                        if !screen(y, &head_cols, &order, q, sigma * q[ti], &rhs, kappa) {
                            self.report.screened += 1;
                            continue;
                        }
                        let y = y.to_vec();
                        let clock = std::time::Instant::now();
                        let cert = Certificate::Keep(KeepCertificate { y: y.clone() });
                        let ok = work.submit_shared(cert);
                        self.report.verify_time += clock.elapsed();
                        if ok {
                            self.report.duals[k] += 1;
                        } else {
                            self.report.refused += 1;
                        }
                        if work.is_settled(t) {
                            settled = true;
                            break;
                        }
                        self.report.misses += 1;
                        full_miss = Some(y);
                        break;
                    }
                    HeadAnswer::Stalled => {}
                }
            }
            if settled || work.is_settled(t) {
                continue;
            }
            // Column generation on a copy of the largest tier.
            let base = tiers.last().expect("at least one tier");
            let lp = match &mut grown {
                Some(g) => {
                    g.clone_from(base);
                    g
                }
                None => grown.insert(base.clone()),
            };
            lp.stats = HeadStats::default();
            let mut y = match full_miss {
                Some(y) => Some(y),
                None => match lp.solve(&rhs) {
                    HeadAnswer::Infeasible => Some(lp.farkas().to_vec()),
                    _ => None,
                },
            };
            for _ in 0..ROUNDS {
                let Some(yv) = y.take() else { break };
                let clock = std::time::Instant::now();
                s.resize(step.vocab(), 0.0);
                basis.dots(&yv[..m], &mut s);
                scores.clear();
                for (j, (&sj, &qj)) in s.iter().zip(q).enumerate() {
                    if in_head[j] || qj == 0.0 {
                        continue;
                    }
                    let sj = sj + yv[m];
                    let g = qj * if sj > 0.0 { kappa * sj } else { -sj };
                    if g > 0.0 {
                        scores.push((g, j as u32));
                    }
                }
                if scores.is_empty() {
                    break;
                }
                let k = self.grow.min(scores.len());
                if k < scores.len() {
                    scores.select_nth_unstable_by(k - 1, |x, y| {
                        y.0.total_cmp(&x.0).then(x.1.cmp(&y.1))
                    });
                }
                scores[..k].sort_unstable_by_key(|x| x.1);
                for &(_, j) in &scores[..k] {
                    column(basis, j, &mut a);
                    let qj = q[j as usize];
                    lp.add_column(j, &a, -qj, kappa * qj);
                    in_head[j as usize] = true;
                    added.push(j);
                }
                self.report.price_time += clock.elapsed();
                let clock = std::time::Instant::now();
                let answer = lp.solve(&rhs);
                self.report.lp_time += clock.elapsed();
                match answer {
                    HeadAnswer::Feasible => {
                        lp.point(&mut point);
                        let cert = reject_point(lp.tokens(), &point, t, q, sigma, kappa);
                        if work.submit_shared(Certificate::Reject(cert)) {
                            self.report.points[grown_slot] += 1;
                        } else {
                            self.report.refused += 1;
                        }
                    }
                    HeadAnswer::Infeasible => {
                        let yv = lp.farkas().to_vec();
                        let cert = Certificate::Keep(KeepCertificate { y: yv.clone() });
                        if work.submit_shared(cert) {
                            self.report.duals[grown_slot] += 1;
                        } else {
                            self.report.refused += 1;
                        }
                        if !work.is_settled(t) {
                            self.report.misses += 1;
                            y = Some(yv);
                        }
                    }
                    HeadAnswer::Stalled => {}
                }
                if work.is_settled(t) {
                    break;
                }
            }
            self.report.grown_max = self.report.grown_max.max(lp.len());
            add_stats(&mut self.report.lp, &lp.stats);
            for &j in &added {
                in_head[j as usize] = false;
            }
            added.clear();
            if !work.is_settled(t) {
                self.report.left += 1;
            }
        }
        for lp in &tiers {
            add_stats(&mut self.report.lp, &lp.stats);
        }
    }

    fn fresh(&self) -> Option<Box<dyn Reduction + Send>> {
        Some(Box::new(Self {
            report: BandReport::default(),
            ..*self
        }))
    }
}

/// Whether the Farkas vector `y` can still keep its token once the largest tier's columns are
/// counted: `y . rhs > sum_{j in head} q_j g(a_j . y)` (`rhs = sigma q_t a_t`). The tokens
/// outside the head only add to the right side, so a vector that fails here fails over the
/// vocabulary, and the next tier is tried without a pass over it. Not a proof of anything.
fn screen(
    y: &[f64],
    head_cols: &[f64],
    order: &[u32],
    q: &[f64],
    _scale: f64,
    rhs: &[f64],
    kappa: f64,
) -> bool {
    let r = y.len();
    let lhs: f64 = rhs.iter().zip(y).map(|(a, b)| a * b).sum();
    let mut total = 0.0;
    for (&j, col) in order.iter().zip(head_cols.chunks_exact(r)) {
        let sj: f64 = col.iter().zip(y).map(|(a, b)| a * b).sum();
        total += q[j as usize] * if sj > 0.0 { kappa * sj } else { -sj };
        if total >= lhs {
            return false;
        }
    }
    true
}

fn add_stats(total: &mut HeadStats, part: &HeadStats) {
    total.solves += part.solves;
    total.pivots += part.pivots;
    total.flips += part.flips;
    total.refactors += part.refactors;
}

/// The reject point of token `t` from a point `d` of the head zonotope representing
/// `sigma q_t a_t`: with `x_t = d_t / q_t` (zero when `t` is not in the head), `d_j / (sigma -
/// x_t)` for the other head tokens and `-q_t` for `t` (METHOD.md, "One body per step").
fn reject_point(
    tokens: &[u32],
    d: &[f64],
    t: u32,
    q: &[f64],
    sigma: f64,
    kappa: f64,
) -> RejectCertificate {
    let qt = q[t as usize];
    let x_t = tokens
        .iter()
        .zip(d)
        .find(|(&j, _)| j == t)
        .map_or(0.0, |(_, &dt)| dt / qt);
    let shrink = sigma - x_t;
    let mut changes: Vec<(u32, f64)> = tokens
        .iter()
        .zip(d)
        .filter(|(&j, &dj)| j != t && dj != 0.0)
        .map(|(&j, &dj)| {
            let qj = q[j as usize];
            (j, (dj / shrink).clamp(-qj, kappa * qj))
        })
        .collect();
    changes.push((t, -qt));
    changes.sort_unstable_by_key(|c| c.0);
    RejectCertificate { changes }
}


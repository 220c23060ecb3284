//! The bounded dual simplex: for a new right-hand side, bounds or columns (see the crate
//! documentation).

use nalgebra::{DMatrix, DVector};

use crate::dense::{basis_inverse, column, replace_basic, row_times_columns};
use crate::{Answer, BoxLp, Options, SimplexError, WarmStart};

/// Relative size below which a pivot-row entry is treated as zero.
const PIVOT_TOL: f64 = 1e-9;
/// Size of the random cost perturbation, relative to the largest cost (or to one).
const PERTURBATION: f64 = 1e-6;
/// Slack in the Harris ratio test, relative to the cost scale: far below the perturbation, so
/// the ratio test still tells the perturbed costs apart.
const HARRIS_TOL: f64 = 1e-12;

/// Breakpoints the ratio test's walk sorts first; each further run is twice the last.
const FIRST_RUN: usize = 8;

/// A ratio-test breakpoint: (ratio, Harris bound of this breakpoint, column, `|a_j|`).
type Breakpoint = (f64, f64, usize, f64);

/// Variables `0..n` are structural; `n + k` is the logical of row `k`, fixed at zero.
struct State<'a> {
    lp: BoxLp<'a>,
    n: usize,
    /// The caller's costs plus the perturbation.
    cost: Vec<f64>,
    /// Scale of the costs, for the relative tolerances.
    cost_scale: f64,
    basic: Vec<usize>,
    /// For structural nonbasic variables: whether they sit at their upper bound.
    at_upper: Vec<bool>,
    is_basic: Vec<bool>,
    inverse: DMatrix<f64>,
    /// `|row i of B^-1|^2`, the dual steepest-edge weights: exact after each factorisation,
    /// carried through each pivot's rank-one update.
    weights: Vec<f64>,
    x_basic: Vec<f64>,
    /// Reduced costs of the structural variables.
    reduced: Vec<f64>,
}

/// Solves the LP from the logical basis; see the crate documentation.
pub fn solve(lp: &BoxLp<'_>, options: &Options) -> Result<Answer, SimplexError> {
    solve_from(lp, options, None).map(|(answer, _)| answer)
}

/// Solves the LP from `warm` (or the logical basis), returning the final basis with the answer
/// so the next, similar LP can start from it.
pub fn solve_from(
    lp: &BoxLp<'_>,
    options: &Options,
    warm: Option<&WarmStart>,
) -> Result<(Answer, WarmStart), SimplexError> {
    lp.check()?;
    let (r, n) = (lp.rows, lp.cols);
    let mut state = State::start(lp, options.seed);
    if let Some(warm) = warm {
        state.install(warm);
    }
    let mut fresh = true;
    // A refactorisation costs O(r^3), a pivot O(r^2 + r n): refactoring at most every `r` pivots
    // keeps its amortised cost at about one pivot's (at r = 577 the explicit inverse took most
    // of the time when refreshed every 64 pivots: 4.0 s against 1.2 s every 256).
    let refactor_every = options.refactor_every.max(r);
    let started = std::time::Instant::now();
    for iteration in 0..options.max_iterations {
        if iteration % crate::TIME_CHECK_EVERY == 0 && started.elapsed() > options.time_limit {
            return Err(SimplexError::TimeLimit(options.time_limit));
        }
        if iteration % refactor_every == 0 && !fresh {
            state.refactor()?;
            fresh = true;
        }
        let Some((p, delta)) = state.leaving(options.feasibility_tol) else {
            if !fresh {
                // Confirm on a fresh factorisation before answering.
                state.refactor()?;
                fresh = true;
                if state.leaving(options.feasibility_tol).is_some() {
                    continue;
                }
            }
            let answer = Answer::Optimal {
                x: state.point(),
                duals: state.duals(lp.cost),
                iterations: iteration,
            };
            return Ok((answer, state.warm_start()));
        };
        let rho: Vec<f64> = state.inverse.row(p).iter().copied().collect();
        let mut alpha = vec![0.0; n];
        row_times_columns(lp, &rho, &state.is_basic[..n], &mut alpha);
        let Some((q, flips)) = state.entering(&alpha, delta, options.feasibility_tol) else {
            // No nonbasic variable can move x_Bp towards its bound: row p of B^-1 proves it.
            let sign = if delta < 0.0 { -1.0 } else { 1.0 };
            let answer = Answer::Infeasible {
                farkas: rho.iter().map(|v| sign * v).collect(),
                iterations: iteration,
            };
            return Ok((answer, state.warm_start()));
        };
        let remaining = state.flip(p, delta, &flips);
        state.pivot(p, q, remaining, delta > 0.0, &alpha)?;
        fresh = false;
    }
    Err(SimplexError::IterationLimit(options.max_iterations))
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl<'a> State<'a> {
    /// Logical basis; each structural at the bound its cost points to. The perturbation is
    /// negative, so variables without a cost of their own start at their upper bound, which on
    /// basis-aware's problems is the point `p = sigma q`, already close to feasible.
    fn start(lp: &BoxLp<'a>, seed: u64) -> Self {
        let (r, n) = (lp.rows, lp.cols);
        let cost_scale = lp.cost.iter().fold(1.0f64, |m, c| m.max(c.abs()));
        let cost: Vec<f64> = lp
            .cost
            .iter()
            .enumerate()
            .map(|(j, &c)| {
                let name = lp.names.map_or(j as u64, |names| u64::from(names[j]));
                let u = (mix(seed ^ name) >> 11) as f64 / (1u64 << 53) as f64;
                c - PERTURBATION * cost_scale * (1.0 + u)
            })
            .collect();
        let mut state = Self {
            lp: *lp,
            n,
            reduced: cost.clone(),
            at_upper: cost.iter().map(|&c| c < 0.0).collect(),
            cost,
            cost_scale,
            basic: (n..n + r).collect(),
            is_basic: vec![false; n + r],
            inverse: DMatrix::identity(r, r),
            weights: vec![1.0; r],
            x_basic: vec![0.0; r],
        };
        for k in 0..r {
            state.is_basic[n + k] = true;
        }
        state.recompute_primal();
        state
    }

    /// Replaces the logical basis by `warm` when it is a valid, nonsingular basis of this LP.
    fn install(&mut self, warm: &WarmStart) {
        let (r, n) = (self.lp.rows, self.n);
        if warm.basic.len() != r {
            return;
        }
        let basic: Vec<usize> = warm
            .basic
            .iter()
            .enumerate()
            .map(|(k, v)| v.unwrap_or(n + k))
            .collect();
        let mut is_basic = vec![false; n + r];
        for &v in &basic {
            if v >= n + r || is_basic[v] {
                return;
            }
            is_basic[v] = true;
        }
        let saved = (self.basic.clone(), self.is_basic.clone());
        self.basic = basic;
        self.is_basic = is_basic;
        if self.factor().is_err() {
            (self.basic, self.is_basic) = saved;
            return;
        }
        self.recompute_dual();
        for j in 0..n {
            if !self.is_basic[j] {
                self.at_upper[j] = self.reduced[j] < 0.0;
            }
        }
        self.recompute_primal();
    }

    /// The current basis, for [`solve_from`].
    fn warm_start(&self) -> WarmStart {
        WarmStart {
            basic: self
                .basic
                .iter()
                .map(|&v| (v < self.n).then_some(v))
                .collect(),
        }
    }

    fn upper(&self, var: usize) -> f64 {
        if var < self.n {
            self.lp.upper[var]
        } else {
            0.0
        }
    }

    fn nonbasic_value(&self, j: usize) -> f64 {
        if self.at_upper[j] {
            self.lp.upper[j]
        } else {
            0.0
        }
    }

    /// `x_B = B^-1 (b - N x_N)`.
    fn recompute_primal(&mut self) {
        let mut residual = self.lp.rhs.to_vec();
        for j in 0..self.n {
            if !self.is_basic[j] {
                let v = self.nonbasic_value(j);
                if v != 0.0 {
                    for (res, a) in residual.iter_mut().zip(column(&self.lp, j)) {
                        *res -= a * v;
                    }
                }
            }
        }
        self.x_basic = (&self.inverse * DVector::from_vec(residual)).data.into();
    }

    /// `y = B^-T c_B` for the costs `cost` of the structurals (logicals cost nothing).
    fn duals(&self, cost: &[f64]) -> Vec<f64> {
        let c_basic: Vec<f64> = self
            .basic
            .iter()
            .map(|&v| if v < self.n { cost[v] } else { 0.0 })
            .collect();
        self.inverse.tr_mul(&DVector::from_vec(c_basic)).data.into()
    }

    /// `d_j = c_j - y^T A_j` for the perturbed costs.
    fn recompute_dual(&mut self) {
        let y = self.duals(&self.cost);
        row_times_columns(&self.lp, &y, &self.is_basic[..self.n], &mut self.reduced);
        for ((d, &c), &basic) in self.reduced.iter_mut().zip(&self.cost).zip(&self.is_basic) {
            *d = if basic { 0.0 } else { c - *d };
        }
    }

    fn refactor(&mut self) -> Result<(), SimplexError> {
        self.factor()?;
        self.recompute_primal();
        self.recompute_dual();
        Ok(())
    }

    /// Recomputes the basis inverse from scratch.
    fn factor(&mut self) -> Result<(), SimplexError> {
        self.inverse = basis_inverse(&self.lp, &self.basic, self.n)?;
        self.weights = self
            .inverse
            .row_iter()
            .map(|row| row.norm_squared())
            .collect();
        Ok(())
    }

    /// The basic variable with the largest steepest-edge violation, and its violation `delta` (negative below the lower
    /// bound, positive above the upper).
    fn leaving(&self, tol: f64) -> Option<(usize, f64)> {
        let mut best: Option<(usize, f64, f64)> = None;
        for (i, &x) in self.x_basic.iter().enumerate() {
            let u = self.upper(self.basic[i]);
            let delta = if x < -tol {
                x
            } else if x > u + tol {
                x - u
            } else {
                continue;
            };
            // Dual steepest edge: the violation over the norm of row i of B^-1. Reading those
            // rows here (strided, every iteration) took a fifth of the time at 577 rows.
            let weight = self.weights[i].max(f64::MIN_POSITIVE);
            let score = delta * delta / weight;
            if best.is_none_or(|(_, _, b)| score > b) {
                best = Some((i, delta, score));
            }
        }
        best.map(|(i, delta, _)| (i, delta))
    }

    /// Bound-flipping dual ratio test with Harris tolerances: walks the breakpoints `d_j / a_j`
    /// of the eligible nonbasic structurals in increasing order. Passing a breakpoint flips that
    /// variable to its other bound and lowers the dual objective's slope (first the leaving
    /// row's infeasibility `|delta|`) by `|a_j| u_j`; the walk stops where the slope would turn
    /// negative, and the entering variable is chosen there by the Harris rule (largest `|a_j|`
    /// among the breakpoints within tolerance). Every variable here is boxed, so one pivot can
    /// pass many breakpoints that the textbook ratio test would take one pivot each.
    ///
    /// Returns the entering column and the columns to flip, or `None` when every breakpoint can
    /// be passed with more than `tol` of the violation left: then no point reaches the leaving
    /// row's bound (a Farkas ray).
    fn entering(&self, alpha: &[f64], delta: f64, tol: f64) -> Option<(usize, Vec<usize>)> {
        let scale = alpha.iter().fold(0.0f64, |m, a| m.max(a.abs()));
        if scale == 0.0 {
            return None;
        }
        let tiny = PIVOT_TOL * scale;
        let sign = if delta < 0.0 { -1.0 } else { 1.0 };
        let mut breakpoints: Vec<Breakpoint> = Vec::new();
        for (j, &alpha_j) in alpha.iter().enumerate().take(self.n) {
            if self.is_basic[j] || self.lp.upper[j] == 0.0 {
                continue;
            }
            let a = sign * alpha_j;
            let ok = if self.at_upper[j] {
                a < -tiny
            } else {
                a > tiny
            };
            if ok {
                let tol = HARRIS_TOL * self.cost_scale * a.signum();
                breakpoints.push((self.reduced[j] / a, (self.reduced[j] + tol) / a, j, a.abs()));
            }
        }
        // Increasing ratio, ties to the lower index. The walk takes the breakpoints in sorted
        // runs, the next `run` smallest selected (`O(n)`) and sorted, `run` doubling, so a walk
        // past `w` breakpoints costs `O(n log w)` rather than a full sort: most pass a few.
        let earlier = |x: &Breakpoint, y: &Breakpoint| x.0.total_cmp(&y.0).then(x.2.cmp(&y.2));
        let n = breakpoints.len();
        let (mut sorted_to, mut run) = (0, FIRST_RUN);
        let mut slope = delta.abs();
        let mut passed = 0;
        while passed < n {
            if passed == sorted_to {
                let rest = &mut breakpoints[passed..];
                let take = run.min(rest.len());
                if take < rest.len() {
                    rest.select_nth_unstable_by(take - 1, earlier);
                }
                rest[..take].sort_unstable_by(earlier);
                sorted_to = passed + take;
                run *= 2;
            }
            let (_, _, j, a) = breakpoints[passed];
            let after = slope - a * self.lp.upper[j];
            // Within the feasibility tolerance of zero counts as reaching the bound: a point
            // feasible only up to rounding (the right-hand side made from a vertex) must not be
            // called infeasible because the last flip left 1e-17 of the violation.
            if after <= tol {
                break;
            }
            slope = after;
            passed += 1;
        }
        if passed == breakpoints.len() {
            return None;
        }
        // Harris: among the breakpoints from `passed` on whose ratio stays within the smallest
        // tolerant bound, the largest |a_j| enters (ties to the earliest in the walk's order);
        // the ones before it are flipped.
        let rest = &breakpoints[passed..];
        let bound = rest.iter().map(|b| b.1).fold(f64::INFINITY, f64::min);
        let mut best = &rest[0];
        for b in rest.iter().filter(|b| b.0 <= bound) {
            if b.3 > best.3 || (b.3 == best.3 && earlier(b, best).is_lt()) {
                best = b;
            }
        }
        let entering = best.2;
        let flips = breakpoints[..passed].iter().map(|b| b.2).collect();
        Some((entering, flips))
    }

    /// Moves every column of `flips` to its other bound and the basic variables with them
    /// (`x_B -= B^-1 sum_j A_j dx_j`); returns the leaving row's remaining infeasibility, on the
    /// side of `delta` (the ratio test stopped before it could change sign; rounding may leave
    /// it at zero, never across).
    fn flip(&mut self, p: usize, delta: f64, flips: &[usize]) -> f64 {
        if !flips.is_empty() {
            let mut shift = vec![0.0; self.lp.rows];
            for &j in flips {
                let step = if self.at_upper[j] {
                    -self.lp.upper[j]
                } else {
                    self.lp.upper[j]
                };
                self.at_upper[j] = !self.at_upper[j];
                for (s, a) in shift.iter_mut().zip(column(&self.lp, j)) {
                    *s += a * step;
                }
            }
            let moved = &self.inverse * DVector::from_vec(shift);
            for (x, m) in self.x_basic.iter_mut().zip(moved.iter()) {
                *x -= m;
            }
        }
        let (x, u) = (self.x_basic[p], self.upper(self.basic[p]));
        if delta < 0.0 {
            x.min(0.0)
        } else {
            (x - u).max(0.0)
        }
    }

    /// Pivots `q` into row `p`, whose variable moves by `delta` to its bound and leaves there
    /// (its upper bound when `to_upper`).
    fn pivot(
        &mut self,
        p: usize,
        q: usize,
        delta: f64,
        to_upper: bool,
        alpha: &[f64],
    ) -> Result<(), SimplexError> {
        let col_q = column(&self.lp, q);
        let alpha_q = &self.inverse * DVector::from_column_slice(col_q);
        let pivot = alpha_q[p];
        if pivot.abs() < 1e-300 {
            return Err(SimplexError::Singular);
        }
        // Dual step.
        let theta_d = self.reduced[q] / alpha[q];
        for ((d, &a), &basic) in self.reduced.iter_mut().zip(alpha).zip(&self.is_basic) {
            if !basic {
                *d -= theta_d * a;
            }
        }
        // Primal step: x_Bp reaches its violated bound.
        let theta_p = delta / pivot;
        for (x, a) in self.x_basic.iter_mut().zip(alpha_q.iter()) {
            *x -= theta_p * a;
        }
        let entering_value = self.nonbasic_value(q) + theta_p;
        let leaving = self.basic[p];
        if leaving < self.n {
            self.at_upper[leaving] = to_upper;
            self.reduced[leaving] = -theta_d;
        }
        self.is_basic[leaving] = false;
        self.is_basic[q] = true;
        self.basic[p] = q;
        self.x_basic[p] = entering_value;
        self.reduced[q] = 0.0;
        // Product-form update of the inverse: row i loses `f_i` times the new pivot row `r`, so
        // its squared norm becomes `w_i - 2 f_i (row_i . r) + f_i^2 |r|^2`.
        let pivot_row = self.inverse.row(p).transpose() / pivot;
        let overlaps = &self.inverse * &pivot_row;
        let pivot_norm = pivot_row.norm_squared();
        for (i, (w, &o)) in self.weights.iter_mut().zip(overlaps.iter()).enumerate() {
            let f = if i == p { 0.0 } else { alpha_q[i] };
            *w += f * (f * pivot_norm - 2.0 * o);
        }
        self.weights[p] = pivot_norm;
        replace_basic(&mut self.inverse, alpha_q, p);
        Ok(())
    }

    /// The structural point, bounds enforced exactly.
    fn point(&self) -> Vec<f64> {
        let mut x: Vec<f64> = (0..self.n)
            .map(|j| {
                if self.is_basic[j] {
                    0.0
                } else {
                    self.nonbasic_value(j)
                }
            })
            .collect();
        for (i, &v) in self.basic.iter().enumerate() {
            if v < self.n {
                x[v] = self.x_basic[i].clamp(0.0, self.lp.upper[v]);
            }
        }
        x
    }
}

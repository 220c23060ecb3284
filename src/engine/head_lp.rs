//! The head LP of a step: is `sigma q_i a_i` in the zonotope of the head absorbers,
//! `Z_H = sum_{j in H} [-q_j, kappa q_j] a_j` (`a_j = (b_j, 1)`)? That is
//!
//! ```text
//! find d_H   with   sum_{j in H} d_j a_j = sigma q_i a_i,   -q_j <= d_j <= kappa q_j,
//! ```
//!
//! the same matrix and bounds for every token of the step; only the right-hand side changes. So
//! one bounded dual simplex is kept from token to token: after a right-hand-side change the old
//! basis is still dual feasible (reduced costs do not depend on it), and re-optimising takes a
//! few pivots. A feasible basis gives a point of `Z_H`, hence a reject point for the token
//! (METHOD.md, "One body per step"); an infeasible one a Farkas row `y` of the basis inverse with
//! `y . sigma q_i a_i > sum_{j in H} q_j g(a_j . y)`, a keep candidate for the whole vocabulary.
//! Columns can be added at any time (column generation): a new column enters nonbasic at the
//! bound its reduced cost points to, so the basis stays dual feasible.
//!
//! Dense and small: `r = m + 1` rows (21 for the top-20 basis), `n` head columns (hundreds to
//! thousands). The basis inverse is explicit (`r x r`), updated in product form and recomputed
//! every [`REFACTOR_EVERY`] pivots; every buffer is sized when a column is added, so solving a
//! token allocates nothing.

/// Pivots between recomputations of the basis inverse, the reduced costs and `N x_N`.
pub const REFACTOR_EVERY: usize = 50;

/// Bases with at least this many rows are inverted by faer (as in the simplex crate, where faer
/// took 25.6 ms against 182 ms for Gauss-Jordan-like nalgebra at 577 rows, and lost below 48).
const FAER_FROM_ROWS: usize = 48;

/// Relative size below which a pivot-row entry is treated as zero.
const PIVOT_TOL: f64 = 1e-9;

/// Size of the cost perturbation: the LP is a feasibility problem (zero costs), whose dual is
/// completely degenerate; small distinct costs make the ratio test well defined and rule out
/// cycling. It never changes which right-hand sides are feasible.
const PERTURBATION: f64 = 1e-6;

/// Slack of the Harris ratio test, below the perturbation so that it still tells costs apart.
const HARRIS_TOL: f64 = 1e-12;

/// Breakpoints the ratio test selects one at a time before it sorts them in runs: most solves
/// pass a few, and the flips of a long walk made the selection quadratic.
const LAZY_BREAKPOINTS: usize = 8;

/// A basic variable may violate its bound by this much times the right-hand side's scale and be
/// called feasible; the point is clamped to the box and polished, and the verifier checks it.
const FEASIBILITY_TOL: f64 = 1e-12;

/// Absolute part of the feasibility tolerance, relative to the largest `|a_j|_inf |bound_j|`.
const ROUNDING_TOL: f64 = 1e-14;

/// Marks a logical variable (the zero-fixed slack of a row) in [`HeadLp::basic`].
const LOGICAL: usize = 1 << 62;

/// The answer for one right-hand side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadAnswer {
    /// A point of the box with `A_H d = rhs` (up to rounding): read it with [`HeadLp::point`].
    Feasible,
    /// No point: the Farkas vector is in [`HeadLp::farkas`].
    Infeasible,
    /// The pivot limit was reached or the basis became singular: nothing is proven.
    Stalled,
}

/// Work done, for the reductions' reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeadStats {
    /// Right-hand sides solved.
    pub solves: usize,
    /// Pivots over all solves.
    pub pivots: usize,
    /// Bound flips over all solves.
    pub flips: usize,
    /// Recomputations of the basis inverse.
    pub refactors: usize,
}

/// One step's head LP and its dual simplex state; see the module documentation.
#[derive(Debug)]
pub struct HeadLp {
    rows: usize,
    /// Column `j` is `cols[j * rows..(j + 1) * rows]`, `a_j` in f64.
    cols: Vec<f64>,
    /// The same matrix by rows, row `k` at `by_row[k * stride..]`: the pivot row is a
    /// combination of these rows, whose inner loop fills the SIMD lanes.
    by_row: Vec<f64>,
    stride: usize,
    tokens: Vec<u32>,
    lower: Vec<f64>,
    upper: Vec<f64>,
    cost: Vec<f64>,
    reduced: Vec<f64>,
    is_basic: Vec<bool>,
    at_upper: Vec<bool>,
    /// Row `k`'s basic variable: a column index, or `LOGICAL + k'` for row `k'`'s slack.
    basic: Vec<usize>,
    /// `B^-1`, row-major `rows x rows`.
    inverse: Vec<f64>,
    /// `sum_{j nonbasic} a_j d_j`.
    nonbasic_sum: Vec<f64>,
    x_basic: Vec<f64>,
    rhs: Vec<f64>,
    farkas: Vec<f64>,
    /// Scratch: the pivot row `rho^T A_N`, the entering column `B^-1 a_q`, breakpoints.
    alpha: Vec<f64>,
    column: Vec<f64>,
    breakpoints: Vec<(f64, f64, u32, f64)>,
    flips: Vec<u32>,
    /// Scratch for factorisation: `rows x 2 rows`.
    factor: Vec<f64>,
    since_refactor: usize,
    /// `y = B^-T c_B` for the current basis when `duals_fresh`: prices an added column in
    /// `O(rows)` (a grown head adds thousands).
    duals: Vec<f64>,
    duals_fresh: bool,
    /// Largest `|a_j|_inf max(-lower_j, upper_j)`: the scale of `N x_N`.
    box_scale: f64,
    /// Pivots allowed per solve.
    pub max_pivots: usize,
    /// Work done so far.
    pub stats: HeadStats,
}

/// By hand so that `clone_from` reuses the buffers: a grown head is copied from the largest
/// tier for every token that needs one.
impl Clone for HeadLp {
    fn clone(&self) -> Self {
        Self {
            rows: self.rows,
            cols: self.cols.clone(),
            by_row: self.by_row.clone(),
            stride: self.stride,
            tokens: self.tokens.clone(),
            lower: self.lower.clone(),
            upper: self.upper.clone(),
            cost: self.cost.clone(),
            reduced: self.reduced.clone(),
            is_basic: self.is_basic.clone(),
            at_upper: self.at_upper.clone(),
            basic: self.basic.clone(),
            inverse: self.inverse.clone(),
            nonbasic_sum: self.nonbasic_sum.clone(),
            x_basic: self.x_basic.clone(),
            rhs: self.rhs.clone(),
            farkas: self.farkas.clone(),
            alpha: self.alpha.clone(),
            column: self.column.clone(),
            breakpoints: self.breakpoints.clone(),
            flips: self.flips.clone(),
            factor: self.factor.clone(),
            since_refactor: self.since_refactor,
            duals: self.duals.clone(),
            duals_fresh: self.duals_fresh,
            box_scale: self.box_scale,
            max_pivots: self.max_pivots,
            stats: self.stats,
        }
    }

    fn clone_from(&mut self, source: &Self) {
        let same_rows = self.rows == source.rows;
        self.rows = source.rows;
        self.cols.clone_from(&source.cols);
        // A copy keeps its own stride when it is wide enough: a grown copy made from the head
        // for every token then widens its row-major matrix once, not once per token.
        let n = source.len();
        if !same_rows || self.stride < source.stride {
            self.by_row.clone_from(&source.by_row);
            self.stride = source.stride;
        } else {
            for k in 0..source.rows {
                self.by_row[k * self.stride..k * self.stride + n]
                    .copy_from_slice(&source.by_row[k * source.stride..k * source.stride + n]);
            }
        }
        self.tokens.clone_from(&source.tokens);
        self.lower.clone_from(&source.lower);
        self.upper.clone_from(&source.upper);
        self.cost.clone_from(&source.cost);
        self.reduced.clone_from(&source.reduced);
        self.is_basic.clone_from(&source.is_basic);
        self.at_upper.clone_from(&source.at_upper);
        self.basic.clone_from(&source.basic);
        self.inverse.clone_from(&source.inverse);
        self.nonbasic_sum.clone_from(&source.nonbasic_sum);
        self.x_basic.clone_from(&source.x_basic);
        self.rhs.clone_from(&source.rhs);
        self.farkas.clone_from(&source.farkas);
        self.alpha.clone_from(&source.alpha);
        self.column.clone_from(&source.column);
        self.breakpoints.clone_from(&source.breakpoints);
        self.flips.clone_from(&source.flips);
        self.factor.clone_from(&source.factor);
        self.since_refactor = source.since_refactor;
        self.duals.clone_from(&source.duals);
        self.duals_fresh = source.duals_fresh;
        self.box_scale = source.box_scale;
        self.max_pivots = source.max_pivots;
        self.stats = source.stats;
    }
}

impl HeadLp {
    /// An LP with `rows` rows and no columns, from the all-logical basis.
    pub fn new(rows: usize) -> Self {
        let mut inverse = vec![0.0; rows * rows];
        for k in 0..rows {
            inverse[k * rows + k] = 1.0;
        }
        Self {
            rows,
            cols: Vec::new(),
            by_row: Vec::new(),
            stride: 0,
            tokens: Vec::new(),
            lower: Vec::new(),
            upper: Vec::new(),
            cost: Vec::new(),
            reduced: Vec::new(),
            is_basic: Vec::new(),
            at_upper: Vec::new(),
            basic: (0..rows).map(|k| LOGICAL + k).collect(),
            inverse,
            nonbasic_sum: vec![0.0; rows],
            x_basic: vec![0.0; rows],
            rhs: vec![0.0; rows],
            farkas: vec![0.0; rows],
            alpha: Vec::new(),
            column: vec![0.0; rows],
            breakpoints: Vec::new(),
            flips: Vec::new(),
            factor: vec![0.0; 2 * rows * rows],
            since_refactor: 0,
            duals: Vec::new(),
            duals_fresh: false,
            box_scale: 0.0,
            max_pivots: 2000,
            stats: HeadStats::default(),
        }
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// The token of each column, in order of addition.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Adds a column `a` (length `rows`) with box `[lower, upper]` (`lower <= 0 <= upper`) for
    /// `token`. It enters nonbasic at the bound its reduced cost points to, so the current basis
    /// stays dual feasible.
    pub fn add_column(&mut self, token: u32, a: &[f64], lower: f64, upper: f64) {
        debug_assert_eq!(a.len(), self.rows);
        self.add_columns(&[token], a, &[lower], &[upper]);
    }

    /// The bookkeeping of a column whose entries are already stored: its bounds, cost, reduced
    /// cost and starting bound.
    fn push_bounds(&mut self, token: u32, a: &[f64], lower: f64, upper: f64) {
        let size = a.iter().fold(0.0f64, |m, v| m.max(v.abs())) * upper.max(-lower);
        self.box_scale = self.box_scale.max(size);
        self.tokens.push(token);
        self.lower.push(lower);
        self.upper.push(upper);
        let u = (mix(u64::from(token)) >> 11) as f64 / (1u64 << 53) as f64;
        // Costs grow with the square root of the box width: on real steps this took 10 to 25%
        // fewer pivots per right-hand side than costs independent of the token (measured, in
        // pivots: 5,353 against 6,160 on a step's 858 band tokens; proportional to the width:
        // 5,666; zero costs cycle).
        let c = -PERTURBATION * (1.0 + 0.01 * u) * upper.max(-lower).sqrt();
        self.cost.push(c);
        // Reduced cost c_j - y^T a_j with y = B^-T c_B.
        if !self.duals_fresh {
            self.update_duals();
        }
        let d = c - dot(&self.duals, a);
        self.reduced.push(d);
        self.is_basic.push(false);
        let up = d < 0.0;
        self.at_upper.push(up);
        let v = if up { upper } else { lower };
        for (s, &ak) in self.nonbasic_sum.iter_mut().zip(a) {
            *s += ak * v;
        }
        self.alpha.push(0.0);
    }

    /// Adds the columns of the column-major `a` (`rows` entries each) for `tokens`, token `i`
    /// with box `[lower[i], upper[i]]`, as [`HeadLp::add_column`] would one by one, writing the
    /// row-major copy a row at a time (a column at a time, each of its entries lands a stride
    /// apart: column generation adds thousands per token).
    pub fn add_columns(&mut self, tokens: &[u32], a: &[f64], lower: &[f64], upper: &[f64]) {
        let (r, n, k) = (self.rows, self.tokens.len(), tokens.len());
        debug_assert_eq!(a.len(), k * r);
        if n + k > self.stride {
            let stride = (n + k).max(2 * self.stride).max(64);
            let mut by_row = vec![0.0; r * stride];
            for row in 0..r {
                by_row[row * stride..row * stride + n]
                    .copy_from_slice(&self.by_row[row * self.stride..row * self.stride + n]);
            }
            (self.by_row, self.stride) = (by_row, stride);
        }
        for row in 0..r {
            let dst = &mut self.by_row[row * self.stride + n..row * self.stride + n + k];
            for (d, col) in dst.iter_mut().zip(a.chunks_exact(r)) {
                *d = col[row];
            }
        }
        self.cols.extend_from_slice(a);
        for ((col, &token), (&lo, &hi)) in
            a.chunks_exact(r).zip(tokens).zip(lower.iter().zip(upper))
        {
            self.push_bounds(token, col, lo, hi);
        }
    }

    /// `duals = B^-T c_B = sum_k c_{B,k} (row k of B^-1)`.
    fn update_duals(&mut self) {
        let r = self.rows;
        self.duals.clear();
        self.duals.resize(r, 0.0);
        for k in 0..r {
            let cb = self.basic_cost(k);
            if cb != 0.0 {
                for (y, &v) in self.duals.iter_mut().zip(&self.inverse[k * r..(k + 1) * r]) {
                    *y += cb * v;
                }
            }
        }
        self.duals_fresh = true;
    }

    fn basic_cost(&self, k: usize) -> f64 {
        let v = self.basic[k];
        if v >= LOGICAL {
            0.0
        } else {
            self.cost[v]
        }
    }

    fn col(&self, j: usize) -> &[f64] {
        &self.cols[j * self.rows..(j + 1) * self.rows]
    }

    /// The bounds of column `j`.
    pub fn bounds(&self, j: usize) -> (f64, f64) {
        (self.lower[j], self.upper[j])
    }

    /// Changes the bounds of column `j` (`lower <= upper`). The basis stays dual feasible: a
    /// nonbasic column moves to the new bound its reduced cost points to, a basic one may now
    /// be primal infeasible, which the next solve repairs.
    pub fn set_bounds(&mut self, j: usize, lower: f64, upper: f64) {
        let before = (!self.is_basic[j]).then(|| self.nonbasic_value(j));
        self.lower[j] = lower;
        self.upper[j] = upper;
        if let Some(old) = before {
            self.at_upper[j] = self.reduced[j] < 0.0;
            let step = self.nonbasic_value(j) - old;
            if step != 0.0 {
                let r = self.rows;
                for (s, &a) in self
                    .nonbasic_sum
                    .iter_mut()
                    .zip(&self.cols[j * r..(j + 1) * r])
                {
                    *s += a * step;
                }
            }
        }
    }

    fn nonbasic_value(&self, j: usize) -> f64 {
        if self.at_upper[j] {
            self.upper[j]
        } else {
            self.lower[j]
        }
    }

    /// Solves for `rhs` from the current basis.
    pub fn solve(&mut self, rhs: &[f64]) -> HeadAnswer {
        self.rhs.copy_from_slice(rhs);
        self.stats.solves += 1;
        let scale = rhs.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        // Relative to the right-hand side, plus the rounding of `N x_N` (a violation below it
        // is noise, and chasing it can only end in a false Farkas vector).
        let tol = FEASIBILITY_TOL * scale + ROUNDING_TOL * self.box_scale;
        self.recompute_primal();
        for _ in 0..self.max_pivots {
            if self.since_refactor >= REFACTOR_EVERY && self.refactor().is_err() {
                return HeadAnswer::Stalled;
            }
            // No confirmation on a fresh factorisation: the point is polished against the
            // residual and verified by the ledger, which is the only judge.
            let Some((p, delta)) = self.leaving(tol) else {
                return HeadAnswer::Feasible;
            };
            self.pivot_row(p);
            match self.entering(delta, tol) {
                None => {
                    let sign = if delta < 0.0 { -1.0 } else { 1.0 };
                    let r = self.rows;
                    for (f, &v) in self
                        .farkas
                        .iter_mut()
                        .zip(&self.inverse[p * r..(p + 1) * r])
                    {
                        *f = sign * v;
                    }
                    return HeadAnswer::Infeasible;
                }
                Some(q) => {
                    if self.pivot(p, q, delta).is_err() {
                        return HeadAnswer::Stalled;
                    }
                }
            }
        }
        HeadAnswer::Stalled
    }

    /// The Farkas vector of the last [`HeadAnswer::Infeasible`]: `y . rhs` exceeds
    /// `sum_j max(lower_j a_j . y, upper_j a_j . y)`.
    pub fn farkas(&self) -> &[f64] {
        &self.farkas
    }

    /// The point of the last [`HeadAnswer::Feasible`], column by column, clamped to the box and
    /// polished by one refinement of the basic variables against the residual.
    pub fn point(&mut self, out: &mut Vec<f64>) {
        out.clear();
        out.extend((0..self.len()).map(|j| {
            if self.is_basic[j] {
                0.0
            } else {
                self.nonbasic_value(j)
            }
        }));
        for _ in 0..2 {
            for (k, &v) in self.basic.iter().enumerate() {
                if v < LOGICAL {
                    out[v] = self.x_basic[k].clamp(self.lower[v], self.upper[v]);
                }
            }
            // Residual rhs - A d, then x_B += B^-1 residual.
            let r = self.rows;
            self.column.copy_from_slice(&self.rhs);
            for (j, &dj) in out.iter().enumerate() {
                if dj != 0.0 {
                    for (c, &a) in self.column.iter_mut().zip(&self.cols[j * r..(j + 1) * r]) {
                        *c -= a * dj;
                    }
                }
            }
            for k in 0..r {
                let row = &self.inverse[k * r..(k + 1) * r];
                let v = self.basic[k];
                let base = if v < LOGICAL { out[v] } else { 0.0 };
                self.x_basic[k] = base + dot(row, &self.column);
            }
        }
        for (k, &v) in self.basic.iter().enumerate() {
            if v < LOGICAL {
                out[v] = self.x_basic[k].clamp(self.lower[v], self.upper[v]);
            }
        }
    }

    /// `x_B = B^-1 (rhs - N x_N)`.
    fn recompute_primal(&mut self) {
        let r = self.rows;
        for k in 0..r {
            self.column[k] = self.rhs[k] - self.nonbasic_sum[k];
        }
        for k in 0..r {
            self.x_basic[k] = dot(&self.inverse[k * r..(k + 1) * r], &self.column);
        }
    }

    /// The basic variable with the largest infeasibility over its row norm (dual steepest
    /// edge), with its violation (negative below the lower bound, positive above the upper).
    fn leaving(&self, tol: f64) -> Option<(usize, f64)> {
        let r = self.rows;
        let mut best: Option<(usize, f64, f64)> = None;
        for k in 0..r {
            let v = self.basic[k];
            let (lo, hi) = if v >= LOGICAL {
                (0.0, 0.0)
            } else {
                (self.lower[v], self.upper[v])
            };
            let x = self.x_basic[k];
            let delta = if x < lo - tol {
                x - lo
            } else if x > hi + tol {
                x - hi
            } else {
                continue;
            };
            let row = &self.inverse[k * r..(k + 1) * r];
            let weight = dot(row, row).max(f64::MIN_POSITIVE);
            let score = delta * delta / weight;
            if best.is_none_or(|(_, _, b)| score > b) {
                best = Some((k, delta, score));
            }
        }
        best.map(|(k, d, _)| (k, d))
    }

    /// `alpha_j = rho_p . a_j` for every nonbasic column (zero for basic ones): the pass that
    /// makes a pivot cost `O(n r)`.
    fn pivot_row(&mut self, p: usize) {
        let r = self.rows;
        let rho = &self.inverse[p * r..(p + 1) * r];
        basis_aware_kernels::combine_rows(&self.by_row, self.stride, rho, &mut self.alpha);
        // Basic columns take no part in the ratio test (each has a unit entry here): zeroed.
        for &v in &self.basic {
            if v < LOGICAL {
                self.alpha[v] = 0.0;
            }
        }
    }

    /// Bound-flipping ratio test with Harris tolerances (as in `basis-aware-simplex`): returns
    /// the entering column, having flipped the columns passed on the way, or `None` when every
    /// breakpoint can be passed with violation left (a Farkas ray).
    fn entering(&mut self, delta: f64, tol: f64) -> Option<usize> {
        let sign = if delta < 0.0 { -1.0 } else { 1.0 };
        // One pass for the breakpoints and the row's scale, then the entries below the pivot
        // tolerance (relative to that scale) dropped.
        self.breakpoints.clear();
        let mut scale = 0.0f64;
        let columns = self
            .alpha
            .iter()
            .zip(&self.reduced)
            .zip(self.is_basic.iter().zip(&self.at_upper))
            .zip(self.lower.iter().zip(&self.upper));
        for (j, (((&alpha, &d), (&basic, &up)), (&lo, &hi))) in columns.enumerate() {
            scale = scale.max(alpha.abs());
            if basic || hi <= lo {
                continue;
            }
            let a = sign * alpha;
            if (up && a < 0.0) || (!up && a > 0.0) {
                let h = HARRIS_TOL * a.signum();
                self.breakpoints
                    .push((d / a, (d + h) / a, j as u32, a.abs()));
            }
        }
        if scale == 0.0 {
            return None;
        }
        let tiny = PIVOT_TOL * scale;
        self.breakpoints.retain(|b| b.3 > tiny);
        // Walk the breakpoints in increasing ratio; a full sort is avoided by selecting the
        // smallest remaining ratio lazily (most solves pass few breakpoints).
        let mut slope = delta.abs();
        let mut passed = 0;
        let n = self.breakpoints.len();
        // Ratios are finite (`|a| > tiny`); `-0.0` and `0.0` tie, and ties go to the lower index.
        let earlier = |x: &(f64, f64, u32, f64), y: &(f64, f64, u32, f64)| {
            x.0.partial_cmp(&y.0)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(x.2.cmp(&y.2))
        };
        // Past the first few, the walk takes the breakpoints in sorted runs: the next `run`
        // smallest selected (`O(n)`) and sorted, `run` doubling, so a long walk costs
        // `O(n log(walk))` rather than `O(n)` a step.
        let (mut sorted_to, mut run) = (LAZY_BREAKPOINTS, LAZY_BREAKPOINTS);
        loop {
            if passed == n {
                return None;
            }
            if passed >= LAZY_BREAKPOINTS && passed == sorted_to {
                run *= 2;
                let rest = &mut self.breakpoints[passed..];
                let take = run.min(rest.len());
                if take < rest.len() {
                    rest.select_nth_unstable_by(take - 1, earlier);
                }
                rest[..take].sort_unstable_by(earlier);
                sorted_to = passed + take;
            }
            if passed < LAZY_BREAKPOINTS {
                // Bring the smallest remaining ratio to position `passed`.
                let mut best = passed;
                for k in passed + 1..n {
                    if earlier(&self.breakpoints[k], &self.breakpoints[best]).is_lt() {
                        best = k;
                    }
                }
                self.breakpoints.swap(passed, best);
            }
            let (_, _, j, a) = self.breakpoints[passed];
            let j = j as usize;
            let after = slope - a * (self.upper[j] - self.lower[j]);
            if after <= tol {
                break;
            }
            slope = after;
            passed += 1;
        }
        // Harris: among the remaining breakpoints within the smallest tolerant bound, the
        // largest |a_j| enters.
        let bound = self.breakpoints[passed..]
            .iter()
            .map(|b| b.1)
            .fold(f64::INFINITY, f64::min);
        let mut entering = passed;
        for k in passed..n {
            let b = &self.breakpoints[k];
            if b.0 <= bound && b.3 > self.breakpoints[entering].3 {
                entering = k;
            }
        }
        let q = self.breakpoints[entering].2 as usize;
        self.flips.clear();
        self.flips
            .extend(self.breakpoints[..passed].iter().map(|b| b.2));
        let r = self.rows;
        for idx in 0..self.flips.len() {
            let j = self.flips[idx] as usize;
            let step = if self.at_upper[j] {
                self.lower[j] - self.upper[j]
            } else {
                self.upper[j] - self.lower[j]
            };
            self.at_upper[j] = !self.at_upper[j];
            for k in 0..r {
                self.nonbasic_sum[k] += self.cols[j * r + k] * step;
            }
        }
        self.stats.flips += self.flips.len();
        Some(q)
    }

    /// Pivots column `q` into row `p`, whose variable leaves at the bound it violated.
    fn pivot(&mut self, p: usize, q: usize, delta: f64) -> Result<(), ()> {
        let r = self.rows;
        for k in 0..r {
            self.column[k] = dot(&self.inverse[k * r..(k + 1) * r], self.col(q));
        }
        let pivot = self.column[p];
        if pivot.abs() < 1e-300 || !pivot.is_finite() {
            return Err(());
        }
        let theta_d = self.reduced[q] / self.alpha[q];
        // Basic columns have `alpha_j = 0` ([`HeadLp::pivot_row`]), so one pass without a
        // branch leaves their reduced costs as they are.
        for (d, &a) in self.reduced.iter_mut().zip(&self.alpha) {
            *d -= theta_d * a;
        }
        // The entering variable leaves N x_N; the leaving one joins it at its bound.
        let vq = self.nonbasic_value(q);
        for k in 0..r {
            self.nonbasic_sum[k] -= self.cols[q * r + k] * vq;
        }
        let leaving = self.basic[p];
        if leaving < LOGICAL {
            let to_upper = delta > 0.0;
            self.at_upper[leaving] = to_upper;
            self.is_basic[leaving] = false;
            self.reduced[leaving] = -theta_d;
            let v = if to_upper {
                self.upper[leaving]
            } else {
                self.lower[leaving]
            };
            for k in 0..r {
                self.nonbasic_sum[k] += self.cols[leaving * r + k] * v;
            }
        }
        self.is_basic[q] = true;
        self.reduced[q] = 0.0;
        self.basic[p] = q;
        // Product-form update: row p /= pivot; row k -= column_k * row p.
        let inv = &mut self.inverse;
        for v in &mut inv[p * r..(p + 1) * r] {
            *v /= pivot;
        }
        for k in 0..r {
            let f = self.column[k];
            if k == p || f == 0.0 {
                continue;
            }
            for c in 0..r {
                inv[k * r + c] -= f * inv[p * r + c];
            }
        }
        self.since_refactor += 1;
        self.duals_fresh = false;
        self.stats.pivots += 1;
        self.recompute_primal();
        Ok(())
    }

    /// Recomputes `B^-1`, the reduced costs and `N x_N` from scratch; refuses a singular basis
    /// (the state is then unchanged but for scratch).
    fn refactor(&mut self) -> Result<(), ()> {
        if self.rows >= FAER_FROM_ROWS {
            self.invert_with_faer()?;
        } else {
            self.invert_by_elimination()?;
        }
        self.refresh_after_inverse();
        Ok(())
    }

    /// `B^-1` by faer's blocked LU with partial pivoting: at full-basis sizes the elimination of
    /// [`HeadLp::invert_by_elimination`] is `2 r^3` scalar flops a refactor (about 0.4 GFlop at
    /// `r = 577`), several times faer's time; refused when the inverse is not finite (a singular
    /// basis leaves a zero on `U`'s diagonal), leaving the old inverse in place.
    fn invert_with_faer(&mut self) -> Result<(), ()> {
        use faer::linalg::solvers::DenseSolveCore;
        let r = self.rows;
        let b = faer::Mat::<f64>::from_fn(r, r, |k, c| {
            let v = self.basic[c];
            if v >= LOGICAL {
                f64::from(u8::from(v - LOGICAL == k))
            } else {
                self.cols[v * r + k]
            }
        });
        let inverse = b.partial_piv_lu().inverse();
        if (0..r).any(|k| (0..r).any(|c| !inverse[(k, c)].is_finite())) {
            return Err(());
        }
        for k in 0..r {
            for c in 0..r {
                self.inverse[k * r + c] = inverse[(k, c)];
            }
        }
        Ok(())
    }

    /// `B^-1` by Gauss-Jordan elimination with partial pivoting (small bases).
    fn invert_by_elimination(&mut self) -> Result<(), ()> {
        let r = self.rows;
        let w = 2 * r;
        for k in 0..r {
            // Row k of [B | I]: B's entries are column basic[c]'s k-th entry.
            for c in 0..r {
                let v = self.basic[c];
                self.factor[k * w + c] = if v >= LOGICAL {
                    f64::from(u8::from(v - LOGICAL == k))
                } else {
                    self.cols[v * r + k]
                };
                self.factor[k * w + r + c] = f64::from(u8::from(k == c));
            }
        }
        let f = &mut self.factor;
        for c in 0..r {
            let (mut best, mut size) = (c, f[c * w + c].abs());
            for k in c + 1..r {
                if f[k * w + c].abs() > size {
                    (best, size) = (k, f[k * w + c].abs());
                }
            }
            if size < 1e-300 || !size.is_finite() {
                return Err(());
            }
            if best != c {
                for x in 0..w {
                    f.swap(c * w + x, best * w + x);
                }
            }
            let piv = f[c * w + c];
            for x in 0..w {
                f[c * w + x] /= piv;
            }
            for k in 0..r {
                if k == c {
                    continue;
                }
                let m = f[k * w + c];
                if m != 0.0 {
                    for x in 0..w {
                        f[k * w + x] -= m * f[c * w + x];
                    }
                }
            }
        }
        for k in 0..r {
            self.inverse[k * r..(k + 1) * r].copy_from_slice(&f[k * w + r..(k + 1) * w]);
        }
        Ok(())
    }

    /// The reduced costs, `N x_N` and `x_B` from a fresh inverse.
    fn refresh_after_inverse(&mut self) {
        let r = self.rows;
        self.duals_fresh = false;
        // y = B^-T c_B into `column`, then d_j = c_j - y . a_j.
        self.column.fill(0.0);
        for k in 0..r {
            let cb = self.basic_cost(k);
            if cb != 0.0 {
                for c in 0..r {
                    self.column[c] += cb * self.inverse[k * r + c];
                }
            }
        }
        self.nonbasic_sum.fill(0.0);
        for j in 0..self.len() {
            if self.is_basic[j] {
                self.reduced[j] = 0.0;
                continue;
            }
            let col = &self.cols[j * r..(j + 1) * r];
            let d = self.cost[j] - dot(&self.column, col);
            // Keep dual feasibility against drift: a reduced cost that changed sign puts its
            // column at the other bound.
            self.reduced[j] = d;
            if (d < 0.0) != self.at_upper[j] && d != 0.0 {
                self.at_upper[j] = d < 0.0;
            }
            let v = self.nonbasic_value(j);
            for (s, &a) in self.nonbasic_sum.iter_mut().zip(col) {
                *s += a * v;
            }
        }
        self.since_refactor = 0;
        self.stats.refactors += 1;
        self.recompute_primal();
    }
}

#[inline(always)]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut xa = a.chunks_exact(4);
    let mut xb = b.chunks_exact(4);
    for (u, v) in (&mut xa).zip(&mut xb) {
        for l in 0..4 {
            acc[l] += u[l] * v[l];
        }
    }
    for (u, v) in xa.remainder().iter().zip(xb.remainder()) {
        acc[0] += u * v;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// SplitMix64's finaliser, for the per-token cost perturbation.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    /// Checks an answer against its own claim: a point in the box with a small residual, or a
    /// Farkas vector that separates the right-hand side from the image of the box.
    fn check(lp: &mut HeadLp, cols: &[Vec<f64>], lo: &[f64], hi: &[f64], rhs: &[f64]) -> bool {
        match lp.solve(rhs) {
            HeadAnswer::Feasible => {
                let mut d = Vec::new();
                lp.point(&mut d);
                for (j, &dj) in d.iter().enumerate() {
                    assert!(dj >= lo[j] && dj <= hi[j]);
                }
                for k in 0..rhs.len() {
                    let got: f64 = cols.iter().zip(&d).map(|(c, &dj)| c[k] * dj).sum();
                    assert!((got - rhs[k]).abs() <= 1e-9, "row {k}: {got} vs {}", rhs[k]);
                }
                true
            }
            HeadAnswer::Infeasible => {
                let y = lp.farkas();
                let lhs: f64 = y.iter().zip(rhs).map(|(a, b)| a * b).sum();
                let bound: f64 = cols
                    .iter()
                    .zip(lo.iter().zip(hi))
                    .map(|(c, (&l, &h))| {
                        let s: f64 = c.iter().zip(y).map(|(a, b)| a * b).sum();
                        (l * s).max(h * s)
                    })
                    .sum();
                assert!(lhs > bound, "Farkas: {lhs} <= {bound}");
                false
            }
            HeadAnswer::Stalled => panic!("stalled"),
        }
    }

    /// Many right-hand sides through one warm-started LP, inside and outside the box's image:
    /// every answer proves itself, and each agrees with a cold solve of the same problem.
    #[test]
    fn warm_answers_prove_themselves_and_agree_with_cold_ones() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        // 60 rows: the basis inverse comes from faer (FAER_FROM_ROWS).
        for (rows, n) in [(2usize, 5usize), (3, 12), (5, 40), (8, 60), (60, 150)] {
            let cols: Vec<Vec<f64>> = (0..n)
                .map(|_| (0..rows).map(|_| rng.random_range(-1.0..1.0)).collect())
                .collect();
            let lo: Vec<f64> = (0..n).map(|_| -rng.random_range(0.0..1.0)).collect();
            let hi: Vec<f64> = (0..n).map(|_| rng.random_range(0.0..2.0)).collect();
            let mut warm = HeadLp::new(rows);
            let mut cold_template = HeadLp::new(rows);
            for j in 0..n {
                warm.add_column(j as u32, &cols[j], lo[j], hi[j]);
                cold_template.add_column(j as u32, &cols[j], lo[j], hi[j]);
            }
            let (mut feasible, mut infeasible) = (0, 0);
            for _ in 0..200 {
                let scale = rng.random_range(0.0..n as f64 / 2.0);
                let rhs: Vec<f64> = (0..rows)
                    .map(|_| scale * rng.random_range(-1.0..1.0))
                    .collect();
                let a = check(&mut warm, &cols, &lo, &hi, &rhs);
                let b = check(&mut cold_template.clone(), &cols, &lo, &hi, &rhs);
                assert_eq!(a, b);
                if a {
                    feasible += 1;
                } else {
                    infeasible += 1;
                }
            }
            assert!(feasible > 0 && infeasible > 0, "{feasible} / {infeasible}");
        }
    }

    /// A column added to a warm LP keeps it dual feasible: the answers still prove themselves.
    #[test]
    fn columns_added_between_solves() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        let rows = 4;
        let mut cols: Vec<Vec<f64>> = Vec::new();
        let (mut lo, mut hi) = (Vec::new(), Vec::new());
        let mut lp = HeadLp::new(rows);
        for round in 0..30 {
            for _ in 0..3 {
                let c: Vec<f64> = (0..rows).map(|_| rng.random_range(-1.0..1.0)).collect();
                let (l, h) = (-rng.random_range(0.0..1.0), rng.random_range(0.0..1.0));
                lp.add_column(cols.len() as u32, &c, l, h);
                cols.push(c);
                lo.push(l);
                hi.push(h);
            }
            let rhs: Vec<f64> = (0..rows)
                .map(|_| rng.random_range(-1.0..1.0) * 0.3 * round as f64 / 10.0)
                .collect();
            check(&mut lp, &cols, &lo, &hi, &rhs);
        }
    }
}

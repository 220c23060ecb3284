//! The pure-Rust bounded dual simplex on restricted columns with column generation: the default
//! backend.
//!
//! The LP `min p_t` is solved over a small set `S` of tokens (the most probable ones, plus the
//! token under test), every other token fixed at `p_j = q_j`, an exact restriction (see
//! [`crate::lp`]). An optimum with `p_t = 0` is a reject for the full problem. A positive optimum
//! comes with a dual `y` whose *slack* `q_t s_t - sum_{j in S, j != t} q_j g(s_j)` is positive; it
//! proves `P_t` empty when the tokens outside `S` add less than that slack. A pricing pass over
//! the vocabulary finds those that add the most, they join `S`, and the LP is solved again
//! (METHOD.md, "Restricted columns"). Optimal duals, rather than the Farkas vector of a
//! feasibility solve, are what make this converge in a few rounds.

use basis_aware_simplex::{
    solve_from, Answer as LpAnswer, BoxLp, Options, SimplexError, WarmStart,
};

use crate::backend::{Answer, Backend, BackendError, SetProblem, TokenProblem};
use crate::basis::Basis;
use crate::certificate::{Certificate, RejectCertificate};
use crate::engine::full::{FullBasisStats, FullEngine};
use crate::ledger::Verified;
use crate::lp::ScaledLp;
use crate::select::sampled_floor;
use crate::step::Step;

/// Columns of the first restricted LP: `FIRST_COLUMNS_PER_ROW` per row `m + 1`, plus
/// `SMALL_BASIS_BONUS` per row for the first `SMALL_BASIS_ROWS` rows (see [`first_column_count`]).
const FIRST_COLUMNS_PER_ROW: usize = 2;
const SMALL_BASIS_BONUS: usize = 6;
const SMALL_BASIS_ROWS: usize = 21;
/// Fewest columns of the first restricted LP.
const MIN_FIRST_COLUMNS: usize = 128;
/// Mass the first column set holds, in units of `q_t / kappa` (see [`first_columns`]).
const MASS_FACTOR: f64 = 2.0;
/// Largest mass the first column set is sized to hold (see [`first_columns`]).
const MASS_CAP: f64 = 0.5;
/// Most tokens the first pricing pass adds, as a multiple of the number of rows (at least
/// [`MIN_FIRST_COLUMNS`]); the limit doubles with every round.
const ADDED_PER_ROW: usize = 4;
/// Rounds of column generation before giving up.
const MAX_ROUNDS: usize = 64;
/// Rounds of column generation for a set before it is handed back to be split: a set is an
/// optimisation, and the sets that need many rounds sit at the margin, where their halves or
/// single tokens settle faster.
const MAX_SET_ROUNDS: usize = 4;
/// Largest set whose tokens become columns of the partial-zeroing LP; larger sets are split by
/// the caller instead (measured: 43,643 columns took 11 s on a real step, their halves 0.2 s).
const MAX_MIN_SUM_SET: usize = 2048;
/// Pricing stops adding columns once the tokens outside `S` add less than this fraction of the
/// slack; the rest is left as margin for the verifier.
const PRICING_SAFETY: f64 = 0.5;
/// A round adds columns until the tokens left outside add less than this fraction of the slack:
/// below [`PRICING_SAFETY`], so the next round's `y`, which moves, still tends to be covered.
/// Measured (160 lazy draws on four real steps at `m = 20`, and the most probable token below
/// `tau` of a flat Gaussian step, `V = 262144`, `m + 1 = 65`): stopping at 0.5 gave p99 24 ms and
/// 70 ms, 0.25 gave 9.7 ms and 140 ms, adding every candidate up to the limit 9.7 ms and 1.84 s
/// (the last was this session's default for a while: a 19x regression on flat steps).
const PRICING_COVER: f64 = 0.25;

/// Feasibility tolerance of the simplex, as a fraction of the tested token's scaled column
/// (at most `sigma q_t` per row): forcing `p_t = 0` moves each row by about that much, so the
/// tolerance must stay well below it or a deep-tail token would look rejectable for free. Clamped
/// to `[FEASIBILITY_FLOOR, Options::default().feasibility_tol]`; the floor stays above f64 rounding
/// of the O(1) scaled rows.
const FEASIBILITY_FRACTION: f64 = 1e-4;
const FEASIBILITY_FLOOR: f64 = 1e-14;

/// Pivots a warm-started solve may take, per row and column of its LP, before it is retried from
/// the logical basis. Warm starts usually save pivots, but on steps whose `q` spans tens of orders
/// of magnitude some cycled to the 50,000-pivot limit (70 solves, 27 s of a 28 s mask) where the
/// cold start finished in tens of pivots; cold solves of real steps take 1 to 3 pivots a row.
const WARM_PIVOTS: usize = 4;

/// Bounded dual simplex (crate `basis-aware-simplex`) with column generation.
#[derive(Debug, Clone)]
pub struct SimplexBackend {
    /// Settings of the simplex (iteration and time limits, tolerances).
    pub options: Options,
    /// Start each LP from the last basis (across column-generation rounds, tokens, sets and steps),
    /// named by token so it survives changes of the column set.
    pub warm_start: bool,
    /// Decide tokens of bases above [`crate::reduction::BULK_MAX_ROWS`] rows with the full-basis
    /// engine first (one head LP kept from token to token of a step, and the keep duals found
    /// so far; `src/engine/full.rs`), column generation only for what it leaves. Needs
    /// `warm_start`.
    pub full_basis_engine: bool,
    last_basis: Vec<Option<u32>>,
    /// When the current call must end ([`Backend::set_deadline`]); every LP gets the time left.
    deadline: Option<std::time::Instant>,
    /// The full-basis engine's state for the current step (bases above
    /// [`crate::reduction::BULK_MAX_ROWS`] rows, with warm starts on).
    full: Option<Box<FullEngine>>,
}

impl Default for SimplexBackend {
    fn default() -> Self {
        Self {
            options: Options::default(),
            warm_start: true,
            full_basis_engine: true,
            last_basis: Vec::new(),
            deadline: None,
            full: None,
        }
    }
}

impl SimplexBackend {
    /// The backend with a wall-time limit per LP solve.
    pub fn with_time_limit(limit: std::time::Duration) -> Self {
        let mut backend = Self::default();
        backend.options.time_limit = limit;
        backend
    }

    /// The backend without warm starts: every LP starts from the logical basis.
    pub fn cold() -> Self {
        Self {
            warm_start: false,
            ..Self::default()
        }
    }

    /// Work of the full-basis engine on the current step: `None` until a basis of more than
    /// [`crate::reduction::BULK_MAX_ROWS`] rows was solved with warm starts on.
    pub fn full_basis_stats(&self) -> Option<FullBasisStats> {
        self.full.as_ref().map(|e| e.stats)
    }

    /// Whether tokens of `basis` go to the full-basis engine first: bases above
    /// [`crate::reduction::BULK_MAX_ROWS`] rows, with the engine and warm starts on.
    fn full_basis_applies(&self, basis: &Basis) -> bool {
        self.warm_start
            && self.full_basis_engine
            && basis.dim() + 1 > crate::reduction::BULK_MAX_ROWS
    }

    /// The full-basis engine's answer for the token (`src/engine/full.rs`): for bases above
    /// [`crate::reduction::BULK_MAX_ROWS`] rows, with warm starts on, one head LP is kept from
    /// token to token of a step. `None` sends the token on to column generation.
    fn solve_full_basis(&mut self, problem: &TokenProblem<'_>) -> Option<Answer> {
        if !self.full_basis_applies(problem.basis) {
            return None;
        }
        self.full
            .get_or_insert_with(Default::default)
            .solve(problem, self.deadline)
    }

    /// The last basis, as column indices of `lp`; tokens no longer among its columns give way to
    /// their row's logical variable.
    fn warm_start_for(&self, lp: &ScaledLp) -> Option<WarmStart> {
        (self.warm_start && self.last_basis.len() == lp.rows).then(|| WarmStart {
            basic: self
                .last_basis
                .iter()
                .map(|t| t.and_then(|t| lp.columns.binary_search(&t).ok()))
                .collect(),
        })
    }

    /// One solve of `lp` from the last basis (when warm starts are on), which its final basis
    /// then replaces. Every LP the backend solves starts this way: the next round of a token
    /// (the same LP with columns added, which the dual simplex puts at the bound their reduced
    /// costs point to), the next token (a new cost) and the next set (a new right-hand side).
    /// Measured against cold starts for all but a token's first round: a synthetic tail keep at
    /// `m + 1 = 577` (`V = 16384`, five rounds) took 4,867 pivots instead of 11,765; the full
    /// top-20 masks of two real SmolLM2 steps 16,106 and 6,684 pivots in set solves instead of
    /// 38,461 and 19,277 (the same decisions). Before bound flipping and steepest edge, later
    /// rounds took 300 to 500 pivots warm against 100 cold, and started cold.
    fn run_warm(
        &mut self,
        lp: &ScaledLp,
        cost: &[f64],
        options: &Options,
    ) -> Result<LpAnswer, BackendError> {
        let (answer, basis_out) = match self.warm_start_for(lp) {
            Some(warm) => {
                let mut budget = self.within_deadline(options)?;
                budget.max_iterations = options
                    .max_iterations
                    .min(WARM_PIVOTS * (lp.rows + lp.columns.len()));
                match run(lp, cost, &budget, Some(&warm)) {
                    // The cold retry gets what the warm attempt left of the call's time.
                    Err(BackendError::Limit(_)) => {
                        run(lp, cost, &self.within_deadline(options)?, None)?
                    }
                    done => done?,
                }
            }
            None => run(lp, cost, &self.within_deadline(options)?, None)?,
        };
        if self.warm_start {
            self.last_basis = basis_out
                .basic
                .iter()
                .map(|c| c.map(|c| lp.columns[c]))
                .collect();
        }
        Ok(answer)
    }

    /// `options` with its time limit cut to what is left before the deadline;
    /// [`BackendError::Limit`] once nothing is left.
    fn within_deadline(&self, options: &Options) -> Result<Options, BackendError> {
        let mut options = *options;
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(BackendError::Limit("the call's deadline passed".into()));
            }
            options.time_limit = options.time_limit.min(left);
        }
        Ok(options)
    }

    /// Column generation for one token: each round solves `min p_t` over the columns, returns a
    /// verified reject or keep, or prices the vocabulary and adds the columns the dual misses.
    fn solve_token(&mut self, problem: &TokenProblem<'_>) -> Result<Verified, BackendError> {
        let TokenProblem { step, basis, token } = *problem;
        let rows = basis.dim() + 1;
        let mut options = self.options;
        options.feasibility_tol = (FEASIBILITY_FRACTION * step.sigma() * step.q()[token as usize])
            .clamp(FEASIBILITY_FLOOR, self.options.feasibility_tol);
        let mut per_round = (ADDED_PER_ROW * rows).max(MIN_FIRST_COLUMNS);
        let mut columns = first_columns(step, token, rows);
        columns.push(token);
        let mut role = vec![Role::Outside; step.vocab()];
        columns
            .iter()
            .for_each(|&j| role[j as usize] = Role::Column);
        role[token as usize] = Role::Target;
        let mut refusal = None;
        for round in 0..MAX_ROUNDS {
            let lp = ScaledLp::new(step, basis, token, columns.clone());
            let n = lp.columns.len();
            let target = lp.target.expect("the tested token is a column");
            let mut cost = vec![0.0; n];
            cost[target] = 1.0;
            let y = match self.run_warm(&lp, &cost, &options)? {
                LpAnswer::Optimal { x, duals, .. } => {
                    if x[target] <= options.feasibility_tol {
                        // The solver's point first; when it does not verify, the point `p = q`
                        // with the token at zero (see [`unmoved_reject`]).
                        let cert = Certificate::Reject(lp.reject_certificate(step, basis, &x));
                        match problem.check(cert) {
                            Ok(verified) => return Ok(verified),
                            Err(e) => refusal = Some(e),
                        }
                        if let Some(verified) = unmoved_reject(problem, &lp) {
                            return Ok(verified);
                        }
                    }
                    duals
                }
                LpAnswer::Infeasible { farkas, .. } => farkas,
            };
            let keep = lp.keep_certificate(&y);
            // Tokens near `tau` are usually kept by the first round's dual as it stands: check
            // it first there and skip the pricing pass (one O(V m) pass instead of two: 4.1 -> 3.6 ms
            // for a keep on a real step). Later rounds are the hard tokens; pricing comes first.
            if round == 0 {
                if let Ok(verified) = problem.check(Certificate::Keep(keep.clone())) {
                    return Ok(verified);
                }
            }
            let added = price(step, basis, &keep.y, &role, per_round);
            if added.is_empty() {
                return match problem.check(Certificate::Keep(keep)) {
                    Ok(verified) => Ok(verified),
                    Err(e) => {
                        let why = refusal.map(|r| format!("{r}; ")).unwrap_or_default();
                        Err(BackendError::NoCertificate(format!("{why}{e}")))
                    }
                };
            }
            added.iter().for_each(|&j| role[j as usize] = Role::Column);
            columns.extend(added);
            // Geometric growth: when the uncovered terms are spread over many small tokens
            // (measured: 42,000 candidates, the slack shrinking by 3% a round at 128 a round),
            // the rounds stay logarithmic in the vocabulary.
            per_round *= 2;
        }
        Err(BackendError::Limit(format!(
            "{MAX_ROUNDS} rounds of column generation"
        )))
    }
}

impl Backend for SimplexBackend {
    fn name(&self) -> &'static str {
        "simplex"
    }

    fn set_deadline(&mut self, deadline: Option<std::time::Instant>) {
        self.deadline = deadline;
    }

    fn fresh(&self) -> Option<Box<dyn Backend + Send>> {
        Some(Box::new(Self {
            options: self.options,
            warm_start: self.warm_start,
            full_basis_engine: self.full_basis_engine,
            last_basis: Vec::new(),
            deadline: None,
            full: None,
        }))
    }

    fn solve(&mut self, problem: &TokenProblem<'_>) -> Result<Certificate, BackendError> {
        self.answer(problem).map(Answer::into_certificate)
    }

    /// The full-basis engine's answer where it applies, else column generation's; every
    /// certificate comes verified through the problem, except a dual the engine pooled before
    /// its last one, which the ledger verifies on receipt.
    fn answer(&mut self, problem: &TokenProblem<'_>) -> Result<Answer, BackendError> {
        if let Some(answer) = self.solve_full_basis(problem) {
            return Ok(answer);
        }
        let decided = match self.solve_token(problem) {
            // A warm start changes the path, never the answer, except near the solver's
            // resolution: on steps whose `q` spans tens of orders of magnitude, warm-started
            // vertices failed the polish more often (35 tokens undecided against 10 on one such
            // step). A token left without a certificate is solved again from cold starts.
            Err(BackendError::NoCertificate(_)) if self.warm_start => {
                self.warm_start = false;
                let retried = self.solve_token(problem);
                self.warm_start = true;
                retried
            }
            decided => decided,
        };
        decided.map(Answer::Verified)
    }

    /// The feasibility LP with the whole set at zero, over the most probable tokens outside it
    /// (enough of them to absorb twice the set's mass: each can take `kappa q_j` more), grown by
    /// column generation on the Farkas vector exactly as a keep is for one token: a Farkas
    /// vector that holds over the whole vocabulary proves the set cannot go whole. Then, for sets
    /// small enough to be columns themselves, `sum x_j` over the set is minimised: the optimal
    /// vertex leaves at most `m + 1` of its variables strictly between their bounds, so its
    /// point zeroes nearly every token that can go with the others; the caller keeps what it
    /// zeroes and splits the rest.
    fn solve_set(
        &mut self,
        problem: &SetProblem<'_>,
    ) -> Result<Option<RejectCertificate>, BackendError> {
        let SetProblem {
            step,
            basis,
            tokens,
        } = *problem;
        // The full-basis engine's base head, or nothing: column generation on a set at these
        // sizes took most of a 180 s mask deadline on a real step without finishing a chunk.
        if self.full_basis_applies(basis) {
            return Ok(self.full.get_or_insert_with(Default::default).solve_set(
                step,
                basis,
                tokens,
                self.deadline,
            ));
        }
        let options = self.options;
        let q = step.q();
        let rows = basis.dim() + 1;
        let needed =
            MASS_FACTOR * tokens.iter().map(|&j| q[j as usize]).sum::<f64>() / step.kappa();
        let base = first_column_count(rows);
        let mut role = vec![Role::Outside; step.vocab()];
        tokens.iter().for_each(|&j| role[j as usize] = Role::Target);
        let (mut columns, mut mass) = (Vec::new(), 0.0);
        for &j in step.by_probability() {
            if columns.len() >= base && mass >= needed {
                break;
            }
            if role[j as usize] == Role::Outside {
                columns.push(j);
                role[j as usize] = Role::Column;
                mass += q[j as usize];
            }
        }
        let mut per_round = (ADDED_PER_ROW * rows).max(MIN_FIRST_COLUMNS);
        for _ in 0..MAX_SET_ROUNDS {
            // The zeroed tokens are exact zeros of the right-hand side, not columns near a
            // bound, so the default tolerance cannot fake their rejection; the polish removes
            // what it leaves.
            let lp = ScaledLp::zeroing(step, basis, tokens, columns.clone());
            let cost = vec![0.0; lp.columns.len()];
            let farkas = match self.run_warm(&lp, &cost, &options)? {
                LpAnswer::Optimal { x, .. } => {
                    return Ok(Some(lp.reject_certificate(step, basis, &x)))
                }
                LpAnswer::Infeasible { farkas, .. } => farkas,
            };
            let y = lp.keep_certificate(&farkas).y;
            let added = price(step, basis, &y, &role, per_round);
            if added.is_empty() {
                break;
            }
            added.iter().for_each(|&j| role[j as usize] = Role::Column);
            columns.extend(added);
            per_round *= 2;
        }
        if tokens.len() > MAX_MIN_SUM_SET {
            return Ok(None);
        }
        columns.extend_from_slice(tokens);
        let lp = ScaledLp::zeroing(step, basis, &[], columns);
        let cost: Vec<f64> = lp
            .columns
            .iter()
            .map(|&j| f64::from(u8::from(role[j as usize] == Role::Target)))
            .collect();
        let tol = options.feasibility_tol;
        match self.run_warm(&lp, &cost, &options)? {
            LpAnswer::Optimal { x, .. } => {
                Ok(Some(lp.reject_certificate_pinning(step, basis, &x, |c| {
                    cost[c] > 0.0 && x[c] <= tol
                })))
            }
            LpAnswer::Infeasible { .. } => Ok(None),
        }
    }
}

/// A verified reject of the problem's token from the point `p = q` with the token at zero,
/// polished over the columns of `lp`, or `None`. A deep-tail token's mass (`q_t` down to 1e-100)
/// is far below the simplex's tolerance, so the solver's point for it is rounding noise that few
/// tokens have room to absorb (every such token came back undecided on steps whose `q` spans 30
/// orders of magnitude); from `p = q` the polish's least-norm move is the size of `q_t` and fits
/// in the boxes.
fn unmoved_reject(problem: &TokenProblem<'_>, lp: &ScaledLp) -> Option<Verified> {
    let (step, basis) = (problem.step, problem.basis);
    let unmoved = vec![1.0 / step.sigma(); lp.columns.len()];
    let cert = Certificate::Reject(lp.reject_certificate(step, basis, &unmoved));
    problem.check(cert).ok()
}

/// One simplex solve of `lp` with `cost`, from `warm` or the logical basis.
fn run(
    lp: &ScaledLp,
    cost: &[f64],
    options: &Options,
    warm: Option<&WarmStart>,
) -> Result<(LpAnswer, WarmStart), BackendError> {
    let n = lp.columns.len();
    solve_from(
        &BoxLp {
            rows: lp.rows,
            cols: n,
            matrix: &lp.matrix,
            rhs: &lp.rhs,
            upper: &vec![1.0; n],
            cost,
            names: Some(&lp.columns),
        },
        options,
        warm,
    )
    .map_err(|e| match e {
        e @ (SimplexError::IterationLimit(_) | SimplexError::TimeLimit(_)) => {
            BackendError::Limit(e.to_string())
        }
        other => BackendError::Solver(other.to_string()),
    })
}

/// `2 (m + 1) + 6 min(m + 1, 21)`, at least [`MIN_FIRST_COLUMNS`]: eight columns a row at
/// `m = 20` (168, where it was tuned) and close to two a row at the full basis (1280 at
/// `m = 576`), where every column costs `m` flops a pivot. Measured on a real SmolLM2 step at
/// `m = 576`, one kept token: 4616 columns took 3997 pivots, 2308 took 2292, 1538 took 1635,
/// 1280 took 1535, and 577 needed a second round of 2885 columns.
fn first_column_count(rows: usize) -> usize {
    (FIRST_COLUMNS_PER_ROW * rows + SMALL_BASIS_BONUS * rows.min(SMALL_BASIS_ROWS))
        .max(MIN_FIRST_COLUMNS)
}

/// Size of the first column set: `max(8 (m + 1), 128)` tokens, and at least enough of the most
/// probable ones to hold mass `MASS_FACTOR q_t / kappa`. Zeroing `p_t` moves mass `q_t` onto
/// other tokens, each of which can take at most `kappa q_j` more, so a smaller set cannot reject
/// `t`; on flat distributions with a small `tau` that is far more than 128 tokens. When that mass
/// exceeds [`MASS_CAP`] (tokens near `tau`, where `q_t / kappa` is close to one), a reject is
/// unlikely and a keep needs few columns, so the rule is not applied.
fn first_columns(step: &Step, token: u32, rows: usize) -> Vec<u32> {
    let base = first_column_count(rows);
    let needed = MASS_FACTOR * step.q()[token as usize] / step.kappa();
    let mut k = base;
    loop {
        let top = step.most_probable(k);
        if needed > MASS_CAP {
            return top;
        }
        let mut mass = 0.0;
        let reached = top.iter().position(|&j| {
            mass += step.q()[j as usize];
            mass >= needed
        });
        match reached {
            Some(p) => return top[..(p + 1).max(base).min(top.len())].to_vec(),
            None if top.len() < k => return top,
            None => k *= 4,
        }
    }
}

/// A token's place in a restricted LP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Fixed at `p_j = q_j`.
    Outside,
    /// A column of the LP.
    Column,
    /// Tested: minimised alone, or fixed at zero with the rest of its set.
    Target,
}

/// Tokens outside the LP that the dual vector `y` does not yet cover, largest term `q_j g(s_j)`
/// first, at most `limit`, until what is left outside adds less than [`PRICING_COVER`] of the
/// slack; empty when the slack covers them all already. The slack is
/// `sum_{targets} q_i s_i - sum_{columns} q_j g(s_j)`: the keep inequality for one target, the
/// Farkas inequality for a set of them. When `y` has no slack even on its own columns, the next
/// most probable tokens are offered instead.
fn price(step: &Step, basis: &Basis, y: &[f64], role: &[Role], limit: usize) -> Vec<u32> {
    let (q, kappa, m) = (step.q(), step.kappa(), basis.dim());
    let mut s = vec![0.0; q.len()];
    basis.dots(&y[..m], &mut s);
    let term = |j: usize| {
        let sj = s[j] + y[m];
        q[j] * if sj > 0.0 { kappa * sj } else { -sj }
    };
    let outside_term = |j: usize| {
        if role[j] == Role::Outside {
            term(j)
        } else {
            0.0
        }
    };
    // Only terms at or above the floor are candidates, unless fewer than `limit` reach it; the
    // `limit` largest are the same either way (see `sampled_floor`).
    let floor = sampled_floor(q.len(), limit, &outside_term);
    let (mut slack, mut outside) = (0.0, 0.0);
    let mut candidates = Vec::new();
    // Token order, not probability order: the rows are read sequentially, which is what makes
    // this pass cheap (measured 3.4 ms in probability order, V = 49152, m = 20).
    for (j, ((&qj, &r), &bj)) in q.iter().zip(role).zip(&s).enumerate() {
        if qj == 0.0 {
            continue;
        }
        let sj = bj + y[m];
        let t = qj * if sj > 0.0 { kappa * sj } else { -sj };
        match r {
            Role::Target => slack += qj * sj,
            Role::Column => slack -= t,
            Role::Outside if t > 0.0 => {
                outside += t;
                if t >= floor {
                    candidates.push((t, j as u32));
                }
            }
            Role::Outside => {}
        }
    }
    if candidates.len() < limit && floor > 0.0 {
        candidates = (0..q.len())
            .filter_map(|j| {
                let t = outside_term(j);
                (q[j] != 0.0 && t > 0.0).then_some((t, j as u32))
            })
            .collect();
    }
    if slack <= 0.0 {
        return step
            .by_probability()
            .iter()
            .copied()
            .filter(|&j| role[j as usize] == Role::Outside)
            .take(limit)
            .collect();
    }
    if outside < PRICING_SAFETY * slack {
        return Vec::new();
    }
    let take = limit.min(candidates.len());
    if take < candidates.len() {
        candidates.select_nth_unstable_by(take, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        candidates.truncate(take);
    }
    candidates.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut remaining = outside;
    candidates
        .into_iter()
        .take_while(|&(t, _)| {
            let needed = remaining >= PRICING_COVER * slack;
            remaining -= t;
            needed
        })
        .map(|(_, j)| j)
        .collect()
}

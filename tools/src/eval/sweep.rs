//! Every method over its parameter grid on every context: the threshold rule alone, and BAT over
//! the same rule with each basis. Decisions come from the crate's public API (`Step` and
//! `decide_tokens` over the whole vocabulary with the simplex backend), with `q` computed in f64
//! from the f32 `W` so the basis and the distribution are exactly the fitted model's.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::time::Duration;

use rayon::prelude::*;

use basis_aware::backends::SimplexBackend;
use basis_aware::{decide_tokens, Basis, Result, Rule, Step, ThresholdRule};

use crate::eval::fit::{Model, Stationarity};
use crate::eval::support::{box_sigma, Score, STATIONARY_TOL};
use crate::eval::world::World;

/// One method: a threshold rule alone, or BAT with a basis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The threshold rule alone.
    Threshold,
    /// BAT with the full `W`.
    BatFull,
    /// BAT with the top-`c` SVD basis.
    BatSvd(usize),
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Method::Threshold => write!(f, "threshold"),
            Method::BatFull => write!(f, "BAT full"),
            Method::BatSvd(c) => write!(f, "BAT c={c}"),
        }
    }
}

/// One family's grid: the rules to run, in order of increasing strictness or not.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Family name (`epsilon`, `eta`, ...).
    pub name: String,
    /// `(parameter, rule)` pairs of the grid.
    pub rules: Vec<(f64, Rule)>,
}

/// A method at one parameter, averaged over the contexts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    /// The rule's parameter.
    pub param: f64,
    /// Mean share of the vocabulary rejected.
    pub rejection: f64,
    /// Mean share of the tokens outside the support rejected.
    pub outside_rejection: f64,
    /// Mean share of kept tokens inside the true support.
    pub precision: f64,
    /// Mean share of the true support kept.
    pub recall: f64,
    /// Mean kept-set size.
    pub kept: f64,
    /// Tokens left undecided (counted as rejected), summed over contexts.
    pub undecided: usize,
}

/// One method of one family across its grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Family name.
    pub family: String,
    /// The method.
    pub method: Method,
    /// One point per parameter of the grid.
    pub points: Vec<CurvePoint>,
}

/// The theorem's checks, over every (context, rule, BAT basis) evaluated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Soundness {
    /// BAT kept sets that miss a token the threshold keeps (must be zero).
    pub containment_failures: usize,
    /// Evaluations in a stationary context where the box holds at the threshold in force.
    pub covered: usize,
    /// Tokens BAT kept in covered evaluations, and those among them kept below `tau`.
    pub kept_checked: usize,
    /// Tokens kept below `tau` in covered evaluations.
    pub below_tau_checked: usize,
    /// Tokens kept with `p* = 0` in covered evaluations (the theorem says zero).
    pub violations: usize,
}

/// The sweep's results.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// One curve per family and method.
    pub curves: Vec<Curve>,
    /// The theorem's checks.
    pub soundness: Soundness,
    /// Contexts counted as stationary (residual at most [`STATIONARY_TOL`]).
    pub stationary: usize,
}

/// One context's cells: per rule, per method (threshold first), the score and the number of
/// undecided tokens.
type ContextRows = Vec<Vec<(Score, usize)>>;

/// Runs every family's grid with the threshold and with BAT over `bases` on every context
/// (contexts in parallel on rayon's pool). `time_limit` bounds each LP solve; a token whose
/// solve runs out is undecided, counted as rejected and reported.
pub fn sweep(
    world: &World,
    model: &Model,
    stationarity: &[Stationarity],
    families: &[Family],
    bases: &[(Method, Basis)],
    time_limit: Duration,
) -> Result<Sweep> {
    let vocab = world.vocab;
    let all: Vec<u32> = (0..vocab as u32).collect();
    let per_context: Vec<(ContextRows, Soundness)> = (0..world.contexts())
        .into_par_iter()
        .map(|c| -> Result<_> {
            let q = model.probabilities(c);
            let p_star = world.dense(c);
            let needed_sigma = box_sigma(&q, &p_star);
            let stationary = stationarity[c].residual <= STATIONARY_TOL;
            let mut backend = SimplexBackend::with_time_limit(time_limit);
            // BAT's decisions depend on the threshold only; rules that land on the same tau
            // share them.
            let mut cache: HashMap<(usize, u64), (Vec<u32>, usize)> = HashMap::new();
            let mut soundness = Soundness::default();
            let mut rows = Vec::new();
            for family in families {
                for (_, rule) in &family.rules {
                    let tau = rule.threshold(&q)?;
                    let step = Step::from_probabilities(q.clone(), tau)?;
                    let threshold_kept: Vec<u32> = all
                        .iter()
                        .copied()
                        .filter(|&j| step.above_threshold(j))
                        .collect();
                    let mut row = vec![(Score::of(&threshold_kept, &p_star), 0)];
                    for (b, (_, basis)) in bases.iter().enumerate() {
                        let key = (b, step.tau().to_bits());
                        if let Entry::Vacant(slot) = cache.entry(key) {
                            slot.insert(bat_kept(&step, basis, &mut backend)?);
                        }
                        let (kept, undecided) = &cache[&key];
                        if threshold_kept
                            .iter()
                            .any(|t| kept.binary_search(t).is_err())
                        {
                            soundness.containment_failures += 1;
                        }
                        if stationary && step.sigma() >= needed_sigma {
                            soundness.covered += 1;
                            soundness.kept_checked += kept.len();
                            soundness.below_tau_checked +=
                                kept.iter().filter(|&&t| !step.above_threshold(t)).count();
                            soundness.violations +=
                                kept.iter().filter(|&&t| p_star[t as usize] == 0.0).count();
                        }
                        row.push((Score::of(kept, &p_star), *undecided));
                    }
                    rows.push(row);
                }
            }
            Ok((rows, soundness))
        })
        .collect::<Result<_>>()?;
    let methods: Vec<Method> = std::iter::once(Method::Threshold)
        .chain(bases.iter().map(|(m, _)| *m))
        .collect();
    let contexts = per_context.len() as f64;
    let mut curves = Vec::new();
    let mut row_index = 0;
    for family in families {
        let first_row = row_index;
        row_index += family.rules.len();
        for (k, &method) in methods.iter().enumerate() {
            let points = family
                .rules
                .iter()
                .enumerate()
                .map(|(r, &(param, _))| {
                    let cells = per_context.iter().map(|(rows, _)| rows[first_row + r][k]);
                    let mean = |f: fn(&Score) -> f64| {
                        cells.clone().map(|(s, _)| f(&s)).sum::<f64>() / contexts
                    };
                    CurvePoint {
                        param,
                        rejection: mean(Score::rejection),
                        outside_rejection: mean(Score::outside_rejection),
                        precision: mean(Score::precision),
                        recall: mean(Score::recall),
                        kept: mean(|s| s.kept as f64),
                        undecided: cells.clone().map(|(_, u)| u).sum(),
                    }
                })
                .collect();
            curves.push(Curve {
                family: family.name.clone(),
                method,
                points,
            });
        }
    }
    let mut soundness = Soundness::default();
    for (_, s) in &per_context {
        soundness.containment_failures += s.containment_failures;
        soundness.covered += s.covered;
        soundness.kept_checked += s.kept_checked;
        soundness.below_tau_checked += s.below_tau_checked;
        soundness.violations += s.violations;
    }
    Ok(Sweep {
        curves,
        soundness,
        stationary: stationarity
            .iter()
            .filter(|s| s.residual <= STATIONARY_TOL)
            .count(),
    })
}

/// Tokens below `tau` decided first, most probable first. When the backend leaves every one of
/// them undecided, the rest are not sent to it: they are counted as undecided (rejected) without
/// a solve. This only saves time: on steps whose `q` spans tens of orders of magnitude the
/// simplex backend's reject points fail verification token after token (seconds per mask).
const HEAD: usize = 64;

/// BAT's kept set (ascending) and the number of undecided tokens at `step`'s threshold.
fn bat_kept(step: &Step, basis: &Basis, backend: &mut SimplexBackend) -> Result<(Vec<u32>, usize)> {
    let below = step.below_threshold();
    let (head, rest) = below.split_at(HEAD.min(below.len()));
    let mut kept: Vec<u32> =
        step.by_probability()[..step.by_probability().len() - below.len()].to_vec();
    let mut undecided = 0;
    for (k, part) in [head, rest].into_iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if k == 1 && undecided == head.len() {
            undecided += part.len();
            break;
        }
        let (outcomes, counts) = decide_tokens(step, basis, part, Some(&mut *backend))?;
        kept.extend(
            part.iter()
                .zip(&outcomes)
                .filter(|(_, o)| o.is_keep())
                .map(|(&t, _)| t),
        );
        undecided += counts.undecided;
    }
    kept.sort_unstable();
    Ok((kept, undecided))
}

/// `value` at rejection rate `target` on a curve of `(rejection, value)` points, by linear
/// interpolation between the two grid points around it; `None` outside the swept range.
pub fn at_rejection(points: &[(f64, f64)], target: f64) -> Option<f64> {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    sorted.windows(2).find_map(|pair| {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        (x0 <= target && target <= x1).then(|| {
            if x1 > x0 {
                y0 + (y1 - y0) * (target - x0) / (x1 - x0)
            } else {
                y0.max(y1)
            }
        })
    })
}

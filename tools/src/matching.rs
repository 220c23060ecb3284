//! Matching samplers on human text: the parameter at which a rule starts rejecting a given token,
//! alone or under BAT. The paper compares methods at parameters that reject the same share of
//! human-written next tokens; with one boundary per token, every method's rejection rate is a
//! sorted list, and the parameter for any rate is read off it without re-running the sampler.
//!
//! Every rule turns its parameter into a threshold `tau` monotonically, and a token is rejected
//! exactly when `tau` exceeds a level: its own probability `q_i` for the rule alone (ties at
//! `tau` are kept), its critical threshold ([`basis_aware::critical_threshold`]) under BAT. So one map
//! from a level to a parameter serves both.

use basis_aware::{
    critical_threshold_up_to, Backend, Basis, Error, Result, Rule, Step, CRITICAL_REL_TOL, TAU_CAP,
};

/// The rules whose threshold moves with a real parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Family {
    /// Epsilon sampling.
    Epsilon,
    /// Eta sampling.
    Eta,
    /// Nucleus (top-p) sampling.
    TopP,
    /// Min-p sampling.
    MinP,
}

impl Family {
    /// Every family, in the order reports list them.
    pub const ALL: [Family; 4] = [Family::Epsilon, Family::Eta, Family::TopP, Family::MinP];

    /// The rule at `parameter` (checked by [`Rule::validate`] when it is used).
    pub fn rule(self, parameter: f64) -> Rule {
        match self {
            Family::Epsilon => Rule::Epsilon(parameter),
            Family::Eta => Rule::Eta(parameter),
            Family::TopP => Rule::TopP(parameter),
            Family::MinP => Rule::MinP(parameter),
        }
    }

    /// The name [`Rule`]'s parser and printer use.
    pub fn name(self) -> &'static str {
        match self {
            Family::Epsilon => "epsilon",
            Family::Eta => "eta",
            Family::TopP => "top-p",
            Family::MinP => "min-p",
        }
    }

    /// Whether a larger parameter rejects more (epsilon, eta, min-p); top-p rejects more as `p`
    /// shrinks.
    pub fn rejects_more_upward(self) -> bool {
        !matches!(self, Family::TopP)
    }

    /// Whether the rule at `parameter` rejects a token whose boundary ([`Family::boundary`]) is
    /// `boundary`: `parameter > boundary` upward, `parameter <= boundary` for top-p.
    pub fn rejects(self, parameter: f64, boundary: f64) -> bool {
        if self.rejects_more_upward() {
            parameter > boundary
        } else {
            parameter <= boundary
        }
    }

    /// The parameter at which the rule's threshold on `q` crosses `level`: a token that is
    /// rejected exactly when `tau > level` is rejected by the rule at parameter `x` exactly
    /// when `self.rejects(x, boundary)`. `None` when no valid parameter rejects it, because the
    /// threshold never exceeds `level` (it is capped at `max q`, see [`Step::new`]).
    pub fn boundary(self, q: &[f64], level: f64) -> Result<Option<f64>> {
        if q.is_empty() {
            return Err(Error::EmptyVocabulary);
        }
        if !(level.is_finite() && level >= 0.0) {
            return Err(Error::Threshold(format!(
                "a rejection level must be finite and >= 0, got {level}"
            )));
        }
        let q_max = q.iter().copied().fold(0.0, f64::max);
        if level >= q_max.min(TAU_CAP) {
            return Ok(None);
        }
        let (parameter, limit) = match self {
            Family::Epsilon => (level, 1.0),
            Family::Eta => {
                // tau = min(eta, sqrt(eta) e^-H): eta itself up to eta = e^-2H, then
                // (tau e^H)^2. The entropy is summed exactly as `Rule::Eta` sums it.
                let entropy: f64 = q.iter().filter(|&&v| v > 0.0).map(|&v| -v * v.ln()).sum();
                let e = (-entropy).exp();
                let eta = if level <= e * e {
                    level
                } else {
                    (level / e).powi(2)
                };
                (eta, 1.0)
            }
            Family::MinP => (level / q_max, 1.0 + f64::EPSILON),
            Family::TopP => {
                // tau is the probability at which the cumulative mass (by decreasing q, summed
                // in `Rule::TopP`'s order) first reaches p; it exceeds `level` exactly when p is
                // at most the mass of the tokens above the level.
                let mut sorted: Vec<f64> = q.iter().copied().filter(|&v| v > level).collect();
                sorted.sort_unstable_by(|a, b| b.total_cmp(a));
                let mass = sorted.iter().fold(0.0, |total, v| total + v);
                return Ok((mass > 0.0).then_some(mass.min(1.0)));
            }
        };
        Ok((parameter < limit).then_some(parameter))
    }
}

/// How far [`bat_boundary`] searches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatSearch {
    /// Relative width the bisection aims for ([`CRITICAL_REL_TOL`] by default).
    pub rel_tol: f64,
    /// Widest bracket still reported as a boundary: probes near the critical value can be
    /// undecided, which stops the bisection early (1% by default).
    pub max_width: f64,
    /// Largest `tau` searched (see [`critical_threshold_up_to`]; 1, i.e. up to `max q`, by
    /// default).
    pub max_tau: f64,
}

impl Default for BatSearch {
    fn default() -> Self {
        Self {
            rel_tol: CRITICAL_REL_TOL,
            max_width: 1e-2,
            max_tau: 1.0,
        }
    }
}

/// Where BAT over a rule starts rejecting a token: the critical threshold's certified bracket,
/// mapped to the rule's parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct BatBoundary {
    /// The critical threshold's ends in `tau`: kept at `kept_tau`, rejected at `rejected_tau`
    /// (`None` if no probe was certified rejected: when `decided`, the token is kept at every
    /// `tau` up to `kept_tau`, which is `max q` or the search's cap).
    pub kept_tau: f64,
    /// A threshold at which the token is rejected, if one was certified.
    pub rejected_tau: Option<f64>,
    /// Whether the bracket is at most [`BatSearch::max_width`] wide, or the token is kept up
    /// to the cap. An undecided token has no boundary to report, only the bracket.
    pub decided: bool,
    /// Decisions the search made.
    pub probes: usize,
}

impl BatBoundary {
    /// The bracket in `family`'s parameter, `(kept at, rejected at)`, each `None` where no valid
    /// parameter reaches that end; meaningful as a boundary only when `decided`.
    pub fn parameters(&self, family: Family, q: &[f64]) -> Result<(Option<f64>, Option<f64>)> {
        let kept = family.boundary(q, self.kept_tau)?;
        let rejected = match self.rejected_tau {
            Some(tau) => family.boundary(q, tau)?,
            None => None,
        };
        Ok((kept, rejected))
    }
}

/// Brackets the `tau` at which BAT rejects `token` on `step`'s distribution (see
/// [`critical_threshold_up_to`]) and says whether the bracket is decided.
pub fn bat_boundary(
    step: &Step,
    basis: &Basis,
    token: u32,
    backend: &mut dyn Backend,
    search: &BatSearch,
) -> Result<BatBoundary> {
    let valid = search.max_width.is_finite() && search.max_width >= search.rel_tol;
    if !valid {
        return Err(Error::Threshold(format!(
            "the widest bracket reported ({}) must be at least the bisection's tolerance ({})",
            search.max_width, search.rel_tol
        )));
    }
    let found =
        critical_threshold_up_to(step, basis, token, backend, search.rel_tol, search.max_tau)?;
    let rejected_tau = found.rejected_at.as_ref().map(|(tau, _)| *tau);
    let decided = match rejected_tau {
        Some(tau) => tau <= found.kept_at * (1.0 + search.max_width),
        None => found.undecided.is_none(),
    };
    Ok(BatBoundary {
        kept_tau: found.kept_at,
        rejected_tau,
        decided,
        probes: found.probes,
    })
}

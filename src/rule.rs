//! Threshold rules: each turns a distribution into the threshold `tau` below which a plain
//! threshold sampler would drop a token. Semantics follow Hugging Face transformers' logits
//! warpers, stated as a threshold so BAT can take over below it.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Anything that picks a threshold for a distribution. Closures `Fn(&[f64]) -> f64` implement it,
/// which is the hook for custom rules.
pub trait ThresholdRule {
    /// The threshold `tau` for the distribution `q` (entries `>= 0`, summing to one). Tokens with
    /// `q_j >= tau` are kept by the threshold alone.
    fn threshold(&self, q: &[f64]) -> Result<f64>;
}

impl<F: Fn(&[f64]) -> f64> ThresholdRule for F {
    fn threshold(&self, q: &[f64]) -> Result<f64> {
        Ok(self(q))
    }
}

/// The standard truncation samplers, as thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Rule {
    /// Epsilon sampling: `tau = epsilon`, `epsilon` in `(0, 1)`.
    Epsilon(f64),
    /// Eta sampling: `tau = min(eta, sqrt(eta) * exp(-H(q)))`, `H` in nats, `eta` in `(0, 1)`.
    Eta(f64),
    /// Nucleus: `tau` is the probability of the first token (by decreasing `q`) at which the
    /// cumulative mass reaches `p`, `p` in `(0, 1]`.
    TopP(f64),
    /// `tau` is the `k`-th largest probability, `k >= 1`.
    TopK(usize),
    /// `tau = min_p * max(q)`, `min_p` in `(0, 1]`.
    MinP(f64),
}

impl Rule {
    /// Checks the parameter's range; [`ThresholdRule::threshold`] calls it too.
    pub fn validate(&self) -> Result<()> {
        let open_unit = |name: &str, v: f64| {
            if v > 0.0 && v < 1.0 {
                Ok(())
            } else {
                Err(Error::Threshold(format!(
                    "{name} must lie in (0, 1), got {v}"
                )))
            }
        };
        let half_open_unit = |name: &str, v: f64| {
            if v > 0.0 && v <= 1.0 {
                Ok(())
            } else {
                Err(Error::Threshold(format!(
                    "{name} must lie in (0, 1], got {v}"
                )))
            }
        };
        match *self {
            Rule::Epsilon(e) => open_unit("epsilon", e),
            Rule::Eta(e) => open_unit("eta", e),
            Rule::TopP(p) => half_open_unit("top-p", p),
            Rule::MinP(p) => half_open_unit("min-p", p),
            Rule::TopK(0) => Err(Error::Threshold("top-k must be at least 1".into())),
            Rule::TopK(_) => Ok(()),
        }
    }
}

impl ThresholdRule for Rule {
    fn threshold(&self, q: &[f64]) -> Result<f64> {
        self.validate()?;
        let smallest_positive = || {
            q.iter()
                .copied()
                .filter(|&v| v > 0.0)
                .fold(f64::INFINITY, f64::min)
        };
        Ok(match *self {
            Rule::Epsilon(e) => e,
            Rule::Eta(eta) => {
                let entropy: f64 = q.iter().filter(|&&v| v > 0.0).map(|&v| -v * v.ln()).sum();
                eta.min(eta.sqrt() * (-entropy).exp())
            }
            Rule::TopP(p) => {
                let mut sorted: Vec<f64> = q.iter().copied().filter(|&v| v > 0.0).collect();
                sorted.sort_unstable_by(|a, b| b.total_cmp(a));
                let mut cumulative = 0.0;
                sorted
                    .iter()
                    .copied()
                    .find(|&v| {
                        cumulative += v;
                        cumulative >= p
                    })
                    .unwrap_or_else(smallest_positive)
            }
            Rule::TopK(k) => {
                let mut positive: Vec<f64> = q.iter().copied().filter(|&v| v > 0.0).collect();
                if k >= positive.len() {
                    smallest_positive()
                } else {
                    *positive
                        .select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a))
                        .1
                }
            }
            Rule::MinP(p) => p * q.iter().copied().fold(0.0, f64::max),
        })
    }
}

impl FromStr for Rule {
    type Err = Error;

    /// Parses `eta=0.0009`, `epsilon=3e-4`, `top-p=0.9`, `top-k=40`, `min-p=0.05`.
    fn from_str(text: &str) -> Result<Self> {
        let (name, value) = text.split_once('=').ok_or_else(|| {
            Error::Threshold(format!(
                "expected NAME=VALUE (e.g. eta=0.0009), got `{text}`"
            ))
        })?;
        let number = || {
            value
                .trim()
                .parse::<f64>()
                .map_err(|_| Error::Threshold(format!("`{value}` is not a number")))
        };
        let rule = match name.trim() {
            "epsilon" => Rule::Epsilon(number()?),
            "eta" => Rule::Eta(number()?),
            "top-p" | "top_p" => Rule::TopP(number()?),
            "min-p" | "min_p" => Rule::MinP(number()?),
            "top-k" | "top_k" => Rule::TopK(value.trim().parse::<usize>().map_err(|_| {
                Error::Threshold(format!("top-k needs a positive integer, got `{value}`"))
            })?),
            other => {
                return Err(Error::Threshold(format!(
                    "unknown rule `{other}`: use epsilon, eta, top-p, top-k or min-p"
                )))
            }
        };
        rule.validate()?;
        Ok(rule)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Epsilon(v) => write!(f, "epsilon={v}"),
            Rule::Eta(v) => write!(f, "eta={v}"),
            Rule::TopP(v) => write!(f, "top-p={v}"),
            Rule::TopK(v) => write!(f, "top-k={v}"),
            Rule::MinP(v) => write!(f, "min-p={v}"),
        }
    }
}

//! Scoring a kept set against the true support, and the two hypotheses of the soundness theorem
//! checked per context: stationarity (`W^T q = W^T p*` within a tolerance) and the box
//! (`p*_j <= sigma q_j` for every token).

/// Largest `|W^T (q - p*)|_inf` at which a context counts as stationary. The Newton re-solve
/// reaches about `1e-14`; the verifier's keep margin (`KEEP_MARGIN_TOL`, `1e-9` relative) is far
/// above this, so a keep certificate cannot be an artefact of the residual.
pub const STATIONARY_TOL: f64 = 1e-10;

/// How one kept set scores against one context's true support.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Score {
    /// Tokens kept.
    pub kept: usize,
    /// Kept tokens with `p* > 0`.
    pub true_positives: usize,
    /// Size of the true support.
    pub support: usize,
    /// Vocabulary size.
    pub vocab: usize,
}

impl Score {
    /// `kept` scored against `p_star` (dense).
    pub fn of(kept: &[u32], p_star: &[f64]) -> Self {
        Self {
            kept: kept.len(),
            true_positives: kept.iter().filter(|&&j| p_star[j as usize] > 0.0).count(),
            support: p_star.iter().filter(|&&v| v > 0.0).count(),
            vocab: p_star.len(),
        }
    }

    /// Share of the kept tokens that are in the support (one when nothing is kept).
    pub fn precision(&self) -> f64 {
        if self.kept == 0 {
            1.0
        } else {
            self.true_positives as f64 / self.kept as f64
        }
    }

    /// Share of the support that is kept.
    pub fn recall(&self) -> f64 {
        self.true_positives as f64 / self.support.max(1) as f64
    }

    /// Share of the vocabulary rejected.
    pub fn rejection(&self) -> f64 {
        1.0 - self.kept as f64 / self.vocab as f64
    }

    /// Share of the tokens outside the support that are rejected.
    pub fn outside_rejection(&self) -> f64 {
        let outside = self.vocab - self.support;
        if outside == 0 {
            1.0
        } else {
            1.0 - (self.kept - self.true_positives) as f64 / outside as f64
        }
    }
}

/// The least `sigma` for which the box holds, `max_j p*_j / q_j` (infinite if some `q_j = 0 <
/// p*_j`); the box holds at threshold `tau` when `1 / (1 - tau)` reaches it.
pub fn box_sigma(q: &[f64], p_star: &[f64]) -> f64 {
    q.iter()
        .zip(p_star)
        .filter(|(_, &p)| p > 0.0)
        .map(|(&q, &p)| p / q)
        .fold(0.0, f64::max)
}

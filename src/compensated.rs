//! Error-free transformations and compensated (doubled-precision) dot products, with the
//! rigorous error bounds the verifier relies on. `u` is the unit roundoff `2^-53`.
//!
//! - `two_sum(a, b) = (s, e)` with `s = fl(a + b)` and `s + e = a + b` exactly (Knuth).
//! - `two_prod(a, b) = (p, e)` with `p = fl(a b)` and `p + e = a b` exactly (one FMA), unless
//!   `a b` is below `2^-969` in magnitude, where `e` may lose bits to underflow (each such loss is
//!   at most [`ETA`], which the bounds below add per term).
//! - [`Dot2`] sums products this way (algorithm Dot2 of Ogita, Rump and Oishi, "Accurate sum and
//!   dot product", SIAM J. Sci. Comput. 26(6), 2005): for `n` terms its result `res` satisfies
//!   `|res - x.y| <= u |x.y| + gamma_n^2 sum |x_k y_k|` (their Proposition 5.5), so the computed
//!   residual of a point is as accurate as if it were summed in twice the working precision and
//!   then rounded once.

/// Unit roundoff of f64.
pub(crate) const U: f64 = f64::EPSILON / 2.0;

/// The smallest positive f64 (a subnormal): the most any one operation can lose to underflow.
pub(crate) const ETA: f64 = f64::from_bits(1);

/// `gamma_n = n u / (1 - n u)` (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd
/// ed., Lemma 3.1): the relative error bound of `n` successive roundings. Infinite when `n u >= 1`.
pub(crate) fn gamma(n: usize) -> f64 {
    let nu = n as f64 * U;
    if nu >= 0.5 {
        f64::INFINITY
    } else {
        nu / (1.0 - nu)
    }
}

#[inline]
pub(crate) fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

#[inline]
pub(crate) fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

/// A running compensated dot product `sum_k x_k y_k` (see the module documentation).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Dot2 {
    sum: f64,
    compensation: f64,
    /// `sum |x_k y_k|` in plain floating point (the scale of the error bound).
    magnitude: f64,
    terms: usize,
}

impl Dot2 {
    /// Adds `x y`.
    #[inline]
    pub fn add_product(&mut self, x: f64, y: f64) {
        let (p, e) = two_prod(x, y);
        let (s, c) = two_sum(self.sum, p);
        self.sum = s;
        self.compensation += c + e;
        self.magnitude += p.abs();
        self.terms += 1;
    }

    /// Adds `x` (a product with one).
    #[inline]
    pub fn add(&mut self, x: f64) {
        let (s, c) = two_sum(self.sum, x);
        self.sum = s;
        self.compensation += c;
        self.magnitude += x.abs();
        self.terms += 1;
    }

    /// The rounded result.
    pub fn value(&self) -> f64 {
        self.sum + self.compensation
    }

    /// A bound on `|value() - exact|`: Ogita, Rump and Oishi's `u |exact| + gamma_n^2 sum |x_k
    /// y_k|`, with `|exact|` bounded by `|value| + bound` (solved for the bound), the magnitude
    /// sum's own rounding (`gamma_n`) and one [`ETA`] of underflow per term and per
    /// operation, all doubled to cover the rounding of this bound's own arithmetic.
    pub fn error_bound(&self) -> f64 {
        let n = self.terms.max(1);
        let g = gamma(n + 1);
        let magnitude = self.magnitude * (1.0 + g);
        let raw = U * self.value().abs() + g * g * magnitude + 4.0 * n as f64 * ETA;
        2.0 * raw / (1.0 - U)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_free_transformations_are_exact() {
        let (s, e) = two_sum(1.0, 1e-20);
        assert_eq!((s, e), (1.0, 1e-20));
        let a = 1.0 + f64::EPSILON;
        let (p, e) = two_prod(a, a);
        // (1 + eps)^2 = 1 + 2 eps + eps^2: the square term is the error.
        assert_eq!(p, 1.0 + 2.0 * f64::EPSILON);
        assert_eq!(e, f64::EPSILON * f64::EPSILON);
    }

    #[test]
    fn a_cancelling_sum_keeps_its_small_term() {
        // Large moves that cancel and one small one: a plain sum loses the small term entirely.
        let mut dot = Dot2::default();
        for (x, y) in [(0.3, 1e8), (1e-11, 1.0), (-0.3, 1e8)] {
            dot.add_product(x, y);
        }
        assert!((dot.value() - 1e-11).abs() <= dot.error_bound());
        assert!(dot.error_bound() < 1e-20);
        let plain = 0.3 * 1e8 + 1e-11 - 0.3 * 1e8;
        assert_eq!(plain, 0.0);
    }
}

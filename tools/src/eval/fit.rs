//! The fitted model: a rank-`d` softmax `q_c = softmax(W h_c)` with one `W` (`V x d`) shared by
//! all contexts, fitted to the world's `p*` by minimising the mean cross-entropy with Adam on `W`
//! and every `h_c` jointly (full batch, f64).
//!
//! The bottleneck identity `W^T q_c = W^T p*_c` holds only where the gradient in `h_c` vanishes,
//! and Adam leaves a residual. So after Adam, `W` is rounded to f32 (the precision the crate's
//! `Basis` holds, so the LP sees exactly the fitted `W`) and each `h_c` is re-solved by Newton's
//! method: the cross-entropy is convex in `h_c`, and Newton drives `|W^T (q_c - p*_c)|` to f64
//! rounding wherever a finite minimiser exists. Both residuals are reported.

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use basis_aware::{Error, MatrixView, Result};

use crate::eval::world::World;
use basis_aware::synthetic;

/// Adam's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct FitConfig {
    /// Hidden size `d`.
    pub dim: usize,
    /// Full-batch Adam steps.
    pub steps: usize,
    /// Initial learning rate; it decays along a cosine to a hundredth of it by the last step.
    pub learning_rate: f64,
    /// Seed of the initial hidden states.
    pub seed: u64,
}

/// Residual at which Newton stops: `|W^T (q - p*)|_inf`, near f64 rounding of sums of `V` terms
/// of size one.
const NEWTON_TARGET: f64 = 1e-14;
/// Newton iterations per context before giving up (a context whose minimiser is at infinity).
const NEWTON_MAX_ITERATIONS: usize = 200;

/// One Adam step's record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TracePoint {
    /// Adam step index.
    pub step: usize,
    /// Mean cross-entropy over the contexts, nats.
    pub loss: f64,
    /// Euclidean norm of the gradient of the mean loss in all parameters (`W` and every `h_c`).
    pub grad_norm: f64,
    /// Largest `|W^T (q_c - p*_c)|_inf` over contexts (the bottleneck residual).
    pub max_residual: f64,
}

/// A fitted rank-`d` softmax model.
#[derive(Debug, Clone)]
pub struct Model {
    vocab: usize,
    dim: usize,
    /// Row-major `V x d`, f32: the matrix the basis is built from.
    w: Vec<f32>,
    /// `W` as f64 (exactly the f32 values), column-major for the products.
    w64: DMatrix<f64>,
    /// One hidden state per context, `d` entries each.
    h: Vec<DVector<f64>>,
}

/// Per-context stationarity after Adam and after the Newton re-solve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stationarity {
    /// `|W^T (q_c - p*_c)|_inf` with Adam's `W` (f64) and `h_c`.
    pub adam_residual: f64,
    /// The same after `W` is rounded to f32 and `h_c` re-solved by Newton (Adam's `h_c` where
    /// Newton found no finite minimiser).
    pub residual: f64,
    /// Newton iterations to convergence; `NEWTON_MAX_ITERATIONS` (200) where it did not converge.
    pub newton_iterations: usize,
}

impl Model {
    /// Vocabulary size `V`.
    pub fn vocab(&self) -> usize {
        self.vocab
    }

    /// Hidden size `d`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The output embedding, as the crate's basis constructors take it.
    pub fn embedding(&self) -> MatrixView<'_> {
        MatrixView::new(&self.w, self.vocab, self.dim).expect("the shape is checked at fit time")
    }

    /// `q_c = softmax(W h_c)`, computed in f64 from the f32 `W`.
    pub fn probabilities(&self, context: usize) -> Vec<f64> {
        let mut q: Vec<f64> = (&self.w64 * &self.h[context]).iter().copied().collect();
        softmax_in_place(&mut q);
        q
    }

    /// `|W^T (q_c - p*_c)|_inf` for this model.
    pub fn residual(&self, context: usize, p_star: &[f64]) -> f64 {
        gradient(&self.w64, &self.probabilities(context), p_star).amax()
    }
}

/// Fits the model with Adam, then rounds `W` to f32 and re-solves each `h_c` by Newton. Returns
/// the model, Adam's trace (one point per step) and each context's stationarity.
pub fn fit(
    world: &World,
    config: &FitConfig,
) -> Result<(Model, Vec<TracePoint>, Vec<Stationarity>)> {
    let (vocab, contexts, dim) = (world.vocab, world.contexts(), config.dim);
    if dim == 0 || dim > vocab || config.steps == 0 {
        return Err(Error::Shape(format!(
            "the fit needs 1 <= dim <= vocab ({vocab}) and at least one step, got dim {dim}, {} steps",
            config.steps
        )));
    }
    if !(config.learning_rate.is_finite() && config.learning_rate > 0.0) {
        return Err(Error::Shape(format!(
            "learning rate must be positive, got {}",
            config.learning_rate
        )));
    }
    let mut rng = synthetic::rng(config.seed);
    let scale = 1.0 / (dim as f64).sqrt();
    let mut w = DMatrix::from_fn(vocab, dim, |_, _| synthetic::gaussian(&mut rng) * scale);
    let mut h = DMatrix::from_fn(contexts, dim, |_, _| synthetic::gaussian(&mut rng));
    // Targets as a `V x N` matrix: column `c` is `p*_c`.
    let mut p_star = DMatrix::<f64>::zeros(vocab, contexts);
    for (c, pairs) in world.support.iter().enumerate() {
        for &(j, v) in pairs {
            p_star[(j as usize, c)] = v;
        }
    }
    let mut adam_w = Adam::new(vocab * dim);
    let mut adam_h = Adam::new(contexts * dim);
    let mut trace = Vec::with_capacity(config.steps);
    for step in 0..config.steps {
        let (loss, g_logits) = loss_and_logit_gradient(&w, &h, &p_star);
        let grad_w = &g_logits * &h;
        let grad_h = g_logits.tr_mul(&w);
        let grad_norm = (grad_w.norm_squared() + grad_h.norm_squared()).sqrt();
        // The mean loss divides each context's gradient by N.
        let max_residual = grad_h.amax() * contexts as f64;
        trace.push(TracePoint {
            step,
            loss,
            grad_norm,
            max_residual,
        });
        let progress = step as f64 / config.steps as f64;
        let lr = config.learning_rate
            * (0.01 + 0.99 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()));
        adam_w.step(w.as_mut_slice(), grad_w.as_slice(), lr);
        adam_h.step(h.as_mut_slice(), grad_h.as_slice(), lr);
    }
    let adam_residuals: Vec<f64> = (0..contexts)
        .into_par_iter()
        .map(|c| {
            let mut l: Vec<f64> = (&w * h.row(c).transpose()).iter().copied().collect();
            softmax_in_place(&mut l);
            gradient(&w, &l, p_star.column(c).as_slice()).amax()
        })
        .collect();
    let w32: Vec<f32> = (0..vocab)
        .flat_map(|j| (0..dim).map(move |k| (j, k)))
        .map(|(j, k)| w[(j, k)] as f32)
        .collect();
    let w64 = DMatrix::from_fn(vocab, dim, |j, k| f64::from(w32[j * dim + k]));
    // Where Newton finds no finite minimiser, Adam's `h_c` is kept, with its residual.
    let solved: Vec<(DVector<f64>, f64, usize)> = (0..contexts)
        .into_par_iter()
        .map(|c| {
            let (start, target) = (h.row(c).transpose(), p_star.column(c));
            newton(&w64, target.as_slice(), start.clone()).unwrap_or_else(|| {
                let mut q: Vec<f64> = (&w64 * &start).iter().copied().collect();
                softmax_in_place(&mut q);
                let residual = gradient(&w64, &q, target.as_slice()).amax();
                (start, residual, NEWTON_MAX_ITERATIONS)
            })
        })
        .collect();
    let stationarity = solved
        .iter()
        .zip(&adam_residuals)
        .map(
            |(&(_, residual, newton_iterations), &adam_residual)| Stationarity {
                adam_residual,
                residual,
                newton_iterations,
            },
        )
        .collect();
    let model = Model {
        vocab,
        dim,
        w: w32,
        w64,
        h: solved.into_iter().map(|(h, _, _)| h).collect(),
    };
    Ok((model, trace, stationarity))
}

/// Mean cross-entropy and its gradient in the logits (`V x N`, `(q_c - p*_c) / N` per column).
fn loss_and_logit_gradient(
    w: &DMatrix<f64>,
    h: &DMatrix<f64>,
    p_star: &DMatrix<f64>,
) -> (f64, DMatrix<f64>) {
    let (vocab, contexts) = p_star.shape();
    let mut logits = w * h.transpose();
    let losses: Vec<f64> = logits
        .as_mut_slice()
        .par_chunks_mut(vocab)
        .zip(p_star.as_slice().par_chunks(vocab))
        .map(|(l, p)| {
            let cross: f64 = l.iter().zip(p).map(|(a, b)| a * b).sum();
            let lse = softmax_in_place(l);
            for (qj, pj) in l.iter_mut().zip(p) {
                *qj = (*qj - pj) / contexts as f64;
            }
            lse - cross
        })
        .collect();
    (losses.iter().sum::<f64>() / contexts as f64, logits)
}

/// `W^T (q - p)`.
fn gradient(w: &DMatrix<f64>, q: &[f64], p: &[f64]) -> DVector<f64> {
    let diff = DVector::from_iterator(q.len(), q.iter().zip(p).map(|(a, b)| a - b));
    w.tr_mul(&diff)
}

/// Replaces logits by their softmax (max-shifted) and returns the log-sum-exp.
fn softmax_in_place(l: &mut [f64]) -> f64 {
    let max = l.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for v in l.iter_mut() {
        *v = (*v - max).exp();
        total += *v;
    }
    l.iter_mut().for_each(|v| *v /= total);
    max + total.ln()
}

/// Cross-entropy of `softmax(W h)` to `p`.
fn cross_entropy(w: &DMatrix<f64>, h: &DVector<f64>, p: &[f64]) -> f64 {
    let mut l: Vec<f64> = (w * h).iter().copied().collect();
    let cross: f64 = l.iter().zip(p).map(|(a, b)| a * b).sum();
    softmax_in_place(&mut l) - cross
}

/// Newton's method with backtracking on the convex `h -> CE(p, softmax(W h))`, from `h`. Returns
/// the solution and its residual `|W^T (q - p)|_inf` when it reaches [`NEWTON_TARGET`], with the
/// iterations taken; `None` when it does not (the minimiser is at infinity: the support can be
/// separated from the other tokens along some direction, and the residual only decays as `h`
/// grows without bound).
fn newton(w: &DMatrix<f64>, p: &[f64], mut h: DVector<f64>) -> Option<(DVector<f64>, f64, usize)> {
    let dim = w.ncols();
    let mut value = cross_entropy(w, &h, p);
    for iteration in 0..NEWTON_MAX_ITERATIONS {
        let mut q: Vec<f64> = (w * &h).iter().copied().collect();
        softmax_in_place(&mut q);
        let g = gradient(w, &q, p);
        if g.amax() <= NEWTON_TARGET {
            return Some((h, g.amax(), iteration));
        }
        // Hessian W^T (diag q - q q^T) W.
        let wq = w.tr_mul(&DVector::from_column_slice(&q));
        let scaled = DMatrix::from_fn(w.nrows(), dim, |j, k| w[(j, k)] * q[j].sqrt());
        let mut hessian = scaled.tr_mul(&scaled) - &wq * wq.transpose();
        // A relative ridge far below the curvature keeps Cholesky alive on flat directions.
        let ridge = 1e-12 * hessian.diagonal().amax().max(f64::MIN_POSITIVE);
        for k in 0..dim {
            hessian[(k, k)] += ridge;
        }
        let direction = -hessian.cholesky()?.solve(&g);
        let slope = g.dot(&direction);
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..40 {
            let candidate = &h + &direction * t;
            let next = cross_entropy(w, &candidate, p);
            // Armijo, with room for rounding once the decrease reaches f64 noise.
            if next <= value + 1e-4 * t * slope + 1e-15 * value.abs() {
                (h, value, accepted) = (candidate, next, true);
                break;
            }
            t *= 0.5;
        }
        if !accepted {
            return None;
        }
    }
    None
}

/// Adam (Kingma and Ba) with the usual `beta1 = 0.9`, `beta2 = 0.999`, `eps = 1e-8`.
struct Adam {
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Adam {
    fn new(len: usize) -> Self {
        Self {
            m: vec![0.0; len],
            v: vec![0.0; len],
            t: 0,
        }
    }

    fn step(&mut self, x: &mut [f64], g: &[f64], lr: f64) {
        const B1: f64 = 0.9;
        const B2: f64 = 0.999;
        self.t += 1;
        let (c1, c2) = (1.0 - B1.powi(self.t), 1.0 - B2.powi(self.t));
        for ((x, &g), (m, v)) in x.iter_mut().zip(g).zip(self.m.iter_mut().zip(&mut self.v)) {
            *m = B1 * *m + (1.0 - B1) * g;
            *v = B2 * *v + (1.0 - B2) * g * g;
            *x -= lr * (*m / c1) / ((*v / c2).sqrt() + 1e-8);
        }
    }
}

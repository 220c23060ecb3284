//! k-means fusion (approximate; the paper's code does this): tokens outside the head are grouped
//! by k-means on their basis rows, once per basis, and each group moves as one variable: every
//! member keeps its share of the group's mass, `p_j = lambda_c q_j` with `lambda_c` in
//! `[0, sigma]`. The fused problem is BAT on a small step (the head tokens, the tested token, and
//! one aggregate token per group with `q_c = sum q_j` and row `sum q_j b_j / q_c`), solved by the
//! workspace's backend.
//!
//! Direction of the error: fusing restricts `P_i` (only the points that scale each group
//! uniformly remain). A fused point is a real point of `P_i`, so a fused *reject* is expanded to a
//! certificate over the whole vocabulary and verified like any other: rejects stay exact. A fused
//! *keep* only says that no uniform-per-group point exists; a point that moves members of a group
//! differently may still exist, so fusion **keeps tokens that the exact rule may reject**, never
//! the reverse. Keeps are assumed and labelled `approx-kmeans-fusion`. The measured disagreement
//! with the exact rule on real steps is in docs/performance.md.

use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::{Exactness, Reduction, Workspace};
use crate::backend::TokenProblem;
use crate::basis::Basis;
use crate::certificate::{Certificate, RejectCertificate};
use crate::error::{Error, Result};
use crate::lp::ScaledLp;
use crate::matrix::MatrixView;
use crate::step::Step;

/// Most probable tokens kept as their own variables by default.
pub const DEFAULT_FUSION_HEAD: usize = 256;
/// Lloyd iterations of the clustering (it stops earlier when no row changes group).
const LLOYD_ROUNDS: usize = 20;

/// k-means fusion of the tail; see the module documentation for its direction of error.
#[derive(Debug, Clone)]
pub struct ApproxKMeansFusion {
    /// Group of every token.
    assignment: Arc<[u32]>,
    groups: usize,
    head: usize,
}

impl ApproxKMeansFusion {
    /// Clusters the rows of `basis` into `groups` groups (k-means++ seeding from `seed`, then
    /// Lloyd iterations); costs `O(V groups m)` per iteration, so build it once per basis.
    pub fn new(basis: &Basis, groups: usize, seed: u64) -> Result<Self> {
        if groups == 0 || groups > basis.vocab() {
            return Err(Error::Shape(format!(
                "k-means fusion needs 1..={} groups, got {groups}",
                basis.vocab()
            )));
        }
        Ok(Self {
            assignment: kmeans(basis, groups, seed).into(),
            groups,
            head: DEFAULT_FUSION_HEAD,
        })
    }

    /// Keeps the `head` most probable tokens of each step as their own variables.
    pub fn with_head(mut self, head: usize) -> Self {
        self.head = head;
        self
    }

    /// The group of every token.
    pub fn assignment(&self) -> &[u32] {
        &self.assignment
    }
}

impl Reduction for ApproxKMeansFusion {
    fn name(&self) -> &'static str {
        "approx-kmeans-fusion"
    }

    fn exactness(&self) -> Exactness {
        Exactness::Approximate
    }

    fn reduce(&mut self, work: &mut Workspace<'_, '_>, pending: &[u32]) {
        let (step, basis) = (work.step(), work.basis());
        if self.assignment.len() != step.vocab() || !work.has_backend() {
            return;
        }
        let fused = Fused::new(step, basis, &self.assignment, self.groups, self.head);
        for &t in pending {
            if work.is_settled(t) {
                continue;
            }
            let Ok((fstep, fbasis, index, layout)) = fused.for_token(step, basis, t) else {
                continue;
            };
            let Some(backend) = work.backend() else {
                return;
            };
            let problem = TokenProblem {
                step: &fstep,
                basis: &fbasis,
                token: index,
            };
            match backend.solve(&problem) {
                Ok(Certificate::Keep(_)) => work.assume(&[t], true),
                // A reject that fails verification after expansion leaves `t` to the next
                // reduction: rejects are never assumed.
                Ok(Certificate::Reject(point)) => {
                    if let Some(expanded) = fused.expand(step, basis, t, (&fstep, &layout), &point)
                    {
                        work.submit(t, Certificate::Reject(expanded));
                    }
                }
                Err(_) => {}
            }
        }
    }

    /// The clustering is shared, not recomputed.
    fn fresh(&self) -> Option<Box<dyn Reduction + Send>> {
        Some(Box::new(self.clone()))
    }
}

/// One step's fused variables: the head tokens alone, the rest summed per group.
struct Fused<'g> {
    assignment: &'g [u32],
    /// Head tokens, ascending.
    head: Vec<u32>,
    /// Per group: `sum q_j` and `sum q_j b_j` over its members outside the head.
    mass: Vec<f64>,
    moment: Vec<f64>,
}

impl<'g> Fused<'g> {
    fn new(step: &Step, basis: &Basis, assignment: &'g [u32], groups: usize, head: usize) -> Self {
        let m = basis.dim();
        let mut top = step.most_probable(head);
        top.sort_unstable();
        let (mut mass, mut moment) = (vec![0.0; groups], vec![0.0; groups * m]);
        for (j, &qj) in step.q().iter().enumerate() {
            if qj == 0.0 || top.binary_search(&(j as u32)).is_ok() {
                continue;
            }
            let g = assignment[j] as usize;
            mass[g] += qj;
            for (acc, &b) in moment[g * m..(g + 1) * m]
                .iter_mut()
                .zip(basis.token_row(j))
            {
                *acc += qj * f64::from(b);
            }
        }
        Self {
            assignment,
            head: top,
            mass,
            moment,
        }
    }

    fn in_head(&self, t: u32) -> bool {
        self.head.binary_search(&t).is_ok()
    }

    /// The fused step and basis for testing `t`, `t`'s index in them, and what each fused
    /// variable stands for: the head tokens, then `t` (taken out of its group when it is not in
    /// the head), then the non-empty groups. The fused `q` are not renormalised (they sum to one
    /// up to rounding), so a single token's fused `q` is its own, bit for bit.
    fn for_token(
        &self,
        step: &Step,
        basis: &Basis,
        t: u32,
    ) -> Result<(Step, Basis, u32, Vec<Var>)> {
        let (q, m) = (step.q(), basis.dim());
        let (mut probs, mut rows, mut layout) = (Vec::new(), Vec::<f32>::new(), Vec::new());
        for &j in &self.head {
            probs.push(q[j as usize]);
            rows.extend_from_slice(basis.token_row(j as usize));
            layout.push(Var::Token(j));
        }
        let own = (!self.in_head(t)).then(|| self.assignment[t as usize] as usize);
        if own.is_some() {
            probs.push(q[t as usize]);
            rows.extend_from_slice(basis.token_row(t as usize));
            layout.push(Var::Token(t));
        }
        let index = layout
            .iter()
            .position(|v| *v == Var::Token(t))
            .expect("t is a variable") as u32;
        for (g, &total) in self.mass.iter().enumerate() {
            let (mut mass, mut moment) = (total, self.moment[g * m..(g + 1) * m].to_vec());
            if own == Some(g) {
                mass -= q[t as usize];
                for (acc, &b) in moment.iter_mut().zip(basis.token_row(t as usize)) {
                    *acc -= q[t as usize] * f64::from(b);
                }
            }
            if mass <= 0.0 {
                continue;
            }
            probs.push(mass);
            rows.extend(moment.iter().map(|v| (v / mass) as f32));
            layout.push(Var::Group(g));
        }
        let fstep = Step::from_probabilities(probs, step.tau())?;
        let fbasis = Basis::explicit(MatrixView::new(&rows, fstep.vocab(), m)?)?;
        Ok((fstep, fbasis, index, layout))
    }

    /// A point of the fused problem as a point over the whole vocabulary (each group member
    /// scaled as its group), polished on the real rows: the fused rows are f32 roundings of group
    /// means, which leaves a residual far above the verifier's tolerance until polished.
    fn expand(
        &self,
        step: &Step,
        basis: &Basis,
        t: u32,
        fused: (&Step, &[Var]),
        point: &RejectCertificate,
    ) -> Option<RejectCertificate> {
        let (fstep, layout) = fused;
        let (q, sigma) = (step.q(), step.sigma());
        // Scaled value `p_j / (sigma q_j)` of each changed variable; unchanged ones sit at `q_j`.
        let mut group_x: Vec<Option<f64>> = vec![None; self.mass.len()];
        let mut columns = vec![t];
        let mut token_x = vec![(t, 0.0)];
        for &(index, d) in &point.changes {
            let fq = fstep.q()[index as usize];
            let x = (fq + d) / (sigma * fq);
            match layout[index as usize] {
                Var::Token(j) => {
                    if j != t {
                        columns.push(j);
                        token_x.push((j, x));
                    }
                }
                Var::Group(g) => group_x[g] = Some(x),
            }
        }
        for (j, &qj) in q.iter().enumerate() {
            let j = j as u32;
            if qj == 0.0 || j == t || self.in_head(j) {
                continue;
            }
            if let Some(x) = group_x[self.assignment[j as usize] as usize] {
                columns.push(j);
                token_x.push((j, x));
            }
        }
        let lp = ScaledLp::new(step, basis, t, columns);
        token_x.sort_unstable_by_key(|&(j, _)| j);
        let x: Vec<f64> = token_x.into_iter().map(|(_, x)| x).collect();
        (x.len() == lp.columns.len()).then(|| lp.reject_certificate(step, basis, &x))
    }
}

/// What a fused variable stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    Token(u32),
    Group(usize),
}

/// k-means++ seeding, then Lloyd iterations, on the rows of `basis` (f64 arithmetic).
fn kmeans(basis: &Basis, groups: usize, seed: u64) -> Vec<u32> {
    let (v, m) = (basis.vocab(), basis.dim());
    let row = |j: usize| basis.token_row(j).iter().map(|&b| f64::from(b));
    let distance = |j: usize, center: &[f64]| -> f64 {
        row(j).zip(center).map(|(b, c)| (b - c) * (b - c)).sum()
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut centers: Vec<f64> = row(rng.random_range(0..v)).collect();
    let mut nearest: Vec<f64> = (0..v).map(|j| distance(j, &centers[..m])).collect();
    for _ in 1..groups {
        let total: f64 = nearest.iter().sum();
        let pick = if total > 0.0 {
            let mut u = rng.random::<f64>() * total;
            nearest
                .iter()
                .position(|&d| {
                    u -= d;
                    u < 0.0
                })
                .unwrap_or(v - 1)
        } else {
            rng.random_range(0..v)
        };
        let start = centers.len();
        centers.extend(row(pick));
        for (j, n) in nearest.iter_mut().enumerate() {
            *n = n.min(distance(j, &centers[start..]));
        }
    }
    let mut assignment = vec![0u32; v];
    for round in 0..LLOYD_ROUNDS {
        let mut changed = false;
        for (j, a) in assignment.iter_mut().enumerate() {
            let best = (0..groups)
                .map(|g| (distance(j, &centers[g * m..(g + 1) * m]), g))
                .min_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)))
                .map_or(0, |(_, g)| g as u32);
            changed |= *a != best;
            *a = best;
        }
        if round > 0 && !changed {
            break;
        }
        let mut sums = vec![0.0; groups * m];
        let mut counts = vec![0usize; groups];
        for (j, &a) in assignment.iter().enumerate() {
            let g = a as usize;
            counts[g] += 1;
            for (s, b) in sums[g * m..(g + 1) * m].iter_mut().zip(row(j)) {
                *s += b;
            }
        }
        for g in 0..groups {
            if counts[g] > 0 {
                for k in 0..m {
                    centers[g * m + k] = sums[g * m + k] / counts[g] as f64;
                }
            }
        }
    }
    assignment
}

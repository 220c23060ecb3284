//! What the head engines ([`super::band`], [`super::full`]) share: a token's column, a solve
//! with the asked token's own column fixed at zero and the reject certificate of the point such
//! a solve finds.

use super::head_lp::{HeadAnswer, HeadLp};
use crate::basis::Basis;
use crate::certificate::RejectCertificate;

/// Token `j`'s column `a_j = (b_j, 1)` in f64.
pub(crate) fn column(basis: &Basis, j: u32, a: &mut [f64]) {
    let m = basis.dim();
    for (x, &b) in a.iter_mut().zip(basis.token_row(j as usize)) {
        *x = f64::from(b);
    }
    a[m] = 1.0;
}

/// Solves `lp` for `rhs` with column `own` (the asked token's, when it is a column) fixed at
/// zero, reading a feasible point into `point` before the bounds are restored.
pub(crate) fn solve_without(
    lp: &mut HeadLp,
    rhs: &[f64],
    own: Option<usize>,
    point: &mut Vec<f64>,
) -> HeadAnswer {
    let saved = own.map(|j| {
        let bounds = lp.bounds(j);
        lp.set_bounds(j, 0.0, 0.0);
        (j, bounds)
    });
    let answer = lp.solve(rhs);
    if answer == HeadAnswer::Feasible {
        lp.point(point);
    }
    if let Some((j, (lower, upper))) = saved {
        lp.set_bounds(j, lower, upper);
    }
    answer
}

/// The reject point of token `t` from a point `d` of the head LP with `t`'s own column (if
/// any) fixed at zero: `d_j` for the other head tokens and `-q_t` for `t` (a point of `P_t`:
/// `sum_{j != t} d_j a_j = q_t a_t`).
pub(crate) fn reject_point(
    tokens: &[u32],
    d: &[f64],
    t: u32,
    q: &[f64],
    kappa: f64,
) -> RejectCertificate {
    let mut changes: Vec<(u32, f64)> = tokens
        .iter()
        .zip(d)
        .filter(|(&j, &dj)| j != t && dj != 0.0)
        .map(|(&j, &dj)| {
            let qj = q[j as usize];
            (j, dj.clamp(-qj, kappa * qj))
        })
        .collect();
    changes.push((t, -q[t as usize]));
    changes.sort_unstable_by_key(|c| c.0);
    RejectCertificate { changes }
}

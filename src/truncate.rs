//! Decisions: the threshold pass, then a backend for what the threshold cannot settle, every
//! answer checked by the verifier. A verified certificate settles every requested token it covers,
//! not only the one it was solved for.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::{Backend, TokenProblem};
use crate::basis::Basis;
use crate::certificate::{Certificate, KeepProof, Outcome, RejectProof, UndecidedReason};
use crate::error::{Error, Result};
use crate::rule::ThresholdRule;
use crate::step::Step;
use crate::verify;

/// How each token's decision was reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Kept because `q_i >= tau`.
    pub threshold_kept: usize,
    /// Kept by a verified dual vector.
    pub dual_kept: usize,
    /// Rejected because `q_i = 0`.
    pub zero_mass_rejected: usize,
    /// Rejected by a verified point.
    pub point_rejected: usize,
    /// Neither (treated as rejected).
    pub undecided: usize,
    /// Backend calls made.
    pub solves: usize,
}

/// The result of truncating one step.
#[derive(Debug, Clone)]
pub struct Truncation {
    /// The threshold in force.
    pub tau: f64,
    /// Kept token ids, ascending. Undecided tokens are not in it (the threshold's decision).
    pub kept: Vec<u32>,
    /// One outcome per token of the vocabulary.
    pub outcomes: Vec<Outcome>,
    pub counts: Counts,
    /// Wall time of the whole call, and the part spent inside the backend.
    pub elapsed: Duration,
    pub backend_time: Duration,
}

/// The full-vocabulary decision for one step: softmax, threshold, then the backend (if any) for
/// every token below the threshold. Without a backend those tokens are undecided.
pub fn truncate(
    logits: &[f32],
    basis: &Basis,
    rule: &dyn ThresholdRule,
    backend: Option<&mut dyn Backend>,
) -> Result<Truncation> {
    let start = Instant::now();
    let step = Step::new(logits, rule)?;
    let all: Vec<u32> = (0..step.vocab() as u32).collect();
    let (outcomes, counts, backend_time) = decide_all(&step, basis, &all, backend)?;
    let kept = all
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| o.is_keep())
        .map(|(&t, _)| t)
        .collect();
    Ok(Truncation {
        tau: step.tau(),
        kept,
        outcomes,
        counts,
        elapsed: start.elapsed(),
        backend_time,
    })
}

/// The decision for one token.
pub fn decide(
    step: &Step,
    basis: &Basis,
    token: u32,
    backend: Option<&mut dyn Backend>,
) -> Result<Outcome> {
    let (mut outcomes, _, _) = decide_all(step, basis, &[token], backend)?;
    Ok(outcomes.remove(0))
}

/// Decisions for the listed tokens (in the listed order, repeats allowed), sharing every verified
/// certificate among them; returns the outcomes, how they were reached, and the backend time.
pub fn decide_tokens(
    step: &Step,
    basis: &Basis,
    tokens: &[u32],
    backend: Option<&mut dyn Backend>,
) -> Result<(Vec<Outcome>, Counts)> {
    let (outcomes, counts, _) = decide_all(step, basis, tokens, backend)?;
    Ok((outcomes, counts))
}

fn decide_all(
    step: &Step,
    basis: &Basis,
    tokens: &[u32],
    mut backend: Option<&mut dyn Backend>,
) -> Result<(Vec<Outcome>, Counts, Duration)> {
    let vocab = step.vocab();
    if basis.vocab() != vocab {
        return Err(Error::Shape(format!(
            "the basis has {} rows but the logits have {vocab} entries",
            basis.vocab()
        )));
    }
    if let Some(&token) = tokens.iter().find(|&&t| t as usize >= vocab) {
        return Err(Error::TokenOutOfRange { token, vocab });
    }
    let mut state: Vec<Option<Outcome>> = vec![None; vocab];
    let mut wanted = vec![false; vocab];
    let mut pending = Vec::new();
    let mut counts = Counts::default();
    for &t in tokens {
        let i = t as usize;
        if wanted[i] {
            continue;
        }
        wanted[i] = true;
        if step.above_threshold(t) {
            state[i] = Some(Outcome::Keep(KeepProof::Threshold));
        } else if step.q()[i] == 0.0 {
            state[i] = Some(Outcome::Reject(RejectProof::ZeroMass));
        } else {
            pending.push(t);
        }
    }
    // Most probable first: those are the likeliest keeps, and a dual vector tends to keep a run
    // of them at once. The step's own order (which the backends sort once and reuse) gives it
    // without a second sort; without a backend the order does not matter.
    if backend.is_some() && pending.len() > 1 {
        let mut is_pending = vec![false; vocab];
        pending.iter().for_each(|&t| is_pending[t as usize] = true);
        pending = step
            .by_probability()
            .iter()
            .copied()
            .filter(|&t| is_pending[t as usize])
            .collect();
    }
    let mut backend_time = Duration::ZERO;
    for &t in &pending {
        if state[t as usize].is_some() {
            continue;
        }
        let Some(solver) = backend.as_deref_mut() else {
            state[t as usize] = Some(Outcome::Undecided(UndecidedReason::NoBackend));
            continue;
        };
        let problem = TokenProblem {
            step,
            basis,
            token: t,
        };
        let started = Instant::now();
        let answer = solver.solve(&problem);
        backend_time += started.elapsed();
        counts.solves += 1;
        let settled = answer
            .map_err(|e| UndecidedReason::Backend(e.to_string()))
            .and_then(|cert| {
                let covered = verify::check(step, basis, t, &cert)
                    .map_err(|e| UndecidedReason::Unverified(e.to_string()))?;
                let proof = match cert {
                    Certificate::Keep(c) => Outcome::Keep(KeepProof::Dual(Arc::new(c))),
                    Certificate::Reject(c) => Outcome::Reject(RejectProof::Point(Arc::new(c))),
                };
                for k in covered {
                    let i = k as usize;
                    if wanted[i] && state[i].is_none() {
                        state[i] = Some(proof.clone());
                    }
                }
                Ok(())
            });
        if let Err(reason) = settled {
            state[t as usize] = Some(Outcome::Undecided(reason));
        }
    }
    for outcome in state.iter().flatten() {
        match outcome {
            Outcome::Keep(KeepProof::Threshold) => counts.threshold_kept += 1,
            Outcome::Keep(_) => counts.dual_kept += 1,
            Outcome::Reject(RejectProof::ZeroMass) => counts.zero_mass_rejected += 1,
            Outcome::Reject(_) => counts.point_rejected += 1,
            Outcome::Undecided(_) => counts.undecided += 1,
        }
    }
    let outcomes = tokens
        .iter()
        .map(|&t| {
            state[t as usize]
                .clone()
                .expect("every requested token is settled")
        })
        .collect();
    Ok((outcomes, counts, backend_time))
}

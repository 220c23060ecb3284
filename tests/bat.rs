//! `Bat`, the front door: its draws follow the proposal restricted to the certified kept set
//! (chi-square, and a sampler that drops one keep fails the same check), its mask is its
//! truncation, state carried across steps changes no decision, batches decide as single calls
//! whatever the thread count, a deadline leaves tokens undecided rather than guessed, and bad
//! input is a typed error that changes nothing.
#![cfg(feature = "simplex")]

use std::sync::Arc;
use std::time::Duration;

use basis_aware::{Basis, Bat, Decision, Error, MatrixView, Rule, UndecidedKind};

/// A deterministic generator (SplitMix64) with Gaussian draws, local so these tests depend on
/// nothing but the library's API.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn gaussian(&mut self) -> f64 {
        let u = ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let v = ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

impl rand_core::TryRng for Gen {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.next() >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.next())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

/// A Gaussian `W` (`vocab x dim`, entries of variance `1 / dim`) and `steps` rows of logits
/// `W h` with `|h|` about `scale`.
fn gaussian(vocab: usize, dim: usize, steps: usize, scale: f64, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut g = Gen(seed);
    let std = 1.0 / (dim as f64).sqrt();
    let w: Vec<f32> = (0..vocab * dim)
        .map(|_| (g.gaussian() * std) as f32)
        .collect();
    let mut logits = Vec::with_capacity(steps * vocab);
    for _ in 0..steps {
        let h: Vec<f64> = (0..dim).map(|_| g.gaussian() * scale * std).collect();
        logits.extend(w.chunks_exact(dim).map(|row| {
            row.iter()
                .zip(&h)
                .map(|(&a, &b)| f64::from(a) * b)
                .sum::<f64>() as f32
        }));
    }
    (w, logits)
}

/// A basis of `vocab` tokens from `gaussian`: full `W`, or its top-`svd` singular vectors.
fn basis(w: &[f32], vocab: usize, dim: usize, svd: Option<usize>) -> Arc<Basis> {
    let view = MatrixView::new(w, vocab, dim).unwrap();
    Arc::new(match svd {
        None => Basis::full(view).unwrap(),
        Some(c) => Basis::svd(view, c).unwrap(),
    })
}

/// A step whose tokens below `tau` are partly kept and partly rejected, each group with a real
/// share of the mass (asserted where it matters).
fn small_step() -> (Arc<Basis>, Vec<f32>, Rule) {
    let (w, logits) = gaussian(10, 2, 1, 1.0, 5);
    (basis(&w, 10, 2, None), logits, Rule::Epsilon(0.12))
}

fn softmax(logits: &[f32], t: f64) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let e: Vec<f64> = logits
        .iter()
        .map(|&l| ((l as f64 - max) / t).exp())
        .collect();
    let total: f64 = e.iter().sum();
    e.into_iter().map(|v| v / total).collect()
}

/// Wilson-Hilferty approximation of the chi-square quantile with `df` degrees of freedom at
/// standard-normal score `z`.
fn chi_square_quantile(df: f64, z: f64) -> f64 {
    let a = 2.0 / (9.0 * df);
    df * (1.0 - a + z * a.sqrt()).powi(3)
}

/// Whether `counts` are draws from `weights` restricted to `kept` (and renormalised): no draw
/// outside `kept`, and Pearson's statistic below its quantile at z = 4.75 (a false alarm once
/// in a million runs).
fn follows(counts: &[usize], weights: &[f64], kept: &[u32]) -> Result<(), String> {
    let draws: usize = counts.iter().sum();
    let in_kept = |j: usize| kept.binary_search(&(j as u32)).is_ok();
    if let Some(j) = (0..counts.len()).find(|&j| counts[j] > 0 && !in_kept(j)) {
        return Err(format!(
            "token {j} is not kept but was drawn {} times",
            counts[j]
        ));
    }
    let support: Vec<usize> = (0..counts.len())
        .filter(|&j| in_kept(j) && weights[j] > 0.0)
        .collect();
    let mass: f64 = support.iter().map(|&j| weights[j]).sum();
    let statistic: f64 = support
        .iter()
        .map(|&j| {
            let expected = draws as f64 * weights[j] / mass;
            (counts[j] as f64 - expected).powi(2) / expected
        })
        .sum();
    let df = (support.len() - 1) as f64;
    let critical = chi_square_quantile(df, 4.75);
    if statistic < critical {
        Ok(())
    } else {
        Err(format!(
            "chi-square {statistic} over {df} df exceeds {critical}"
        ))
    }
}

const DRAWS: usize = 20_000;

#[test]
fn bat_is_send() {
    fn send<T: Send>() {}
    send::<Bat>();
}

#[test]
fn sample_from_draws_the_proposal_restricted_to_the_kept_set() {
    let (basis, logits, rule) = small_step();
    let truth = Bat::new(Arc::clone(&basis), rule)
        .truncate(&logits)
        .unwrap();
    assert_eq!(truth.counts.undecided, 0);
    // The engine's proposal differs from q (a penalty on two tokens, a boost on one, one token
    // forbidden), so a draw from q instead would fail too.
    let mut proposal = logits.clone();
    proposal[1] -= 1.5;
    proposal[4] += 1.0;
    proposal[6] -= 0.7;
    let forbidden = *truth.kept.last().unwrap();
    proposal[forbidden as usize] = f32::NEG_INFINITY;
    let weights = softmax(&proposal, 1.0);
    let q = softmax(&logits, 1.0);
    let tau = truth.tau;
    let share = |pred: &dyn Fn(usize) -> bool| {
        (0..10)
            .filter(|&j| pred(j))
            .map(|j| weights[j])
            .sum::<f64>()
    };
    let kept_below = share(&|j| truth.outcomes[j].is_keep() && q[j] < tau);
    let rejected = share(&|j| truth.outcomes[j].is_reject());
    assert!(
        kept_below > 0.05 && rejected > 0.05,
        "instance too easy: kept below tau {kept_below}, rejected {rejected}"
    );

    let mut bat = Bat::new(Arc::clone(&basis), rule);
    let mut rng = Gen(2024);
    let mut counts = vec![0usize; 10];
    let mut lp_draws = 0;
    for _ in 0..DRAWS {
        let draw = bat.sample_from(&proposal, &logits, &mut rng).unwrap();
        assert!(!draw.budget_exhausted);
        assert_eq!(draw.below_threshold(), q[draw.token as usize] < tau);
        lp_draws += usize::from(draw.solves > 0);
        counts[draw.token as usize] += 1;
    }
    assert!(lp_draws > 0, "no draw needed an LP: the test says nothing");
    assert_eq!(counts[forbidden as usize], 0);
    follows(&counts, &weights, &truth.kept).unwrap();

    // The mutation: a sampler that drops the kept token below tau with the most proposal mass
    // (here by forbidding it in the proposal, a real path through `sample_from`) must fail the
    // same check against the certified kept set.
    let dropped = (0..10u32)
        .filter(|&j| truth.outcomes[j as usize].is_keep() && q[j as usize] < tau)
        .max_by(|&a, &b| weights[a as usize].total_cmp(&weights[b as usize]))
        .unwrap();
    let mut mutated = proposal.clone();
    mutated[dropped as usize] = f32::NEG_INFINITY;
    let mut counts = vec![0usize; 10];
    for _ in 0..DRAWS {
        counts[bat.sample_from(&mutated, &logits, &mut rng).unwrap().token as usize] += 1;
    }
    assert!(
        follows(&counts, &weights, &truth.kept).is_err(),
        "a sampler that drops keep {dropped} passed the law check"
    );
}

#[test]
fn sample_at_a_temperature_draws_its_softmax_restricted_to_the_kept_set() {
    let (basis, logits, rule) = small_step();
    let truth = Bat::new(Arc::clone(&basis), rule)
        .truncate(&logits)
        .unwrap();
    for t in [0.6, 1.0, 1.8] {
        let mut bat = Bat::new(Arc::clone(&basis), rule).with_temperature(t);
        let mut rng = Gen(7);
        let mut counts = vec![0usize; 10];
        for _ in 0..DRAWS {
            counts[bat.sample(&logits, &mut rng).unwrap().token as usize] += 1;
        }
        follows(&counts, &softmax(&logits, t), &truth.kept)
            .unwrap_or_else(|e| panic!("t = {t}: {e}"));
        // The decisions are those of q, not of the tempered distribution: a draw from the
        // tempered softmax restricted to its own threshold set would drop different tokens.
        if t != 1.0 {
            assert!(
                follows(&counts, &softmax(&logits, 1.0), &truth.kept).is_err(),
                "t = {t}: the draws look untempered"
            );
        }
    }
}

#[test]
fn mask_is_truncate_kept_bits_unchanged_the_rest_minus_infinity() {
    let (w, logits) = gaussian(300, 5, 3, 6.0, 13);
    let basis = basis(&w, 300, 5, Some(3));
    let rule = Rule::Eta(0.01);
    let mut masking = Bat::new(Arc::clone(&basis), rule);
    let mut truncating = Bat::new(Arc::clone(&basis), rule);
    let mut kept_below = 0;
    for row in logits.chunks(300) {
        let truth = truncating.truncate(row).unwrap();
        let mut masked = row.to_vec();
        let t = masking.mask(&mut masked).unwrap();
        assert_eq!(t.kept, truth.kept);
        for (j, (&after, &before)) in masked.iter().zip(row).enumerate() {
            if truth.kept.binary_search(&(j as u32)).is_ok() {
                assert_eq!(after.to_bits(), before.to_bits(), "token {j}");
            } else {
                assert_eq!(after, f32::NEG_INFINITY, "token {j}");
            }
        }
        kept_below += truth.counts.dual_kept;
    }
    assert!(kept_below > 0, "no keep below tau: the test says nothing");
}

/// Keep, reject or undecided, per token.
fn kinds(outcomes: &[Decision]) -> Vec<u8> {
    outcomes
        .iter()
        .map(|o| {
            if o.is_keep() {
                0
            } else if o.is_reject() {
                1
            } else {
                2
            }
        })
        .collect()
}

#[test]
fn state_carried_across_steps_changes_no_decision() {
    let (w, logits) = gaussian(400, 6, 5, 6.0, 21);
    let basis = basis(&w, 400, 6, Some(3));
    let rule = Rule::Eta(0.01);
    let mut carried = Bat::new(Arc::clone(&basis), rule);
    let (mut rng_carried, mut rng_fresh) = (Gen(11), Gen(11));
    let mut kept_below = 0;
    for (k, row) in logits.chunks(400).enumerate() {
        let warm = carried.truncate(row).unwrap();
        let cold = Bat::new(Arc::clone(&basis), rule).truncate(row).unwrap();
        assert_eq!(warm.kept, cold.kept, "step {k}");
        assert_eq!(kinds(&warm.outcomes), kinds(&cold.outcomes), "step {k}");
        assert_eq!(warm.counts.undecided, 0, "step {k}");
        kept_below += warm.counts.dual_kept;
        for _ in 0..20 {
            let a = carried.sample(row, &mut rng_carried).unwrap();
            let b = Bat::new(Arc::clone(&basis), rule)
                .sample(row, &mut rng_fresh)
                .unwrap();
            assert_eq!(a.token, b.token, "step {k}");
            assert!(warm.kept.binary_search(&a.token).is_ok(), "step {k}");
        }
    }
    assert!(kept_below > 0, "no keep below tau: the test says nothing");
}

#[test]
fn a_batch_decides_as_single_calls_whatever_the_thread_count() {
    let (w, logits) = gaussian(300, 5, 4, 6.0, 3);
    let basis = basis(&w, 300, 5, Some(3));
    let rule = Rule::Eta(0.01);
    let alone: Vec<_> = logits
        .chunks(300)
        .map(|row| Bat::new(Arc::clone(&basis), rule).truncate(row).unwrap())
        .collect();
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut bat = Bat::new(Arc::clone(&basis), rule).with_thread_pool(Arc::new(pool));
        let rows = bat.truncate_batch(&logits, 4).unwrap();
        assert_eq!(rows.len(), 4);
        for (k, (row, single)) in rows.iter().zip(&alone).enumerate() {
            assert_eq!(row.kept, single.kept, "{threads} threads, row {k}");
            assert_eq!(row.counts, single.counts, "{threads} threads, row {k}");
        }
    }
    let mut bat = Bat::new(Arc::clone(&basis), rule);
    assert!(bat.truncate_batch(&[], 0).unwrap().is_empty());
    for (len, rows) in [(0, 1), (299, 1), (601, 2), (600, 3)] {
        let got = bat.truncate_batch(&logits[..len.min(logits.len())], rows);
        assert!(
            matches!(got, Err(Error::Shape(_))),
            "{len} logits, {rows} rows"
        );
    }
}

#[test]
fn a_spent_deadline_leaves_tokens_undecided_never_guessed() {
    let (w, logits) = gaussian(300, 5, 1, 6.0, 3);
    let basis = basis(&w, 300, 5, Some(3));
    let rule = Rule::Eta(0.01);
    let mut bat = Bat::new(Arc::clone(&basis), rule).with_deadline(Duration::ZERO);
    let t = bat.truncate(&logits).unwrap();
    assert_eq!(t.counts.solves + t.counts.set_solves, 0);
    assert!(t.counts.undecided > 0);
    for j in t.undecided() {
        assert_eq!(
            t.outcomes[j as usize],
            Decision::Undecided(UndecidedKind::Budget),
            "token {j}"
        );
    }
    // Only the threshold keeps: every token below tau is undecided unless the closed-form bulk
    // pass (no LP, one pass over the basis) rejected it.
    assert_eq!(
        t.kept.len() + t.undecided().len() + t.counts.bulk_rejected,
        300 - t.counts.zero_mass_rejected
    );
    let q = softmax(&logits, 1.0);
    assert!(t.kept.iter().all(|&j| q[j as usize] >= t.tau));
    // A draw under the same deadline refuses what it cannot decide and says so.
    let mut rng = Gen(1);
    for _ in 0..200 {
        let draw = bat.sample(&logits, &mut rng).unwrap();
        assert!(!draw.below_threshold());
        assert_eq!(draw.budget_exhausted, !draw.refused.is_empty());
    }
}

#[test]
fn bad_input_is_a_typed_error_and_changes_nothing() {
    let (basis, logits, rule) = small_step();
    let mut bat = Bat::new(Arc::clone(&basis), rule);
    let mut rng = Gen(3);
    for len in [0, 9, 11] {
        let mut short: Vec<f32> = logits.iter().copied().cycle().take(len).collect();
        let before = short.clone();
        assert!(matches!(bat.truncate(&short), Err(Error::Shape(_))));
        assert!(matches!(bat.mask(&mut short), Err(Error::Shape(_))));
        assert_eq!(short, before);
        assert!(matches!(bat.sample(&short, &mut rng), Err(Error::Shape(_))));
        assert!(matches!(
            bat.sample_from(&short, &logits, &mut rng),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            bat.sample_from(&short, &short, &mut rng),
            Err(Error::Shape(_))
        ));
    }
    let mut nan = logits.clone();
    nan[3] = f32::NAN;
    let before = nan.clone();
    assert!(matches!(
        bat.mask(&mut nan),
        Err(Error::InvalidLogit { index: 3, .. })
    ));
    assert_eq!(nan[..3], before[..3]);
    assert_eq!(nan[4..], before[4..]);
    assert!(matches!(
        bat.sample_from(&nan, &logits, &mut rng),
        Err(Error::InvalidProposal { index: 3, .. })
    ));
    assert!(matches!(
        bat.sample_from(&logits, &nan, &mut rng),
        Err(Error::InvalidLogit { index: 3, .. })
    ));
    assert!(matches!(
        bat.sample_from(&[f32::NEG_INFINITY; 10], &logits, &mut rng),
        Err(Error::NoKeptToken)
    ));
    // A proposal whose support holds only rejected tokens has nothing to draw.
    let truth = bat.truncate(&logits).unwrap();
    let rejected: Vec<usize> = (0..10).filter(|&j| truth.outcomes[j].is_reject()).collect();
    assert!(!rejected.is_empty());
    let mut only_rejected = [f32::NEG_INFINITY; 10];
    rejected.iter().for_each(|&j| only_rejected[j] = 0.0);
    assert!(matches!(
        bat.sample_from(&only_rejected, &logits, &mut rng),
        Err(Error::NoKeptToken)
    ));
    for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let mut hot = Bat::new(Arc::clone(&basis), rule).with_temperature(t);
        assert!(matches!(
            hot.sample(&logits, &mut rng),
            Err(Error::Temperature(_))
        ));
    }
    let mut bad_rule = Bat::new(Arc::clone(&basis), Rule::Eta(2.0));
    let mut untouched = logits.clone();
    assert!(matches!(
        bad_rule.mask(&mut untouched),
        Err(Error::Threshold(_))
    ));
    assert_eq!(untouched, logits);
    // The scratch a failed draw used is clean: the next draw is as a fresh Bat's.
    let (mut a, mut b) = (Gen(5), Gen(5));
    let token = bat.sample(&logits, &mut a).unwrap().token;
    assert_eq!(
        token,
        Bat::new(Arc::clone(&basis), rule)
            .sample(&logits, &mut b)
            .unwrap()
            .token
    );
}

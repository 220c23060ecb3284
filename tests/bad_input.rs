//! Every malformed input is a typed error, never a panic.

use basis_aware::{decide, truncate, Basis, Error, MatrixView, Rule, Step};
use proptest::prelude::*;

fn basis(vocab: usize) -> Basis {
    Basis::explicit(MatrixView::new(&vec![0.5; vocab * 2], vocab, 2).unwrap()).unwrap()
}

#[test]
fn logits_must_be_finite_or_minus_infinity() {
    let b = basis(3);
    let r = Rule::Epsilon(0.1);
    let nan = truncate(&[0.0, f32::NAN, 1.0], &b, &r, None).unwrap_err();
    assert!(matches!(nan, Error::InvalidLogit { index: 1, .. }));
    let inf = truncate(&[f32::INFINITY, 0.0, 1.0], &b, &r, None).unwrap_err();
    assert!(matches!(inf, Error::InvalidLogit { index: 0, .. }));
    let masked = [f32::NEG_INFINITY; 3];
    assert_eq!(
        truncate(&masked, &b, &r, None).unwrap_err(),
        Error::AllMasked
    );
    assert_eq!(
        truncate(&[], &b, &r, None).unwrap_err(),
        Error::EmptyVocabulary
    );
}

#[test]
fn shapes_must_agree() {
    let err = truncate(&[0.0, 1.0], &basis(3), &Rule::Epsilon(0.1), None).unwrap_err();
    assert!(matches!(err, Error::Shape(_)));
    assert!(matches!(
        MatrixView::new(&[0.0; 5], 2, 3),
        Err(Error::Shape(_))
    ));
    assert_eq!(
        MatrixView::new(&[], 0, 3).unwrap_err(),
        Error::EmptyVocabulary
    );
    assert!(matches!(MatrixView::new(&[], 3, 0), Err(Error::Shape(_))));
    let w = [1.0f32; 6];
    assert!(matches!(
        Basis::svd(MatrixView::new(&w, 3, 2).unwrap(), 3),
        Err(Error::Shape(_))
    ));
    assert!(matches!(
        Basis::svd(MatrixView::new(&w, 3, 2).unwrap(), 0),
        Err(Error::Shape(_))
    ));
}

#[test]
fn basis_entries_must_be_finite() {
    let w = [0.0, 1.0, f32::NAN, 0.0];
    let err = Basis::full(MatrixView::new(&w, 2, 2).unwrap()).unwrap_err();
    assert!(matches!(err, Error::NonFiniteEntry { row: 1, col: 0, .. }));
    let w = [0.0, f32::INFINITY];
    assert!(Basis::explicit(MatrixView::new(&w, 1, 2).unwrap()).is_err());
    assert!(Basis::svd(MatrixView::new(&w, 1, 2).unwrap(), 1).is_err());
}

#[test]
fn rule_parameters_must_be_in_range() {
    let logits = [0.0, 1.0, 2.0];
    for rule in [
        Rule::Epsilon(0.0),
        Rule::Epsilon(1.0),
        Rule::Eta(-0.1),
        Rule::Eta(f64::NAN),
        Rule::TopP(0.0),
        Rule::TopP(1.5),
        Rule::TopK(0),
        Rule::MinP(0.0),
        Rule::MinP(2.0),
    ] {
        let err = Step::new(&logits, &rule).unwrap_err();
        assert!(matches!(err, Error::Threshold(_)), "{rule:?}: {err}");
    }
    for text in ["eta", "eta=abc", "top-k=-1", "foo=0.1", "epsilon=1.5"] {
        assert!(text.parse::<Rule>().is_err(), "{text}");
    }
    let nan_rule = |_: &[f64]| f64::NAN;
    assert!(matches!(
        Step::new(&logits, &nan_rule),
        Err(Error::Threshold(_))
    ));
}

#[test]
fn token_ids_must_be_in_the_vocabulary() {
    let step = Step::new(&[0.0, 1.0, 2.0], &Rule::Epsilon(0.1)).unwrap();
    let err = decide(&step, &basis(3), 3, None).unwrap_err();
    assert_eq!(err, Error::TokenOutOfRange { token: 3, vocab: 3 });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Arbitrary bit patterns (NaNs, infinities, subnormals) and arbitrary parameters: an error
    /// or a result, never a panic; and a result always keeps at least one token.
    #[test]
    fn garbage_never_panics(
        bits in prop::collection::vec(any::<u32>(), 0..12),
        param in any::<f64>(),
        k in 0usize..20,
        which in 0usize..5,
    ) {
        let logits: Vec<f32> = bits.iter().map(|&b| f32::from_bits(b)).collect();
        let rule = [Rule::Epsilon(param), Rule::Eta(param), Rule::TopP(param), Rule::TopK(k), Rule::MinP(param)][which];
        let b = basis(logits.len().max(1));
        if let Ok(result) = truncate(&logits, &b, &rule, None) {
            prop_assert!(!result.kept.is_empty());
        }
    }
}

/// Issue 12, point 3: each of these panicked or aborted before.
#[test]
fn out_of_range_indices_and_huge_sizes_are_errors_not_panics() {
    let w = [1.0f32, 2.0, 3.0, 4.0];
    let view = MatrixView::new(&w, 2, 2).unwrap();
    assert_eq!(view.row(1), Some(&[3.0f32, 4.0][..]));
    assert_eq!(view.row(2), None);
    assert_eq!(view.row(usize::MAX), None);
    let b = Basis::explicit(view).unwrap();
    assert_eq!(b.row(2), None);
    let step = Step::new(&[0.0, 1.0], &Rule::Epsilon(0.1)).unwrap();
    assert!(!step.above_threshold(2));
    assert!(!step.above_threshold(u32::MAX));
    // Clamped to the vocabulary before anything is allocated (this allocated 17.6 TB).
    assert_eq!(step.most_probable(1 << 40).len(), 2);
}

/// `W = [[3e38, 3e38], [1, 0], [0, 2]]`: its top singular direction projects row 0 to `4.2e38`,
/// beyond f32; the basis was `[inf]` and every point verified against it.
#[test]
fn an_svd_basis_that_f32_cannot_hold_is_an_error() {
    let w = [3e38f32, 3e38, 1.0, 0.0, 0.0, 2.0];
    let err = Basis::svd(MatrixView::new(&w, 3, 2).unwrap(), 1).unwrap_err();
    assert!(matches!(err, Error::NonFiniteEntry { row: 0, .. }), "{err}");
}

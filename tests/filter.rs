//! `BatFilter`: it masks exactly the tokens `truncate` (or, in candidate mode, the window's
//! decisions) does not keep, leaves kept logits bit-identical, and leaves bad input untouched;
//! the candle adapter masks as the slice path does.
#![cfg(feature = "simplex")]

mod common;

use std::sync::Arc;

use basis_aware::backends::SimplexBackend;
use basis_aware::{decide_tokens, truncate, BatFilter, Error, Rule, Step, TokenFilter};
use common::gaussian_instance;

const RULE: Rule = Rule::Eta(0.01);

fn masked(logits: &[f32]) -> Vec<u32> {
    (0..logits.len() as u32)
        .filter(|&t| logits[t as usize] == f32::NEG_INFINITY)
        .collect()
}

fn assert_masks_exactly(before: &[f32], after: &[f32], kept: &[u32]) {
    let mut expected: Vec<u32> = (0..before.len() as u32)
        .filter(|t| kept.binary_search(t).is_err())
        .collect();
    // A token masked before the call stays masked, kept or not.
    expected.extend(
        kept.iter()
            .filter(|&&t| before[t as usize] == f32::NEG_INFINITY),
    );
    expected.sort_unstable();
    assert_eq!(masked(after), expected);
    for &t in kept {
        assert_eq!(
            after[t as usize].to_bits(),
            before[t as usize].to_bits(),
            "token {t}"
        );
    }
}

#[test]
fn the_filter_masks_exactly_what_truncate_rejects() {
    let inst = gaussian_instance(400, 6, 4, 6.0, 21);
    let basis = Arc::new(inst.basis(Some(3)).unwrap());
    let mut filter = BatFilter::new(Arc::clone(&basis), RULE);
    // The same backend call sequence as the filter's, so warm starts match too.
    let mut reference = SimplexBackend::default();
    let mut kept_below = 0;
    for k in 0..inst.steps {
        let before = inst.step_logits(k).unwrap().to_vec();
        let truth = truncate(&before, &basis, &RULE, Some(&mut reference)).unwrap();
        let mut logits = before.clone();
        let report = filter.apply(&mut logits).unwrap();
        assert_eq!(report.kept, truth.kept, "step {k}");
        // Decided alike; the work differs, since the filter's `Bat` carries keep duals from
        // step to step (the band's pool) where a fresh `truncate` starts empty.
        let decided = |c: basis_aware::Counts| basis_aware::Counts {
            solves: 0,
            set_solves: 0,
            ..c
        };
        assert_eq!(decided(report.counts), decided(truth.counts), "step {k}");
        assert_eq!(report.unexamined, 0);
        assert_masks_exactly(&before, &logits, &truth.kept);
        kept_below += report.counts.dual_kept;
    }
    assert!(
        kept_below > 0,
        "the instance should exercise BAT keeps below tau"
    );
}

#[test]
fn the_candidate_window_decides_its_tokens_and_masks_the_rest() {
    let inst = gaussian_instance(400, 6, 3, 6.0, 5);
    let basis = Arc::new(inst.basis(Some(3)).unwrap());
    let window = 20;
    let mut filter = BatFilter::new(Arc::clone(&basis), RULE).with_candidates(window);
    let mut reference = SimplexBackend::default();
    for k in 0..inst.steps {
        let before = inst.step_logits(k).unwrap().to_vec();
        let step = Step::new(&before, &RULE).unwrap();
        let below: Vec<u32> = step
            .below_threshold()
            .iter()
            .copied()
            .take(window)
            .collect();
        let (outcomes, _) = decide_tokens(&step, &basis, &below, Some(&mut reference)).unwrap();
        let mut kept: Vec<u32> = (0..before.len() as u32)
            .filter(|&t| step.above_threshold(t))
            .chain(
                below
                    .iter()
                    .zip(&outcomes)
                    .filter(|(_, o)| o.is_keep())
                    .map(|(&t, _)| t),
            )
            .collect();
        kept.sort_unstable();
        let mut logits = before.clone();
        let report = filter.apply(&mut logits).unwrap();
        assert_eq!(report.kept, kept, "step {k}");
        assert_eq!(
            report.unexamined,
            before.len() - report.counts.threshold_kept - below.len()
        );
        assert_masks_exactly(&before, &logits, &kept);
        // Every window keep is a keep of the exact rule.
        let exact = truncate(&before, &basis, &RULE, Some(&mut SimplexBackend::default())).unwrap();
        assert!(
            kept.iter().all(|t| exact.kept.binary_search(t).is_ok()),
            "step {k}"
        );
    }
}

#[test]
fn masked_input_stays_masked() {
    let inst = gaussian_instance(200, 4, 1, 6.0, 3);
    let basis = inst.basis(None).unwrap();
    let mut before = inst.step_logits(0).unwrap().to_vec();
    before[7] = f32::NEG_INFINITY;
    let mut logits = before.clone();
    let report = BatFilter::new(basis, RULE).apply(&mut logits).unwrap();
    assert!(!report.kept.contains(&7));
    assert_masks_exactly(&before, &logits, &report.kept);
}

#[test]
fn bad_input_is_an_error_and_leaves_the_logits_alone() {
    let inst = gaussian_instance(100, 4, 1, 6.0, 9);
    let basis = Arc::new(inst.basis(None).unwrap());
    let good = inst.step_logits(0).unwrap();
    for mut filter in [
        BatFilter::new(Arc::clone(&basis), RULE),
        BatFilter::new(Arc::clone(&basis), RULE).with_candidates(8),
    ] {
        for len in [0, 99, 101] {
            let mut logits: Vec<f32> = good.iter().copied().cycle().take(len).collect();
            let before = logits.clone();
            let got = filter.apply(&mut logits);
            assert!(matches!(got, Err(Error::Shape(_))), "length {len}: {got:?}");
            assert_eq!(logits, before);
        }
        let mut nan = good.to_vec();
        nan[3] = f32::NAN;
        let before = nan.clone();
        assert!(matches!(
            filter.apply(&mut nan),
            Err(Error::InvalidLogit { index: 3, .. })
        ));
        assert_eq!(nan[..3], before[..3]);
        assert_eq!(nan[4..], before[4..]);
        let mut none = vec![f32::NEG_INFINITY; 100];
        assert!(matches!(filter.apply(&mut none), Err(Error::AllMasked)));
        let mut bad_rule = BatFilter::new(Arc::clone(&basis), Rule::Eta(2.0));
        let mut logits = good.to_vec();
        assert!(matches!(
            bad_rule.apply(&mut logits),
            Err(Error::Threshold(_))
        ));
        assert_eq!(logits, good);
    }
}

#[cfg(feature = "candle")]
mod candle {
    use super::*;
    use basis_aware::filter::candle::apply_to_tensor;
    use candle_core::{DType, Device, Tensor};

    #[test]
    fn the_tensor_path_masks_as_the_slice_path() {
        let inst = gaussian_instance(300, 5, 1, 6.0, 13);
        let basis = Arc::new(inst.basis(Some(3)).unwrap());
        let logits = inst.step_logits(0).unwrap();
        for dtype in [DType::F32, DType::F16, DType::BF16, DType::F64] {
            let tensor = Tensor::new(logits, &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            // The slice path sees what the tensor path sees: the logits rounded to `dtype`.
            let mut slice = tensor
                .to_dtype(DType::F32)
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let before = slice.clone();
            let expected = BatFilter::new(Arc::clone(&basis), RULE)
                .apply(&mut slice)
                .unwrap();
            let (out, report) =
                apply_to_tensor(&mut BatFilter::new(Arc::clone(&basis), RULE), &tensor).unwrap();
            assert_eq!(out.dtype(), dtype);
            assert_eq!(report.kept, expected.kept, "{dtype:?}");
            let out32 = out.to_dtype(DType::F32).unwrap().to_vec1::<f32>().unwrap();
            assert_masks_exactly(&before, &out32, &expected.kept);
        }
    }

    #[test]
    fn the_tensor_path_refuses_bad_shapes_and_dtypes() {
        let inst = gaussian_instance(50, 3, 1, 6.0, 1);
        let basis = inst.basis(None).unwrap();
        let mut filter = BatFilter::new(basis, RULE);
        let logits = inst.step_logits(0).unwrap();
        let row = Tensor::new(logits, &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        assert!(matches!(
            apply_to_tensor(&mut filter, &row),
            Err(Error::Shape(_))
        ));
        let ints = Tensor::new(&[1u32, 2, 3], &Device::Cpu).unwrap();
        assert!(matches!(
            apply_to_tensor(&mut filter, &ints),
            Err(Error::Shape(_))
        ));
        let short = Tensor::new(&logits[..49], &Device::Cpu).unwrap();
        assert!(matches!(
            apply_to_tensor(&mut filter, &short),
            Err(Error::Shape(_))
        ));
    }
}

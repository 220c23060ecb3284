//! `truncate` on small arbitrary inputs (any f32 bits in `W` and the logits, any rule parameter):
//! never a panic, and whatever comes back obeys the threshold rule's own invariants.
#![no_main]

use arbitrary::Arbitrary;
use basis_aware::backends::SimplexBackend;
use basis_aware::{truncate, Basis, MatrixView, Rule, Step};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    vocab: u8,
    dim: u8,
    svd: u8,
    rule: u8,
    parameter: f64,
    /// Entries of `W` then the logits, as raw bits (NaN, infinities and subnormals included);
    /// small integers half of the time, so ties and exact structure occur.
    entries: Vec<(bool, u32)>,
}

fn value((small, bits): (bool, u32)) -> f32 {
    if small {
        (bits % 9) as f32 - 4.0
    } else {
        f32::from_bits(bits)
    }
}

fuzz_target!(|input: Input| {
    let vocab = 1 + usize::from(input.vocab % 24);
    let dim = 1 + usize::from(input.dim % 6);
    let mut values = input.entries.iter().copied().map(value).cycle();
    if input.entries.is_empty() {
        return;
    }
    let w: Vec<f32> = values.by_ref().take(vocab * dim).collect();
    let logits: Vec<f32> = values.take(vocab).collect();
    let rule = match input.rule % 5 {
        0 => Rule::Eta(input.parameter),
        1 => Rule::Epsilon(input.parameter),
        2 => Rule::TopP(input.parameter),
        3 => Rule::MinP(input.parameter),
        _ => Rule::TopK(input.parameter.abs().min(1e6) as usize),
    };
    let Ok(view) = MatrixView::new(&w, vocab, dim) else {
        return;
    };
    let basis = match input.svd % 3 {
        0 => Basis::full(view),
        1 => Basis::svd(view, 1 + usize::from(input.svd) % dim),
        _ => Basis::explicit(view),
    };
    let Ok(basis) = basis else {
        return;
    };
    let Ok(mask) = truncate(&logits, &basis, &rule, Some(&mut SimplexBackend::default())) else {
        return;
    };
    let step = Step::new(&logits, &rule).expect("truncate accepted these logits");
    assert_eq!(mask.outcomes.len(), vocab);
    for t in 0..vocab as u32 {
        let q = step.q()[t as usize];
        let kept = mask.kept.binary_search(&t).is_ok();
        assert_eq!(kept, mask.outcomes[t as usize].is_keep(), "token {t}");
        if step.above_threshold(t) {
            assert!(
                kept,
                "token {t} at q = {q} >= tau = {} was dropped",
                step.tau()
            );
        }
        if q == 0.0 {
            assert!(!kept, "token {t} of zero mass was kept");
        }
    }
});

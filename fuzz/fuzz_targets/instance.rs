//! The instance reader on arbitrary bytes: every input is an instance or a typed error, and a
//! small instance that loads goes through `truncate` without a panic.
#![no_main]

use std::path::Path;

use basis_aware::backends::SimplexBackend;
use basis_aware::{truncate, Rule};
use basis_aware_tools::instance::Instance;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(instance) = Instance::parse(data, Path::new("fuzz.safetensors")) else {
        return;
    };
    let Ok(logits) = instance.step_logits(0) else {
        return;
    };
    if instance.vocab > 64 {
        return;
    }
    for svd in [None, Some(1), Some(3)] {
        if let Ok(basis) = instance.basis(svd) {
            let _ = truncate(
                logits,
                &basis,
                &Rule::Eta(0.02),
                Some(&mut SimplexBackend::default()),
            );
        }
    }
});

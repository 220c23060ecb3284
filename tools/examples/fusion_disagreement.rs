//! How far k-means fusion (approximate) moves BAT's decisions, on the steps of an instance file:
//! the 200 most probable tokens below `tau` and every 200th after them, decided exactly (the
//! default pipeline) and with `ApproxKMeansFusion` in front of `EachToken`. Fusion errs only
//! towards keeping; this counts how often, and times both.
//!
//!     basis-aware export --prompt "The best thing about living by the sea is" --steps 4 --out smol.safetensors
//!     cargo run --release -p basis-aware-tools --example fusion_disagreement -- smol.safetensors [SVD_RANK] [GROUPS] [HEAD]
//!
//! Defaults: rank 20, 64 groups, the 256 most probable tokens kept as their own variables.

use std::time::Instant;

use basis_aware::backends::SimplexBackend;
use basis_aware::reduction::{ApproxKMeansFusion, EachToken, Reduction};
use basis_aware::{decide_tokens, decide_tokens_with, Rule, Step};
use basis_aware_tools::instance::Instance;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .ok_or("usage: fusion_disagreement FILE [RANK] [GROUPS] [HEAD]")?;
    let number = |i: usize, default: usize| -> Result<usize, Box<dyn std::error::Error>> {
        Ok(args
            .get(i)
            .map(|s| s.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let (rank, groups, head) = (number(1, 20)?, number(2, 64)?, number(3, 256)?);
    let instance = Instance::load(path)?;
    let basis = instance.basis(Some(rank))?;
    let started = Instant::now();
    let fusion = ApproxKMeansFusion::new(&basis, groups, 7)?.with_head(head);
    println!(
        "rank {rank}, {groups} groups, head {head}: clustering took {:.2} s (once per basis)",
        started.elapsed().as_secs_f64()
    );
    println!("step | tokens | exact keeps | fused keeps | rejected -> kept | kept -> rejected | exact ms | fused ms");
    for k in 0..instance.steps {
        let step = Step::new(instance.step_logits(k)?, &Rule::Eta(9e-4))?;
        let below = step.below_threshold();
        let tokens: Vec<u32> = below
            .iter()
            .enumerate()
            .filter(|&(rank, _)| rank < 200 || rank % 200 == 0)
            .map(|(_, &t)| t)
            .collect();
        let started = Instant::now();
        let (exact, _) =
            decide_tokens(&step, &basis, &tokens, Some(&mut SimplexBackend::default()))?;
        let exact_ms = started.elapsed().as_secs_f64() * 1e3;
        let mut pipeline: Vec<Box<dyn Reduction>> =
            vec![Box::new(fusion.clone()), Box::new(EachToken)];
        let started = Instant::now();
        let (fused, _) = decide_tokens_with(
            &step,
            &basis,
            &tokens,
            Some(&mut SimplexBackend::default()),
            &mut pipeline,
        )?;
        let fused_ms = started.elapsed().as_secs_f64() * 1e3;
        let keeps = |o: &[basis_aware::Outcome]| o.iter().filter(|o| o.is_keep()).count();
        let (mut to_kept, mut to_rejected) = (0, 0);
        for (e, f) in exact.iter().zip(&fused) {
            to_kept += usize::from(e.is_reject() && f.is_keep());
            to_rejected += usize::from(e.is_keep() && f.is_reject());
        }
        println!(
            "{k} | {} | {} | {} | {to_kept} | {to_rejected} | {exact_ms:.0} | {fused_ms:.0}",
            tokens.len(),
            keeps(&exact),
            keeps(&fused)
        );
    }
    Ok(())
}

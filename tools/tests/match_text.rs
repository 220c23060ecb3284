//! `basis-aware match` on a short real text with SmolLM2-135M (found through
//! `BASIS_AWARE_MODEL`, else fetched by `scripts/fetch-model.sh`): the distributions it records
//! are the model's, and every boundary it reports is where the method really flips, checked
//! against the rules and BAT decisions made here.

mod common;

use std::process::Command;

use basis_aware::backends::SimplexBackend;
use basis_aware::{decide, softmax, Outcome, Step};
use basis_aware_tools::model::{cached_svd_basis, GgufModel, MODEL_ENV};
use basis_aware_tools::Family;
use serde_json::Value;

/// The text scored, after two header lines.
const PROSE: &str = "The old schoolmaster walked slowly down the road to the village, carrying a \
                     basket of apples for the children who waited by the gate.\n";

/// Relative nudge off a reported boundary.
const NUDGE: f64 = 1e-6;

fn param(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Whether `family` at `parameter` keeps `token` on `logits`, if the parameter is valid.
fn threshold_keeps(logits: &[f32], family: Family, parameter: f64, token: u32) -> Option<bool> {
    let rule = family.rule(parameter);
    rule.validate().ok()?;
    Some(Step::new(logits, &rule).unwrap().above_threshold(token))
}

#[test]
fn match_reports_boundaries_where_each_method_flips() {
    // One thread for candle's matrix products, here and in the child: on a shared machine
    // oversubscribed passes are several times slower. The only test in this binary, so no
    // other thread reads the environment.
    std::env::set_var("RAYON_NUM_THREADS", "1");
    let model_path = common::model_path();
    let dir = std::env::temp_dir().join(format!("basis-aware-match-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("text.txt");
    // Two header lines that --start-line skips, then plain prose.
    std::fs::write(
        &text,
        format!(
            "\u{feff}HEADER\r\nskipped\r\n{}",
            PROSE.replace('\n', "\r\n")
        ),
    )
    .unwrap();
    let out_dir = dir.join("out");
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_basis-aware"))
        .args([
            "match",
            "--text",
            text.to_str().unwrap(),
            "--start-line",
            "3",
        ])
        .args([
            "--tokens",
            "16",
            "--window",
            "12",
            "--context",
            "4",
            "--sample",
            "1",
        ])
        .args([
            "--rel-tol",
            "0.05",
            "--max-width",
            "0.1",
            "--max-tau",
            "0.05",
        ])
        .args(["--out", out_dir.to_str().unwrap()])
        .env(MODEL_ENV, model_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("match ran in {:?}", started.elapsed());
    assert!(std::fs::read_to_string(out_dir.join("rejection.svg"))
        .unwrap()
        .contains("BAT-epsilon"));
    let results: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("results.json")).unwrap()).unwrap();
    let gold = results["gold"].as_array().unwrap();
    assert_eq!(gold.len(), 16);
    let matched = results["matched"].as_array().unwrap();
    let names: Vec<&str> = matched
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["epsilon", "eta", "top-p", "min-p", "BAT-epsilon", "BAT-eta"]
    );
    // Every method rejects at least the matched share at its parameter (more only on ties).
    for m in matched.iter().filter(|m| m["parameter"].is_number()) {
        let decided = m["decided"].as_u64().unwrap() as f64;
        let rejected = m["rejected"].as_u64().unwrap() as f64;
        assert!(rejected >= (param(&m["rate"]) * decided).ceil(), "{m}");
    }

    let mut model = GgufModel::load(model_path).unwrap();
    let basis = cached_svd_basis(model_path, 20).unwrap();
    let mut backend = SimplexBackend::default();
    let tokens: Vec<u32> = results["text_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap() as u32)
        .collect();
    let decoded = model.decode(&tokens).unwrap();
    assert!(
        PROSE.starts_with(&decoded),
        "the text starts at --start-line, without the byte-order mark or CR: {decoded:?}"
    );
    let context = results["settings"]["context"].as_u64().unwrap() as usize;
    let mut bat_checked = 0;
    for g in gold {
        let (index, start) = (
            g["index"].as_u64().unwrap() as usize,
            g["window_start"].as_u64().unwrap() as usize,
        );
        let token = g["gold"].as_u64().unwrap() as u32;
        assert_eq!(token, tokens[index]);
        // The same teacher-forced passes give the same logits up to the last bit (the matrix
        // products' thread split may differ between processes), so the recorded probability
        // is the model's.
        let logits = if index == start + context {
            model.forward(&tokens[start..index], 0).unwrap()
        } else {
            model
                .forward(&tokens[index - 1..index], index - 1 - start)
                .unwrap()
        };
        let q = softmax(&logits).unwrap();
        let recorded = param(&g["q_gold"]);
        assert!(
            (recorded - q[token as usize]).abs() <= 1e-9 * recorded,
            "{recorded} vs {}",
            q[token as usize]
        );

        let bounds = &g["boundaries"];
        for family in Family::ALL {
            let b = &bounds[family.name()];
            if b == "never" {
                for p in [1e-6, 0.5, 1.0 - 1e-9] {
                    assert_ne!(threshold_keeps(&logits, family, p, token), Some(false));
                }
                continue;
            }
            let b = param(b);
            let (keep, reject) = if family.rejects_more_upward() {
                (b * (1.0 - NUDGE), b * (1.0 + NUDGE))
            } else {
                (b * (1.0 + NUDGE), b * (1.0 - NUDGE))
            };
            let name = family.name();
            assert_ne!(
                threshold_keeps(&logits, family, keep, token),
                Some(false),
                "{name} {b}"
            );
            assert_ne!(
                threshold_keeps(&logits, family, reject, token),
                Some(true),
                "{name} {b}"
            );
        }

        let critical = g["critical_tau"].as_array().unwrap();
        assert!(param(&critical[0]) >= recorded);
        if let Some(rejected) = critical[1].as_f64() {
            assert!(rejected > param(&critical[0]));
        }
        // BAT at the bracket's ends, for the first few bracketed tokens (each decision near the
        // critical value is an LP).
        for family in [Family::Epsilon, Family::Eta] {
            let name = format!("BAT-{}", family.name());
            let Some([kept, rejected]) = bounds[&name].as_array().map(|a| [&a[0], &a[1]]) else {
                continue;
            };
            if bat_checked >= 6 {
                break;
            }
            bat_checked += 1;
            let mut decision = |parameter: f64| {
                let step = Step::new(&logits, &family.rule(parameter)).unwrap();
                decide(&step, &basis, token, Some(&mut backend)).unwrap()
            };
            assert!(matches!(
                decision(param(kept) * (1.0 - NUDGE)),
                Outcome::Keep(_)
            ));
            assert!(matches!(
                decision(param(rejected) * (1.0 + NUDGE)),
                Outcome::Reject(_)
            ));
        }
    }
    assert!(bat_checked > 0, "no gold token had a BAT bracket to check");
    eprintln!("checked in {:?}", started.elapsed());
    std::fs::remove_dir_all(&dir).ok();
}

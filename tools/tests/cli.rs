//! The CLI's contract: JSON lines per step, and exit code 2 with one stderr line on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use basis_aware::synthetic;
use basis_aware_tools::instance::{Constraint, Instance};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("basis-aware-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_basis-aware"))
        .args(args)
        .output()
        .unwrap()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn assert_bad_input(args: &[&str], mentions: &str) {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    assert!(
        stderr.contains(mentions),
        "{args:?}: `{stderr}` lacks `{mentions}`"
    );
}

#[test]
fn json_lines_partition_the_listed_tokens() {
    let path = scratch("ok.safetensors");
    gaussian_instance(60, 4, 2, 6.0, 1).save(&path).unwrap();
    let out = run(&[
        "truncate",
        path_str(&path),
        "--tokens",
        "0,5,7,59",
        "--backend",
        "none",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for (k, line) in lines.iter().enumerate() {
        assert_eq!(line["step"], k);
        let mut all: Vec<u64> = ["kept", "rejected", "undecided"]
            .iter()
            .flat_map(|key| {
                line[key]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
            })
            .collect();
        all.sort();
        assert_eq!(all, vec![0, 5, 7, 59]);
        assert!(line["tau"].as_f64().unwrap() > 0.0);
        assert!(line["elapsed_us"].is_u64());
    }
    let whole = run(&[
        "truncate",
        path_str(&path),
        "--step",
        "1",
        "--svd",
        "2",
        "--backend",
        "none",
        "--json",
    ]);
    let line: serde_json::Value = serde_json::from_slice(&whole.stdout).unwrap();
    assert!(line["rejected_count"].is_u64() && line.get("rejected").is_none());
}

/// `--each` decides the listed tokens one call apiece: the same decisions as one call for all,
/// with one time per token in list order.
#[test]
fn each_times_every_listed_token_and_decides_the_same() {
    let path = scratch("each.safetensors");
    gaussian_instance(300, 4, 1, 6.0, 3).save(&path).unwrap();
    let tokens = "7,0,299,150,42";
    let decide = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["truncate", path_str(&path), "--tokens", tokens, "--json"];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let (together, each) = (decide(&[]), decide(&["--each"]));
    for key in ["kept", "rejected", "undecided"] {
        assert_eq!(together[key], each[key], "{key}");
    }
    assert_eq!(each["token_us"].as_array().unwrap().len(), 5);
    assert!(each["token_us"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t.is_u64()));
    assert!(each["step_us"].is_u64());
    assert!(together.get("token_us").is_none());
}

/// Half-precision tensors read as the f32 values they hold: values on a grid that f16 and bf16
/// represent exactly give the same output as the f32 file.
#[test]
fn f16_and_bf16_instances_read_like_f32() {
    use safetensors::tensor::{Dtype, TensorView};
    let (vocab, dim) = (24, 3);
    let logits: Vec<f32> = (0..vocab)
        .map(|j| ((j * 7) % 13) as f32 * 0.25 - 1.5)
        .collect();
    let w: Vec<f32> = (0..vocab * dim)
        .map(|k| ((k * 5) % 9) as f32 * 0.125 - 0.5)
        .collect();
    let f32_path = scratch("exact-f32.safetensors");
    Instance {
        logits: logits.clone(),
        steps: 1,
        vocab,
        constraint: Constraint::Embedding(w.clone(), dim),
    }
    .save(&f32_path)
    .unwrap();
    let f16: Vec<u8> = logits
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
        .collect();
    let bf16: Vec<u8> = w
        .iter()
        .flat_map(|&v| half::bf16::from_f32(v).to_le_bytes())
        .collect();
    let half_path = scratch("exact-half.safetensors");
    safetensors::serialize_to_file(
        [
            (
                "logits",
                TensorView::new(Dtype::F16, vec![1, vocab], &f16).unwrap(),
            ),
            (
                "embedding",
                TensorView::new(Dtype::BF16, vec![vocab, dim], &bf16).unwrap(),
            ),
        ],
        None,
        &half_path,
    )
    .unwrap();
    let decide = |p: &Path| {
        let out = run(&["truncate", path_str(p), "--rule", "epsilon=0.02", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        line.as_object_mut().unwrap().remove("elapsed_us");
        line
    };
    assert_eq!(decide(&f32_path), decide(&half_path));
}

#[test]
fn bad_input_exits_with_code_2_and_one_line() {
    let good = scratch("good.safetensors");
    gaussian_instance(30, 3, 1, 4.0, 2).save(&good).unwrap();
    let g = path_str(&good);
    assert_bad_input(&["truncate", "/nonexistent.safetensors"], "nonexistent");
    assert_bad_input(&["truncate", g, "--rule", "eta=2"], "eta");
    assert_bad_input(&["truncate", g, "--rule", "nucleus=0.9"], "unknown rule");
    assert_bad_input(&["truncate", g, "--step", "1"], "step 1");
    assert_bad_input(&["truncate", g, "--tokens", "1,x"], "--tokens");
    assert_bad_input(&["truncate", g, "--tokens", "30"], "out of range");
    assert_bad_input(&["truncate", g, "--svd", "9"], "svd rank");
    assert_bad_input(&["truncate", g, "--backend", "cplex"], "not in this build");
    assert_bad_input(&["truncate", g, "--frobnicate", "1"], "--frobnicate");
    assert_bad_input(&["truncate", g, "--each"], "--tokens");
    assert_bad_input(&["truncate", g, "--time-limit", "0"], "--time-limit");
    assert_bad_input(&["truncate"], "INSTANCE");
    assert_bad_input(&["nonsense"], "subcommand");
    assert_bad_input(&[], "subcommand");
    let huge = scratch("huge.safetensors");
    assert_bad_input(
        &[
            "synth",
            "--out",
            path_str(&huge),
            "--vocab",
            "100000000000",
            "--dim",
            "100000",
        ],
        "exceeds",
    );
    // W near f32::MAX: its SVD basis would hold an infinity.
    let overflow = scratch("overflow.safetensors");
    Instance {
        logits: vec![0.0, 1.0, 2.0],
        steps: 1,
        vocab: 3,
        constraint: Constraint::Embedding(vec![3e38, 3e38, 1.0, 0.0, 0.0, 2.0], 2),
    }
    .save(&overflow)
    .unwrap();
    assert_bad_input(
        &["truncate", path_str(&overflow), "--svd", "1"],
        "svd basis",
    );

    let mut nan = gaussian_instance(30, 3, 1, 4.0, 2);
    nan.logits[4] = f32::NAN;
    let nan_path = scratch("nan.safetensors");
    nan.save(&nan_path).unwrap();
    assert_bad_input(&["truncate", path_str(&nan_path)], "logit 4 is NaN");

    let mut masked = gaussian_instance(30, 3, 1, 4.0, 2);
    masked
        .logits
        .iter_mut()
        .for_each(|l| *l = f32::NEG_INFINITY);
    let masked_path = scratch("masked.safetensors");
    masked.save(&masked_path).unwrap();
    assert_bad_input(&["truncate", path_str(&masked_path)], "every logit is -inf");

    let mut inf_basis = gaussian_instance(30, 3, 1, 4.0, 2);
    if let Constraint::Embedding(w, _) = &mut inf_basis.constraint {
        w[7] = f32::INFINITY;
    }
    let inf_path = scratch("inf.safetensors");
    inf_basis.save(&inf_path).unwrap();
    assert_bad_input(&["truncate", path_str(&inf_path)], "must be finite");

    let stored = Instance {
        logits: vec![0.0; 4],
        steps: 1,
        vocab: 4,
        constraint: Constraint::Basis(vec![1.0; 8], 2),
    };
    let stored_path = scratch("stored.safetensors");
    stored.save(&stored_path).unwrap();
    assert_bad_input(
        &["truncate", path_str(&stored_path), "--svd", "1"],
        "used as given",
    );

    let garbage = scratch("garbage.safetensors");
    std::fs::write(&garbage, b"not a safetensors file").unwrap();
    assert_bad_input(&["truncate", path_str(&garbage)], "garbage");
}

/// `--help` prints every subcommand's flags and exits 0, at the top and per subcommand.
#[test]
fn help_exits_0_and_lists_the_flags() {
    let top = run(&["--help"]);
    assert_eq!(top.status.code(), Some(0));
    let text = String::from_utf8_lossy(&top.stdout);
    for command in [
        "truncate", "synth", "export", "generate", "match", "evaluate",
    ] {
        assert!(text.contains(command), "{command} missing from:\n{text}");
    }
    let truncate = run(&["truncate", "--help"]);
    assert_eq!(truncate.status.code(), Some(0));
    let text = String::from_utf8_lossy(&truncate.stdout);
    for flag in [
        "--step",
        "--rule",
        "--svd",
        "--backend",
        "--tokens",
        "--each",
        "--time-limit",
        "--json",
    ] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
}

/// The last of a repeated flag wins, as it always did.
#[test]
fn a_repeated_flag_takes_its_last_value() {
    let path = scratch("repeat.safetensors");
    gaussian_instance(40, 3, 2, 4.0, 5).save(&path).unwrap();
    let out = run(&[
        "truncate",
        path_str(&path),
        "--step",
        "0",
        "--step",
        "1",
        "--backend",
        "none",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["step"], 1);
}

/// The library's synthetic steps as an instance.
fn gaussian_instance(vocab: usize, dim: usize, steps: usize, scale: f64, seed: u64) -> Instance {
    synthetic::gaussian_instance(vocab, dim, steps, scale, seed).into()
}

/// `synth` writes the instance `synthetic::gaussian_instance` makes from the same seed.
#[test]
fn synth_writes_the_seeded_instance() {
    let path = scratch("synth.safetensors");
    let out = run(&[
        "synth",
        "--out",
        path_str(&path),
        "--vocab",
        "50",
        "--dim",
        "3",
        "--steps",
        "2",
        "--scale",
        "5",
        "--seed",
        "11",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        Instance::load(&path).unwrap(),
        gaussian_instance(50, 3, 2, 5.0, 11)
    );
}

#[cfg(not(feature = "candle"))]
#[test]
fn export_without_the_candle_feature_says_so() {
    assert_bad_input(
        &["export", "--prompt", "Hi", "--out", "never.safetensors"],
        "candle",
    );
}

/// `sample --json`: one object per step with the step's tau and one entry per draw; draw `k` is
/// seeded with `SEED + k` (so a later seed's draws are a suffix of an earlier one's), and
/// `below_tau` says exactly whether the token's probability is below the threshold.
#[test]
fn sample_json_draws_follow_the_contract() {
    use basis_aware::{Rule, Step};

    let path = scratch("sample.safetensors");
    let inst = gaussian_instance(200, 4, 2, 6.0, 7);
    inst.save(&path).unwrap();
    let draw = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["sample", path_str(&path), "--rule", "eta=0.02", "--json"];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let lines = draw(&["--draws", "12", "--seed", "0"]);
    assert_eq!(lines.len(), 2);
    let mut below = 0;
    for (k, line) in lines.iter().enumerate() {
        assert_eq!(line["step"], k);
        let step = Step::new(inst.step_logits(k).unwrap(), &Rule::Eta(0.02)).unwrap();
        assert_eq!(line["tau"].as_f64().unwrap(), step.tau());
        let draws = line["draws"].as_array().unwrap();
        assert_eq!(draws.len(), 12);
        for d in draws {
            let token = d["token"].as_u64().unwrap() as usize;
            let is_below = d["below_tau"].as_bool().unwrap();
            assert_eq!(is_below, step.q()[token] < step.tau(), "{d}");
            below += usize::from(is_below);
            assert!(d["lps"].is_u64() && d["us"].is_u64(), "{d}");
        }
    }
    assert!(below > 0, "the instance should draw below tau: {lines:?}");
    let tokens = |line: &serde_json::Value| -> Vec<u64> {
        line["draws"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["token"].as_u64().unwrap())
            .collect()
    };
    let later = draw(&["--draws", "4", "--seed", "8", "--step", "1"]);
    assert_eq!(later.len(), 1);
    assert_eq!(tokens(&later[0]), tokens(&lines[1])[8..12]);
    // Without a backend nothing below tau is kept, and no LP runs.
    for line in draw(&["--draws", "12", "--backend", "none"]) {
        for d in line["draws"].as_array().unwrap() {
            assert_eq!(d["below_tau"], false);
            assert_eq!(d["lps"], 0);
        }
    }
}

#[test]
fn sample_prints_a_table_and_refuses_bad_input() {
    let path = scratch("sample-table.safetensors");
    gaussian_instance(50, 3, 1, 4.0, 2).save(&path).unwrap();
    let out = run(&["sample", path_str(&path), "--draws", "3"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("step 0: tau") && text.lines().count() >= 5,
        "{text}"
    );
    let p = path_str(&path);
    assert_bad_input(&["sample", p, "--draws", "x"], "--draws");
    assert_bad_input(&["sample", p, "--step", "3"], "step 3");
    assert_bad_input(&["sample", p, "--backend", "cplex"], "not in this build");
    assert_bad_input(&["sample", "/nonexistent.safetensors"], "nonexistent");
}

/// `truncate --time-limit` bounds the whole call: with a deadline that has passed before the
/// first LP, the tokens an LP would decide come back undecided instead.
#[test]
fn the_time_limit_bounds_the_whole_call() {
    let path = scratch("deadline.safetensors");
    gaussian_instance(300, 4, 1, 6.0, 3).save(&path).unwrap();
    let undecided = |extra: &[&str]| -> usize {
        let mut args = vec!["truncate", path_str(&path), "--json"];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        line["undecided"].as_array().unwrap().len()
    };
    assert_eq!(undecided(&[]), 0);
    assert!(undecided(&["--time-limit", "0.000001"]) > 0);
}

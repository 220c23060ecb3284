//! The real model end to end: SmolLM2-135M-Instruct (Q4_1 GGUF) found through
//! `BASIS_AWARE_MODEL`, else fetched by `scripts/fetch-model.sh` (idempotent; a no-op once the
//! checked file is cached).

mod common;

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use basis_aware::{BasisKind, Error};
use basis_aware_tools::instance::{Constraint, Instance};
use basis_aware_tools::model::ModelError;
use basis_aware_tools::model::{GgufModel, ModelCache};
use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::GgmlDType;

/// One loaded model shared by the tests (loading takes about a second).
fn model() -> MutexGuard<'static, GgufModel> {
    static MODEL: OnceLock<Mutex<GgufModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let started = Instant::now();
            let model = GgufModel::load(common::model_path()).unwrap();
            eprintln!("model loaded in {:?}", started.elapsed());
            Mutex::new(model)
        })
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn argmax(logits: &[f32]) -> u32 {
    (0..logits.len())
        .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
        .unwrap() as u32
}

/// A path in this process's scratch directory, removed (file or directory) when dropped: the
/// instances these tests write are 80 MB each, and left behind they filled the disk.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0).or_else(|_| std::fs::remove_dir_all(&self.0));
    }
}

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl AsRef<std::path::Path> for Scratch {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("basis-aware-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir.join(name))
}

/// The embedding is candle's dequantisation of the file's Q8_0 `token_embd.weight`, checked
/// against an independent decode of the file's own bytes on a few rows: each block of 32 values
/// is an f16 scale and 32 signed bytes, and a value is the scale times its byte.
#[test]
fn the_embedding_is_the_files_q8_0_values_exactly() {
    use std::io::{Read, Seek, SeekFrom};

    const BLOCK: usize = 32;
    const BLOCK_BYTES: usize = 2 + BLOCK;
    let mut file = std::fs::File::open(common::model_path()).unwrap();
    let content = Content::read(&mut file).unwrap();
    let info = &content.tensor_infos["token_embd.weight"];
    assert_eq!(info.ggml_dtype, GgmlDType::Q8_0);
    let model = model();
    let w = model.embedding();
    assert_eq!((w.rows(), w.cols()), (49152, 576));
    let row_bytes = w.cols() / BLOCK * BLOCK_BYTES;
    for row in [0, 1, 12345, 49151] {
        let mut bytes = vec![0u8; row_bytes];
        let start = content.tensor_data_offset + info.offset + (row * row_bytes) as u64;
        file.seek(SeekFrom::Start(start)).unwrap();
        file.read_exact(&mut bytes).unwrap();
        let decoded: Vec<f32> = bytes
            .chunks_exact(BLOCK_BYTES)
            .flat_map(|block| {
                let scale = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
                block[2..].iter().map(move |&q| f32::from(q as i8) * scale)
            })
            .collect();
        assert!(w.row(row) == Some(decoded.as_slice()), "row {row}");
    }
}

#[test]
fn english_text_round_trips_through_the_tokenizer() {
    let model = model();
    let text = "The quick brown fox jumps over the lazy dog. In 2024, it costs $3.50 \
                (about \u{20ac}3.20) - isn't that \"cheap\"?\n\n  Indented line.";
    let tokens = model.encode(text).unwrap();
    assert!(tokens.len() > 20 && tokens.len() < text.len());
    assert_eq!(model.decode(&tokens).unwrap(), text);
    // SmolLM2 splits every digit and adds no prefix space.
    let digits = model.encode("2024").unwrap();
    assert_eq!(digits.len(), 4);
    assert_eq!(model.decode(&digits[..1]).unwrap(), "2");
    let hello = model.encode("Hello world").unwrap();
    assert_eq!(model.decode(&hello[..1]).unwrap(), "Hello");
    // Control tokens stay whole.
    assert_eq!(model.encode("<|im_start|>").unwrap(), vec![1]);
}

#[test]
fn the_capital_of_germany_is_berlin() {
    let mut model = model();
    let prompt = model
        .encode("The capital of France is Paris. The capital of Germany is")
        .unwrap();
    let started = Instant::now();
    let logits = model.forward(&prompt, 0).unwrap();
    eprintln!(
        "prompt of {} tokens in {:?}",
        prompt.len(),
        started.elapsed()
    );
    assert_eq!(logits.len(), model.vocab());
    let next = argmax(&logits);
    assert_eq!(model.decode(&[next]).unwrap(), " Berlin");
    // Decoding continues from the cache one token at a time.
    let started = Instant::now();
    let after = model.forward(&[next], prompt.len()).unwrap();
    eprintln!("one cached decode step in {:?}", started.elapsed());
    assert_eq!(model.decode(&[argmax(&after)]).unwrap(), ".");
}

#[test]
fn forward_passes_are_deterministic_and_position_zero_restarts() {
    let mut model = model();
    let prompt = model.encode("Once upon a time, there was").unwrap();
    let run = |model: &mut GgufModel| {
        let first = model.forward(&prompt, 0).unwrap();
        let second = model.forward(&[argmax(&first)], prompt.len()).unwrap();
        (first, second)
    };
    let a = run(&mut model);
    model.forward(&[5, 6, 7], 0).unwrap(); // another sequence in between
    let b = run(&mut model);
    assert!(a == b);
}

#[test]
fn bad_calls_are_errors() {
    let mut model = model();
    assert!(matches!(model.forward(&[], 0), Err(ModelError::NoTokens)));
    assert!(matches!(
        model.forward(&[49152], 0),
        Err(ModelError::Library(Error::TokenOutOfRange {
            token: 49152,
            ..
        }))
    ));
    model.forward(&[10, 11], 0).unwrap();
    assert!(matches!(
        model.forward(&[12], 5),
        Err(ModelError::Position {
            position: 5,
            cached: 2
        })
    ));
    assert!(model.forward(&[12], 2).is_ok());
    assert!(model.decode(&[u32::MAX]).is_err());
}

#[test]
fn bad_files_are_errors() {
    // The operating system's and candle's errors come back as the sources.
    let missing = GgufModel::load("/nonexistent/model.gguf").err().unwrap();
    assert!(matches!(missing, ModelError::Library(Error::Io { .. })));
    let source = std::error::Error::source(&missing).expect("the io error");
    assert_eq!(
        source
            .downcast_ref::<std::sync::Arc<std::io::Error>>()
            .map(|e| e.kind()),
        Some(std::io::ErrorKind::NotFound)
    );
    let junk = scratch("junk.gguf");
    std::fs::write(&junk, b"GGUF but not really").unwrap();
    let junk = GgufModel::load(&junk).err().unwrap();
    assert!(matches!(junk, ModelError::Candle { .. }), "{junk:?}");
    assert!(std::error::Error::source(&junk)
        .is_some_and(|s| s.downcast_ref::<candle_core::Error>().is_some()));
    // A real header whose tensor data is cut off.
    let bytes = std::fs::read(common::model_path()).unwrap();
    let cut = scratch("cut.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() / 4]).unwrap();
    assert!(GgufModel::load(&cut).is_err());
}

#[test]
fn the_svd_basis_is_computed_once_then_loaded() {
    let dir = scratch("cache");
    let cache = ModelCache::new(dir.to_path_buf());
    let started = Instant::now();
    let first = cache.svd_basis(common::model_path(), 20).unwrap();
    let cold = started.elapsed();
    let started = Instant::now();
    let second = cache.svd_basis(common::model_path(), 20).unwrap();
    let warm = started.elapsed();
    eprintln!("svd basis c = 20: computed in {cold:?}, loaded in {warm:?}");
    assert_eq!(first, second);
    assert_eq!(
        (first.vocab(), first.dim(), first.kind()),
        (49152, 20, BasisKind::Svd { rank: 20 })
    );
    assert_eq!(
        cache.model_sha256(common::model_path()).unwrap(),
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    );
}

#[test]
fn export_writes_an_instance_of_the_model() {
    let out = scratch("export.safetensors");
    let run = Command::new(env!("CARGO_BIN_EXE_basis-aware"))
        .args([
            "export",
            "--prompt",
            "The capital of France is",
            "--steps",
            "3",
        ])
        .arg("--out")
        .arg(&out)
        .arg("--model")
        .arg(common::model_path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let instance = Instance::load(&out).unwrap();
    assert_eq!((instance.steps, instance.vocab), (3, 49152));
    let Constraint::Embedding(w, d) = &instance.constraint else {
        panic!("export writes the embedding");
    };
    assert_eq!((w.len(), *d), (49152 * 576, 576));
    let first = argmax(instance.step_logits(0).unwrap());
    assert_eq!(model().decode(&[first]).unwrap(), " Paris");
}

#[test]
fn export_of_a_missing_model_exits_with_code_2() {
    let run = Command::new(env!("CARGO_BIN_EXE_basis-aware"))
        .args(["export", "--prompt", "Hi", "--out"])
        .arg(scratch("never.safetensors"))
        .args(["--model", "/nonexistent/model.gguf"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("/nonexistent/model.gguf"), "{stderr}");
}

#[test]
fn generate_is_deterministic_under_a_seed_and_writes_its_plot() {
    let run = |plot: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_basis-aware"))
            .args(["generate", "--prompt", "The best thing about the sea is"])
            .args([
                "--seed",
                "3",
                "--max-tokens",
                "4",
                "--window",
                "4",
                "--plot",
            ])
            .arg(plot)
            .arg("--model")
            .arg(common::model_path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The continuations, without the timings of the table and summary.
        let start = stdout
            .find("threshold only")
            .expect("continuations printed");
        let end = stdout.find("\nsummary").expect("summary printed");
        stdout[start..end].to_string()
    };
    let (first, second) = (scratch("generate-1.svg"), scratch("generate-2.svg"));
    assert_eq!(run(&first), run(&second));
    let svg = std::fs::read_to_string(&first).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("polyline"), "{svg}");
}

/// Held-out real data: on a real decode step (top-20 SVD basis, eta 9e-4), the default path and
/// the HiGHS oracle on the unreduced problem never contradict each other, token by token, from
/// the most probable tokens below `tau` to the deep tail. (HiGHS's reject points at this size
/// miss the verifier's residual tolerance, so its rejects come back undecided: only its keeps
/// can contradict.)
#[cfg(feature = "highs")]
#[test]
fn the_default_path_agrees_with_highs_on_a_real_step() {
    use basis_aware::backends::{HighsBackend, SimplexBackend};
    use basis_aware::{decide, decide_tokens, Rule, Step};

    let mut model = model();
    let prompt = model
        .encode("The best thing about living by the sea is")
        .unwrap();
    let logits = model.forward(&prompt, 0).unwrap();
    drop(model);
    let basis = basis_aware_tools::model::cached_svd_basis(common::model_path(), 20).unwrap();
    let step = Step::new(&logits, &Rule::Eta(9e-4)).unwrap();
    let below = step.below_threshold();
    let picks: Vec<u32> = [0, 1, 2, 3, 60, 150, 400, 5000, 30000]
        .iter()
        .filter_map(|&rank| below.get(rank).copied())
        .collect();
    let (ours, _) =
        decide_tokens(&step, &basis, &picks, Some(&mut SimplexBackend::default())).unwrap();
    assert!(ours.iter().all(|o| !o.is_undecided()), "{ours:?}");
    assert!(ours.iter().any(|o| o.is_keep()) && ours.iter().any(|o| o.is_reject()));
    let mut highs = HighsBackend::with_time_limit(60.0);
    for (&t, mine) in picks.iter().zip(&ours) {
        let oracle = decide(&step, &basis, t, Some(&mut highs)).unwrap();
        let contradiction =
            (mine.is_keep() && oracle.is_reject()) || (mine.is_reject() && oracle.is_keep());
        assert!(
            !contradiction,
            "token {t}: default path {mine:?}, HiGHS {oracle:?}"
        );
    }
}

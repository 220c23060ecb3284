//! The per-model cache of SVD bases. Factoring `W` costs seconds, and a model's `W` never
//! changes, so the top-`c` basis is computed once, saved under the model file's SHA-256 and `c`,
//! and loaded in milliseconds afterwards. The hash itself is remembered by file size and
//! modification time, so a warm run does not read the whole model either.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

use basis_aware::{Basis, Error, MatrixView};

use super::error::Result;
use super::gguf::Gguf;

/// The environment variable overriding the cache directory (shared with
/// `scripts/fetch-model.sh`, which downloads the model into it).
pub const CACHE_ENV: &str = "BASIS_AWARE_CACHE";

/// Metadata key of a cached basis naming the model it was computed from.
const MODEL_HASH_KEY: &str = "model_sha256";

/// A directory of derived per-model files (hashes and bases).
#[derive(Debug, Clone)]
pub struct ModelCache {
    dir: PathBuf,
}

/// [`ModelCache::svd_basis`] in the default cache directory ([`ModelCache::from_env`]).
pub fn cached_svd_basis(model: impl AsRef<Path>, rank: usize) -> Result<Basis> {
    ModelCache::from_env().svd_basis(model, rank)
}

impl ModelCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `$BASIS_AWARE_CACHE`, else `~/.cache/basis-aware/models` (where the fetch script puts
    /// the model), else a directory under the system's temporary directory.
    pub fn from_env() -> Self {
        let dir = match (std::env::var_os(CACHE_ENV), std::env::var_os("HOME")) {
            (Some(dir), _) => PathBuf::from(dir),
            (None, Some(home)) => PathBuf::from(home).join(".cache/basis-aware/models"),
            (None, None) => std::env::temp_dir().join("basis-aware-models"),
        };
        Self::new(dir)
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The top-`rank` SVD basis of the model's output embedding, from the cache when a basis
    /// of this model and rank is there, else computed and stored.
    pub fn svd_basis(&self, model: impl AsRef<Path>, rank: usize) -> Result<Basis> {
        let model = model.as_ref();
        let hash = self.model_sha256(model)?;
        let path = self
            .dir
            .join(format!("svd-{}-c{rank}.safetensors", &hash[..16]));
        if let Ok((basis, meta)) = Basis::load(&path) {
            if meta.get(MODEL_HASH_KEY) == Some(&hash) && basis.dim() == rank {
                return Ok(basis);
            }
        }
        let (w, vocab, hidden) = Gguf::open(model)?.output_embedding()?;
        let basis = Basis::svd(MatrixView::new(&w, vocab, hidden)?, rank)?;
        let meta = HashMap::from([(MODEL_HASH_KEY.to_string(), hash)]);
        self.write_atomically(&path, |tmp| basis.save(tmp, &meta))?;
        Ok(basis)
    }

    /// The SHA-256 of the model file (hex), remembered in the cache under the file's name, size
    /// and modification time; a changed file is hashed again.
    pub fn model_sha256(&self, model: impl AsRef<Path>) -> Result<String> {
        let model = model.as_ref();
        let meta = std::fs::metadata(model).map_err(|e| Error::io(model, e))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let stamp = format!("{} {mtime}", meta.len());
        let name = model
            .file_name()
            .ok_or_else(|| Error::File {
                path: model.display().to_string(),
                message: "not a file".into(),
            })?
            .to_string_lossy();
        let memo = self.dir.join(format!("{name}.key"));
        if let Ok(text) = std::fs::read_to_string(&memo) {
            if let Some((seen, hash)) = text.trim_end().rsplit_once(' ') {
                if seen == stamp && hash.len() == 64 {
                    return Ok(hash.to_string());
                }
            }
        }
        let hash = sha256_file(model)?;
        self.write_atomically(&memo, |tmp| {
            std::fs::write(tmp, format!("{stamp} {hash}\n")).map_err(|e| Error::io(tmp, e))
        })?;
        Ok(hash)
    }

    /// Writes through a temporary name and renames, so a concurrent reader (another test,
    /// another process) never sees half a file.
    fn write_atomically(
        &self,
        path: &Path,
        write: impl FnOnce(&Path) -> basis_aware::Result<()>,
    ) -> basis_aware::Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        static WRITES: AtomicUsize = AtomicUsize::new(0);
        let unique = WRITES.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp-{}-{unique}", std::process::id()));
        let written = write(&tmp);
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

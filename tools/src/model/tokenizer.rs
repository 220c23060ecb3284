//! The model's tokenizer, rebuilt from the GGUF metadata (`tokenizer.ggml.*`): a byte-level BPE
//! whose vocabulary and merges the file carries. The pre-tokenizer is not in the file, only its
//! name (`tokenizer.ggml.pre`), so each supported name maps to the pipeline of the model's
//! original `tokenizer.json`.

use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, Tokenizer};

use super::error::{ModelError, Result};
use super::gguf::Gguf;

/// GGUF token types (llama.cpp's `llama_token_type`) that must never be split or merged.
const CONTROL: u32 = 3;
const USER_DEFINED: u32 = 4;

fn strings<'a>(gguf: &'a Gguf, key: &str) -> Result<Vec<&'a str>> {
    let values = gguf
        .content
        .metadata
        .get(key)
        .and_then(|v| v.to_vec().ok())
        .ok_or_else(|| ModelError::metadata(key, "missing or not an array"))?;
    values
        .iter()
        .map(|v| {
            v.to_string()
                .map(String::as_str)
                .map_err(|_| ModelError::metadata(key, "holds a non-string"))
        })
        .collect()
}

/// Builds the tokenizer; fails on a tokenizer model or pre-tokenizer this crate does not know,
/// rather than tokenising differently from the model's training.
pub(super) fn from_gguf(gguf: &Gguf) -> Result<Tokenizer> {
    let kind = gguf.string("tokenizer.ggml.model")?;
    if kind != "gpt2" {
        return Err(ModelError::Unsupported {
            what: "tokenizer model",
            name: kind.to_string(),
            supported: &["gpt2 (byte-level BPE)"],
        });
    }
    let pre = gguf.string("tokenizer.ggml.pre")?;
    // SmolLM2's tokenizer.json: every digit on its own, then GPT-2's regex and byte mapping,
    // without a prefix space.
    let pre_tokenizer = match pre {
        "smollm" => Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, true, true).into(),
        ]),
        other => {
            return Err(ModelError::Unsupported {
                what: "pre-tokenizer",
                name: other.to_string(),
                supported: &["smollm"],
            })
        }
    };
    let tokens = strings(gguf, "tokenizer.ggml.tokens")?;
    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(id, t)| (t.to_string(), id as u32))
        .collect();
    let merges = strings(gguf, "tokenizer.ggml.merges")?
        .into_iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| {
                    ModelError::metadata(
                        "tokenizer.ggml.merges",
                        format!("`{m}` is not two tokens"),
                    )
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(ModelError::tokenizer("building the BPE model"))?;
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer
        .with_pre_tokenizer(Some(pre_tokenizer))
        .with_decoder(Some(ByteLevel::default()));

    let types = gguf
        .content
        .metadata
        .get("tokenizer.ggml.token_type")
        .and_then(|v| v.to_vec().ok())
        .ok_or_else(|| ModelError::metadata("tokenizer.ggml.token_type", "missing"))?;
    if types.len() != tokens.len() {
        return Err(ModelError::metadata(
            "tokenizer.ggml.token_type",
            format!("{} token types for {} tokens", types.len(), tokens.len()),
        ));
    }
    let (mut special, mut added) = (Vec::new(), Vec::new());
    for (token, ty) in tokens.iter().zip(types) {
        match ty.to_i32().map(|t| t as u32).or_else(|_| ty.to_u32()) {
            Ok(CONTROL) => special.push(AddedToken::from(token.to_string(), true)),
            Ok(USER_DEFINED) => added.push(AddedToken::from(token.to_string(), false)),
            Ok(_) => {}
            Err(_) => {
                return Err(ModelError::metadata(
                    "tokenizer.ggml.token_type",
                    "holds a non-integer",
                ))
            }
        }
    }
    tokenizer
        .add_special_tokens(special)
        .map_err(ModelError::tokenizer("adding the control tokens"))?;
    tokenizer
        .add_tokens(added)
        .map_err(ModelError::tokenizer("adding the user-defined tokens"))?;
    Ok(tokenizer)
}

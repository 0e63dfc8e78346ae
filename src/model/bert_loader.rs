//! Loads Hugging Face BERT checkpoints (safetensors) into [`crate::model::bert`].
//!
//! Every rename lives in [`KEY_TABLE`]. Hugging Face names the encoder's keys
//! `bert.embeddings.*` / `bert.encoder.layer.N.*` in `BertForPreTraining` and
//! `BertForMaskedLM`, and bare `embeddings.*` / `encoder.layer.N.*` in
//! `BertModel` and sentence-transformers files (all-MiniLM-L6-v2); both load.
//! Checkpoints converted from the original TensorFlow release call LayerNorm's
//! parameters `gamma`/`beta` instead of `weight`/`bias`; both load.
//!
//! Several checkpoints can be stacked: a key is taken from the last one that
//! has it. The fill-mask model is the all-MiniLM-L6-v2 encoder (fetched at
//! setup) with the project's own file on top (the tensors its training
//! changed, and the two heads).

use std::future::Future;

use burn::tensor::Device;

use crate::model::bert::{BertConfig, BertForPreTraining, BertModel};
use crate::model::bert_tokenizer::BertTokenizer;
use crate::model::checkpoint::{run_ready, transpose, Checkpoint, CheckpointError, Source};
use crate::model::export::NamedTensor;

/// (burn module path, Hugging Face key, stored transposed).
///
/// `{n}` stands for a layer index. Encoder keys are written without their
/// optional `bert.` prefix. PyTorch's `nn.Linear` stores its weight as
/// [out, in] and burn's `Linear` as [in, out], hence the transposes.
pub const KEY_TABLE: &[(&str, &str, bool)] = &[
    // Embeddings: token + segment + position, then LayerNorm (§3.2, Figure 2).
    (
        "embeddings.word_embeddings.weight",
        "embeddings.word_embeddings.weight",
        false,
    ),
    (
        "embeddings.position_embeddings.weight",
        "embeddings.position_embeddings.weight",
        false,
    ),
    (
        "embeddings.token_type_embeddings.weight",
        "embeddings.token_type_embeddings.weight",
        false,
    ),
    (
        "embeddings.norm.gamma",
        "embeddings.LayerNorm.weight",
        false,
    ),
    ("embeddings.norm.beta", "embeddings.LayerNorm.bias", false),
    // Encoder layer n: self-attention, add & norm, feed-forward, add & norm.
    (
        "layers.{n}.attention.query.weight",
        "encoder.layer.{n}.attention.self.query.weight",
        true,
    ),
    (
        "layers.{n}.attention.query.bias",
        "encoder.layer.{n}.attention.self.query.bias",
        false,
    ),
    (
        "layers.{n}.attention.key.weight",
        "encoder.layer.{n}.attention.self.key.weight",
        true,
    ),
    (
        "layers.{n}.attention.key.bias",
        "encoder.layer.{n}.attention.self.key.bias",
        false,
    ),
    (
        "layers.{n}.attention.value.weight",
        "encoder.layer.{n}.attention.self.value.weight",
        true,
    ),
    (
        "layers.{n}.attention.value.bias",
        "encoder.layer.{n}.attention.self.value.bias",
        false,
    ),
    (
        "layers.{n}.attention.output.weight",
        "encoder.layer.{n}.attention.output.dense.weight",
        true,
    ),
    (
        "layers.{n}.attention.output.bias",
        "encoder.layer.{n}.attention.output.dense.bias",
        false,
    ),
    (
        "layers.{n}.attention_norm.gamma",
        "encoder.layer.{n}.attention.output.LayerNorm.weight",
        false,
    ),
    (
        "layers.{n}.attention_norm.beta",
        "encoder.layer.{n}.attention.output.LayerNorm.bias",
        false,
    ),
    (
        "layers.{n}.intermediate.weight",
        "encoder.layer.{n}.intermediate.dense.weight",
        true,
    ),
    (
        "layers.{n}.intermediate.bias",
        "encoder.layer.{n}.intermediate.dense.bias",
        false,
    ),
    (
        "layers.{n}.output.weight",
        "encoder.layer.{n}.output.dense.weight",
        true,
    ),
    (
        "layers.{n}.output.bias",
        "encoder.layer.{n}.output.dense.bias",
        false,
    ),
    (
        "layers.{n}.output_norm.gamma",
        "encoder.layer.{n}.output.LayerNorm.weight",
        false,
    ),
    (
        "layers.{n}.output_norm.beta",
        "encoder.layer.{n}.output.LayerNorm.bias",
        false,
    ),
    // Pooler: C = tanh(W h_[CLS] + b).
    ("pooler.weight", "pooler.dense.weight", true),
    ("pooler.bias", "pooler.dense.bias", false),
    // Heads of BertForPreTraining (never prefixed). The MLM decoder's weight is
    // the word embeddings (tied), so only its bias is a key of its own.
    (
        "mlm.transform.weight",
        "cls.predictions.transform.dense.weight",
        true,
    ),
    (
        "mlm.transform.bias",
        "cls.predictions.transform.dense.bias",
        false,
    ),
    (
        "mlm.norm.gamma",
        "cls.predictions.transform.LayerNorm.weight",
        false,
    ),
    (
        "mlm.norm.beta",
        "cls.predictions.transform.LayerNorm.bias",
        false,
    ),
    ("mlm.bias", "cls.predictions.bias", false),
    ("nsp.weight", "cls.seq_relationship.weight", true),
    ("nsp.bias", "cls.seq_relationship.bias", false),
];

/// The encoder's module paths start with this inside [`BertForPreTraining`].
const ENCODER_FIELD: &str = "bert.";

/// Where a module path of [`BertModel`] (no `bert.` in front) is stored: the
/// Hugging Face key without its optional prefix, and whether it is transposed.
pub fn hf_key(module_path: &str) -> Option<(String, bool)> {
    KEY_TABLE.iter().find_map(|(ours, theirs, transpose)| {
        let n = match_pattern(ours, module_path)?;
        Some((theirs.replace("{n}", &n.unwrap_or_default()), *transpose))
    })
}

/// Matches `path` against a pattern with at most one `{n}` (a decimal
/// segment); returns the digits when there was one.
fn match_pattern(pattern: &str, path: &str) -> Option<Option<String>> {
    let p: Vec<&str> = pattern.split('.').collect();
    let q: Vec<&str> = path.split('.').collect();
    if p.len() != q.len() {
        return None;
    }
    let mut n = None;
    for (a, b) in p.iter().zip(&q) {
        if *a == "{n}" {
            if b.is_empty() || !b.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            n = Some(b.to_string());
        } else if a != b {
            return None;
        }
    }
    Some(n)
}

/// Merges checkpoints: later ones override earlier ones, key by key, after
/// each file's encoder keys are brought to the bare form and `gamma`/`beta`
/// to `weight`/`bias`.
pub fn merge(checkpoints: &[&Checkpoint]) -> Checkpoint {
    merge_owned(checkpoints.iter().map(|c| (*c).clone()).collect())
}

/// [`merge`] of checkpoints the caller gives up: tensors move, none is
/// copied (a page's load; the copy of MiniLM's 87 MB was a 60–120 ms stretch).
pub fn merge_owned(checkpoints: Vec<Checkpoint>) -> Checkpoint {
    let mut out = Checkpoint::default();
    for checkpoint in checkpoints {
        for (key, tensor) in checkpoint.tensors {
            out.tensors.insert(normalise_key(&key), tensor);
        }
        out.metadata.extend(checkpoint.metadata);
    }
    out
}

fn normalise_key(key: &str) -> String {
    let bare = key.strip_prefix("bert.").unwrap_or(key);
    // The decoder's bias is the head's bias (one tensor, tied in PyTorch);
    // which of the two names a file keeps depends on the saving library.
    if bare == "cls.predictions.decoder.bias" {
        return "cls.predictions.bias".to_string();
    }
    if bare.contains("LayerNorm.") {
        if let Some(stem) = bare.strip_suffix("LayerNorm.gamma") {
            return format!("{stem}LayerNorm.weight");
        }
        if let Some(stem) = bare.strip_suffix("LayerNorm.beta") {
            return format!("{stem}LayerNorm.bias");
        }
    }
    bare.to_string()
}

/// Loads the encoder (HF `BertModel`) from one or more stacked checkpoints.
pub fn load_encoder(
    config: &BertConfig,
    checkpoints: &[&Checkpoint],
    device: &Device,
) -> Result<BertModel, CheckpointError> {
    config.validate().map_err(CheckpointError::Format)?;
    let merged = merge(checkpoints);
    let source = |path: &str| source_for(path);
    merged.load_mapped(config.init_encoder(device), &source, device)
}

/// Loads BERT with both pretraining heads. Every parameter must be found:
/// an encoder-only file (all-MiniLM-L6-v2) needs a second file with the heads.
pub fn load_pretraining(
    config: &BertConfig,
    checkpoints: &[&Checkpoint],
    device: &Device,
) -> Result<BertForPreTraining, CheckpointError> {
    config.validate().map_err(CheckpointError::Format)?;
    let merged = merge(checkpoints);
    let source = |path: &str| source_for(path.strip_prefix(ENCODER_FIELD).unwrap_or(path));
    merged.load_mapped(config.init(device), &source, device)
}

/// A fill-mask model ready for the page: config, BERT with its heads, tokenizer.
pub struct LoadedBert {
    pub config: BertConfig,
    pub model: BertForPreTraining,
    pub tokenizer: BertTokenizer,
}

/// The tokenizer file a checkpoint ships.
pub enum TokenizerFile<'a> {
    /// Hugging Face `tokenizer.json`.
    Json(&'a [u8]),
    /// A plain `vocab.txt` (lower-cased BERT vocabularies).
    VocabTxt(&'a str),
}

/// Reads a checkpoint's `config.json`, refusing one that is not BERT's (so a
/// page can stop before downloading weights that would not fit).
pub fn parse_bert_config(config_json: &[u8]) -> Result<BertConfig, String> {
    let value: serde_json::Value = serde_json::from_slice(config_json)
        .map_err(|e| format!("config.json is not JSON ({e})."))?;
    if let Some(kind) = value.get("model_type").and_then(|v| v.as_str()) {
        if kind != "bert" {
            return Err(format!(
                "This is a \"{kind}\" checkpoint, not BERT: its weights would not fit this model."
            ));
        }
    }
    BertConfig::from_hf_json(&value.to_string())
}

/// Parses each weights file, with the message a visitor sees for a damaged
/// one, and merges them (later files override earlier ones).
async fn parse_weight_files<F, Fut>(weights: &[&[u8]], pause: &mut F) -> Result<Checkpoint, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut parsed = Vec::with_capacity(weights.len());
    for bytes in weights {
        let checkpoint = Checkpoint::parse_yielding(bytes, pause)
            .await
            .map_err(|e| format!("The weights file is damaged: {e}"))?;
        parsed.push(checkpoint);
    }
    Ok(merge_owned(parsed))
}

/// Loads a sentence encoder (no heads: all-MiniLM-L6-v2) and its tokenizer
/// from a checkpoint's files (`weights` stacked, the later overriding the
/// earlier), with messages a visitor can act on. A Web Worker's replica
/// (`runtime::embed_worker`) builds its encoder with it.
pub fn load_sentence_encoder(
    config_json: &[u8],
    tokenizer_json: &[u8],
    weights: &[&[u8]],
    device: &Device,
) -> Result<(BertModel, BertTokenizer), String> {
    run_ready(load_sentence_encoder_yielding(
        config_json,
        tokenizer_json,
        weights,
        device,
        || std::future::ready(()),
    ))
}

/// [`load_sentence_encoder`], awaiting `pause()` between pieces of a few
/// milliseconds each (parsing, transposing, handing tensors over), so the
/// SimCSE page builds its encoder without holding its thread.
pub async fn load_sentence_encoder_yielding<F, Fut>(
    config_json: &[u8],
    tokenizer_json: &[u8],
    weights: &[&[u8]],
    device: &Device,
    mut pause: F,
) -> Result<(BertModel, BertTokenizer), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let config = parse_bert_config(config_json)?;
    config.validate()?;
    let tokenizer = BertTokenizer::from_bytes(tokenizer_json, config.max_position_embeddings)?;
    pause().await;
    let merged = parse_weight_files(weights, &mut pause).await?;
    let model = merged
        .into_module_yielding(config.init_encoder(device), &source_for, device, &mut pause)
        .await
        .map_err(|e| format!("The weights do not fit config.json: {e}"))?;
    Ok((model, tokenizer))
}

/// Loads a fill-mask model from a checkpoint's files (`weights` stacked, the
/// later overriding the earlier), with messages a visitor can act on: a
/// config that is not BERT's, weights without a masked-LM head, a tokenizer
/// that does not fit the model.
pub fn load_fill_mask_model(
    config_json: &[u8],
    weights: &[&[u8]],
    tokenizer: TokenizerFile,
    device: &Device,
) -> Result<LoadedBert, String> {
    run_ready(load_fill_mask_model_yielding(
        config_json,
        weights,
        tokenizer,
        device,
        || std::future::ready(()),
    ))
}

/// [`load_fill_mask_model`], awaiting `pause()` between pieces of a few
/// milliseconds each, so the BERT page builds its model without holding its
/// thread.
pub async fn load_fill_mask_model_yielding<F, Fut>(
    config_json: &[u8],
    weights: &[&[u8]],
    tokenizer: TokenizerFile<'_>,
    device: &Device,
    mut pause: F,
) -> Result<LoadedBert, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let config = parse_bert_config(config_json)?;
    config.validate()?;
    let tokenizer = match tokenizer {
        TokenizerFile::Json(bytes) => {
            BertTokenizer::from_bytes(bytes, config.max_position_embeddings)?
        }
        TokenizerFile::VocabTxt(text) => {
            BertTokenizer::from_vocab_txt(text, true, config.max_position_embeddings)?
        }
    };
    if tokenizer.vocab_size() > config.vocab_size {
        return Err(format!(
            "The tokenizer has {} word pieces but the model only {}: they do not belong together.",
            tokenizer.vocab_size(),
            config.vocab_size
        ));
    }
    pause().await;
    let merged = parse_weight_files(weights, &mut pause).await?;
    let source = |path: &str| source_for(path.strip_prefix(ENCODER_FIELD).unwrap_or(path));
    let model = merged
        .into_module_yielding(config.init(device), &source, device, &mut pause)
        .await
        .map_err(|e| match e {
            CheckpointError::Missing(keys) if keys.iter().all(|k| k.starts_with("cls.predictions")
                || k.starts_with("cls.seq_relationship")) =>
            {
                "These weights have no masked-LM head (cls.predictions.*): they can encode text but not fill in a [MASK].".to_string()
            }
            CheckpointError::Missing(keys) => format!(
                "The weights lack {} tensors a BERT needs (for example {}): is this a BERT checkpoint?",
                keys.len(),
                keys.iter().take(2).cloned().collect::<Vec<_>>().join(", ")
            ),
            other => format!("The weights do not fit config.json: {other}"),
        })?;
    Ok(LoadedBert {
        config,
        model,
        tokenizer,
    })
}

fn source_for(path: &str) -> Option<Source> {
    // A path the table does not know is a bug of this file, not of the
    // checkpoint: report it as missing under its own name.
    Some(match hf_key(path) {
        Some((key, true)) => Source::transposed(key),
        Some((key, false)) => Source::same_layout(key),
        None => Source::same_layout(format!("<no Hugging Face name for {path}>")),
    })
}

/// The inverse of the loader: a module's named tensors (module paths, burn
/// layout, as [`crate::model::export::named_tensors`] lists them) renamed to
/// Hugging Face keys (`bert.` in front of encoder keys, as
/// `BertForPreTraining` writes them) and transposed back where the table says
/// so. Tensors the table does not know are returned as an error.
pub fn to_hf_layout(named: Vec<NamedTensor>) -> Result<Vec<NamedTensor>, String> {
    named
        .into_iter()
        .map(|(path, shape, values)| {
            let (inner, prefix) = match path.strip_prefix(ENCODER_FIELD) {
                Some(inner) => (inner, "bert."),
                None => (path.as_str(), ""),
            };
            let (key, transposed) =
                hf_key(inner).ok_or_else(|| format!("no Hugging Face name for {path}"))?;
            let key = if key.starts_with("cls.") {
                key
            } else {
                format!("{prefix}{key}")
            };
            if transposed && shape.len() == 2 {
                let [rows, cols] = [shape[0], shape[1]];
                Ok((key, vec![cols, rows], transpose(&values, rows, cols)))
            } else {
                Ok((key, shape, values))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_maps_layer_paths_and_refuses_strangers() {
        assert_eq!(
            hf_key("layers.11.attention.query.weight"),
            Some(("encoder.layer.11.attention.self.query.weight".into(), true))
        );
        assert_eq!(
            hf_key("embeddings.norm.beta"),
            Some(("embeddings.LayerNorm.bias".into(), false))
        );
        assert_eq!(
            hf_key("mlm.bias"),
            Some(("cls.predictions.bias".into(), false))
        );
        assert_eq!(hf_key("layers.x.attention.query.weight"), None);
        assert_eq!(hf_key("layers.1.attention.query"), None);
    }

    #[test]
    fn prefixed_and_tensorflow_style_keys_are_normalised() {
        assert_eq!(
            normalise_key("bert.encoder.layer.0.output.LayerNorm.gamma"),
            "encoder.layer.0.output.LayerNorm.weight"
        );
        assert_eq!(
            normalise_key("embeddings.LayerNorm.beta"),
            "embeddings.LayerNorm.bias"
        );
        assert_eq!(
            normalise_key("cls.predictions.bias"),
            "cls.predictions.bias"
        );
    }
}

//! A MiniLM replica in a Web Worker: the worker half of the SimCSE page's
//! parallel CPU fallback for sentence embeddings (`runtime::embed_pool` is
//! the page's half).
//!
//! Why: the CPU backend runs one thread, and wasm threads are not buildable
//! with cubecl-wgpu (DEVELOPERS.md); ONNX Runtime's 2-thread figure needs
//! them. Workers need no shared memory: each instantiates this same module
//! (`main` mounts nothing without a window), builds its own replica from the
//! encoder's files, and embeds its share of the sentences.
//! `scripts/worker_embed_probe.mjs` measures two of them against the page's
//! thread; tests/e2e/worker_embed.test.mjs holds their rows to the page's.
//! A worker can also start WebGPU for itself (`app_worker::worker_use_webgpu`),
//! and later replicas are built there.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::app_worker::worker_device;
use crate::model::bert::BertModel;
use crate::model::bert_loader::load_sentence_encoder;
use crate::model::bert_tokenizer::{from_flat_ids, BertTokenizer};
use crate::model::simcse::{embed_all, tokenize, Pooling};

thread_local! {
    static REPLICA: RefCell<Option<Rc<(BertModel, BertTokenizer)>>> = const { RefCell::new(None) };
}

/// Builds this worker's replica from the encoder's files: `extra` is the
/// second weights file of the page's raw-BERT encoders (`bert/mlm.safetensors`).
#[wasm_bindgen]
pub fn replica_load(
    config: &[u8],
    tokenizer: &[u8],
    weights: &[u8],
    extra: Option<Vec<u8>>,
) -> Result<(), JsError> {
    let mut files: Vec<&[u8]> = vec![weights];
    files.extend(extra.as_deref());
    let device = worker_device();
    let replica =
        load_sentence_encoder(config, tokenizer, &files, &device).map_err(|e| JsError::new(&e))?;
    REPLICA.with(|r| *r.borrow_mut() = Some(Rc::new(replica)));
    Ok(())
}

fn replica() -> Result<Rc<(BertModel, BertTokenizer)>, JsError> {
    REPLICA
        .with(|r| r.borrow().clone())
        .ok_or_else(|| JsError::new("no replica loaded"))
}

/// Mean-pooled, L2-normalised embeddings of `sentences`, row-major, in
/// batches of `batch` (what `scripts/worker_embed_probe.mjs` measures).
#[wasm_bindgen]
pub async fn replica_embed(sentences: Vec<String>, batch: usize) -> Result<Vec<f32>, JsError> {
    let replica = replica()?;
    let (model, tokenizer) = &*replica;
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let t = tokenize(tokenizer, &refs, 512).map_err(|e| JsError::new(&e.to_string()))?;
    embed_all(
        model,
        &t.encoded,
        tokenizer.pad_id,
        Pooling::Mean,
        batch,
        |_| async {},
    )
    .await
    .map_err(|e| JsError::new(&e))
}

/// L2-normalised embeddings of sentences the page has already tokenised:
/// `ids` holds them one after another, `lengths` their token counts (single
/// sentences, so every segment id is 0). `cls` picks [CLS] pooling over mean.
#[wasm_bindgen]
pub async fn replica_embed_ids(
    ids: Vec<u32>,
    lengths: Vec<u32>,
    cls: bool,
    batch: usize,
) -> Result<Vec<f32>, JsError> {
    let replica = replica()?;
    let (model, tokenizer) = &*replica;
    let encoded = from_flat_ids(&ids, &lengths).map_err(|e| JsError::new(&e))?;
    let pooling = if cls { Pooling::Cls } else { Pooling::Mean };
    embed_all(
        model,
        &encoded,
        tokenizer.pad_id,
        pooling,
        batch,
        |_| async {},
    )
    .await
    .map_err(|e| JsError::new(&e))
}

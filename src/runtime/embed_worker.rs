//! A MiniLM replica in a Web Worker: the worker half of a parallel CPU
//! fallback for sentence embeddings, not yet used by the pages.
//!
//! Why: the CPU backend runs one thread, and wasm threads are not buildable
//! with cubecl-wgpu (DEVELOPERS.md); ONNX Runtime's 2-thread figure needs
//! them. Workers need no shared memory: each instantiates this same module
//! (`main` mounts nothing without a window), builds its own replica from the
//! encoder's files, and embeds its share of the sentences.
//! `scripts/worker_embed_probe.mjs` measures two of them against the page's
//! thread; tests/e2e/worker_embed.test.mjs holds their rows to the page's.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use crate::model::bert::BertModel;
use crate::model::bert_loader::load_sentence_encoder;
use crate::model::bert_tokenizer::BertTokenizer;
use crate::model::simcse::{embed_all, tokenize, Pooling};

thread_local! {
    static REPLICA: RefCell<Option<Rc<(BertModel, BertTokenizer)>>> = const { RefCell::new(None) };
}

/// Builds this worker's replica from the encoder's three files.
#[wasm_bindgen]
pub fn replica_load(config: &[u8], tokenizer: &[u8], weights: &[u8]) -> Result<(), JsError> {
    let replica = load_sentence_encoder(config, tokenizer, &[weights], &crate::model::cpu_device())
        .map_err(|e| JsError::new(&e))?;
    REPLICA.with(|r| *r.borrow_mut() = Some(Rc::new(replica)));
    Ok(())
}

/// Mean-pooled, L2-normalised embeddings of `sentences`, row-major, in
/// batches of `batch`.
#[wasm_bindgen]
pub async fn replica_embed(sentences: Vec<String>, batch: usize) -> Result<Vec<f32>, JsError> {
    let replica = REPLICA
        .with(|r| r.borrow().clone())
        .ok_or_else(|| JsError::new("no replica loaded"))?;
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

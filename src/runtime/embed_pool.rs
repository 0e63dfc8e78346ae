//! The page's half of the parallel CPU fallback for sentence embeddings: a
//! pool of module Web Workers, each running this app's own wasm module with
//! a replica of the loaded encoder (`runtime::embed_worker` is the worker's
//! half). The SimCSE page embeds through it on the CPU backend.
//!
//! Why workers: the CPU backend runs on one thread, and wasm threads are not
//! buildable with cubecl-wgpu (DEVELOPERS.md). Workers need no shared memory,
//! so no cross-origin isolation: each instantiates the same compiled module
//! (posted, not fetched again), builds its replica from the verified files
//! the page already holds, and embeds its share of the sentences
//! (`simcse::deal_by_length`). The page's thread only deals and gathers, so
//! it stays free while the model runs. Any failure is reported to the
//! caller, which embeds on the page's thread instead.

use js_sys::{Array, Float32Array, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::app_worker::{error_text, own_copy, AppWorker};
use crate::model::bert_tokenizer::{flat_ids, Encoded};
use crate::model::simcse::{deal_by_length, gather_shares, Pooling};

/// A replica's start in a started worker: building MiniLM from its files
/// (measured 554–620 ms on 2 cores, with the worker's start); the limit is
/// for a worker that never answers.
const LOAD_TIMEOUT_MS: f64 = 60_000.0;
/// Sentences per batch in a worker. No long-task line to keep there (the
/// page's thread uses 4 on the CPU backend), and bigger batches make fewer
/// calls: DEVELOPERS.md's measurement used 16.
pub const WORKER_EMBED_BATCH: usize = 16;

/// Running workers, each with a replica of one encoder.
pub struct EmbedPool {
    workers: Vec<AppWorker>,
}

impl EmbedPool {
    /// Starts `count` workers with replicas of the encoder in these files
    /// (`weights`: the encoder's, then any second file).
    pub async fn start(
        count: usize,
        config: &[u8],
        tokenizer: &[u8],
        weights: &[Vec<u8>],
    ) -> Result<EmbedPool, String> {
        let [first, rest @ ..] = weights else {
            return Err("no weights file".into());
        };
        if rest.len() > 1 {
            return Err(format!(
                "{} weights files; a replica takes at most two",
                weights.len()
            ));
        }
        // Copies, not views: the files live in the page's wasm memory, and a
        // structured clone of a view copies that whole memory. The workers
        // start together; a pool is all of them or none.
        let mut workers = Vec::new();
        let loads = Array::new();
        for i in 0..count {
            let files = [
                own_copy(config).await,
                own_copy(tokenizer).await,
                own_copy(first).await,
                match rest.first() {
                    Some(extra) => own_copy(extra).await,
                    None => JsValue::UNDEFINED,
                },
            ];
            let moved: Vec<JsValue> = files
                .iter()
                .filter_map(|f| f.dyn_ref::<Uint8Array>().map(|a| a.buffer().into()))
                .collect();
            let worker = AppWorker::spawn(&format!("pretext-embed-{i}"))?;
            loads.push(&worker.call_promise("replica_load", &files, &moved, LOAD_TIMEOUT_MS));
            workers.push(worker);
        }
        // On a failure, dropping `workers` ends them all.
        JsFuture::from(Promise::all(&loads))
            .await
            .map_err(error_text)?;
        Ok(EmbedPool { workers })
    }

    pub fn len(&self) -> usize {
        self.workers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// L2-normalised embeddings (width `d`) of tokenised single sentences,
    /// in their order, each worker embedding its share.
    pub async fn embed(
        &self,
        encoded: &[Encoded],
        pooling: Pooling,
        d: usize,
    ) -> Result<Vec<f32>, String> {
        let lengths: Vec<usize> = encoded.iter().map(Encoded::len).collect();
        let shares = deal_by_length(&lengths, self.workers.len());
        // Generous: a worker that never answers fails the call, and the page
        // embeds on its own thread instead.
        let timeout_ms = 60_000.0 + 2_000.0 * encoded.len() as f64;
        let answers = Array::new();
        for (worker, share) in self.workers.iter().zip(&shares) {
            let (ids, share_lengths) = flat_ids(share.iter().map(|&i| &encoded[i]));
            // Copies that move to the worker.
            let ids = js_sys::Uint32Array::from(&ids[..]);
            let share_lengths = js_sys::Uint32Array::from(&share_lengths[..]);
            let moved = [ids.buffer().into(), share_lengths.buffer().into()];
            answers.push(&worker.call_promise(
                "replica_embed_ids",
                &[
                    ids.into(),
                    share_lengths.into(),
                    JsValue::from_bool(pooling == Pooling::Cls),
                    JsValue::from(WORKER_EMBED_BATCH),
                ],
                &moved,
                timeout_ms,
            ));
        }
        let parts = JsFuture::from(Promise::all(&answers))
            .await
            .map_err(error_text)?;
        let parts: Vec<Vec<f32>> = Array::from(&parts)
            .iter()
            .map(|rows| Float32Array::from(rows).to_vec())
            .collect();
        gather_shares(&shares, &parts, d)
    }
}

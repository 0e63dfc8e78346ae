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

use super::event_loop::yield_now;
use crate::model::bert_tokenizer::Encoded;
use crate::model::simcse::{deal_by_length, gather_shares, Pooling};

#[wasm_bindgen(inline_js = r#"
// The worker: imports the app's glue, instantiates the module the page
// posted (no second download or compile from bytes), builds the replica and
// answers embedding requests one at a time. `main` mounts nothing there.
const WORKER_SOURCE = `
let app;
onmessage = async ({ data }) => {
  try {
    if (data.init) {
      app = await import(data.glue);
      await app.default({ module_or_path: data.module });
      app.replica_load(data.config, data.tokenizer, data.weights, data.extra);
      postMessage({ ok: true });
    } else {
      const rows = await app.replica_embed_ids(data.ids, data.lengths, data.cls, data.batch);
      postMessage({ ok: true, rows }, [rows.buffer]);
    }
  } catch (e) {
    postMessage({ ok: false, error: String((e && e.message) || e) });
  }
};`;
let workerUrl;

export function app_glue_url() {
  // Trunk preloads the glue as a module; snippets (like this one) sit
  // under /snippets/.
  const link = [...document.querySelectorAll('link[rel="modulepreload"]')]
    .find((l) => l.href.endsWith('.js') && !l.href.includes('/snippets/'));
  return link ? link.href : undefined;
}

function call(worker, message, transfer, timeoutMs) {
  return new Promise((resolve, reject) => {
    const done = (settle, value) => {
      clearTimeout(timer);
      worker.onmessage = worker.onerror = worker.onmessageerror = null;
      settle(value);
    };
    const timer = setTimeout(
      () => done(reject, new Error(`no answer from a worker in ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    );
    worker.onmessage = ({ data }) =>
      data && data.ok ? done(resolve, data.rows) : done(reject, new Error((data && data.error) || 'a worker failed'));
    worker.onerror = (e) => {
      e.preventDefault();
      done(reject, new Error(e.message || 'a worker failed to start'));
    };
    worker.onmessageerror = () => done(reject, new Error("a worker's answer could not be read"));
    worker.postMessage(message, transfer);
  });
}

export async function start_pool(glue, module, copies, timeoutMs) {
  workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const workers = [];
  const started = [];
  // Each worker's files are copies with buffers of their own (made by the
  // caller), moved to it.
  for (const [config, tokenizer, weights, extra] of copies) {
    const worker = new Worker(workerUrl, { type: 'module', name: `pretext-embed-${workers.length}` });
    workers.push(worker);
    const files = { config, tokenizer, weights, extra };
    const moved = Object.values(files).filter(Boolean).map((b) => b.buffer);
    started.push(call(worker, { init: true, glue, module, ...files }, moved, timeoutMs));
  }
  const results = await Promise.allSettled(started);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    workers.forEach((w) => w.terminate());
    throw failed.reason;
  }
  return workers;
}

// A worker answers one request at a time, and `call` owns its handlers while
// it waits: later requests (the explorer's list while the STS score runs)
// queue behind earlier ones.
const queues = new WeakMap();

export function embed_in_worker(worker, ids, lengths, cls, batch, timeoutMs) {
  if (lengths.length === 0) return Promise.resolve(new Float32Array(0));
  // Copied now: the arguments are views of wasm memory, valid only during this call.
  const message = { ids: ids.slice(), lengths: lengths.slice(), cls, batch };
  const transfer = [message.ids.buffer, message.lengths.buffer];
  const answer = (queues.get(worker) ?? Promise.resolve())
    .catch(() => {})
    .then(() => call(worker, message, transfer, timeoutMs));
  queues.set(worker, answer);
  return answer;
}

export function stop_worker(worker) {
  worker.terminate();
}
"#)]
extern "C" {
    fn app_glue_url() -> Option<String>;
    #[wasm_bindgen(catch)]
    fn start_pool(
        glue: &str,
        module: &JsValue,
        copies: &Array,
        timeout_ms: f64,
    ) -> Result<Promise, JsValue>;
    fn embed_in_worker(
        worker: &JsValue,
        ids: &[u32],
        lengths: &[u32],
        cls: bool,
        batch: usize,
        timeout_ms: f64,
    ) -> Promise;
    fn stop_worker(worker: &JsValue);
}

/// A worker's start: its module is compiled already, so this is the
/// instantiation and the replica (measured 554–620 ms on 2 cores); the limit
/// is for a worker that never answers.
const START_TIMEOUT_MS: f64 = 60_000.0;
/// Sentences per batch in a worker. No long-task line to keep there (the
/// page's thread uses 4 on the CPU backend), and bigger batches make fewer
/// calls: DEVELOPERS.md's measurement used 16.
pub const WORKER_EMBED_BATCH: usize = 16;

/// Bytes copied between two yields by [`own_copy`] (a few milliseconds).
const COPY_PIECE: usize = 8 << 20;

/// A copy of `bytes` in a buffer of its own (one that can move to a worker),
/// made in pieces with a yield after each: copying MiniLM's 87 MB for two
/// workers in one go held the page's thread for 110–135 ms.
async fn own_copy(bytes: &[u8]) -> JsValue {
    let copy = Uint8Array::new_with_length(bytes.len() as u32);
    for (i, piece) in bytes.chunks(COPY_PIECE).enumerate() {
        let start = (i * COPY_PIECE) as u32;
        copy.subarray(start, start + piece.len() as u32)
            .copy_from(piece);
        if piece.len() == COPY_PIECE {
            yield_now().await;
        }
    }
    copy.into()
}

/// Running workers, each with a replica of one encoder.
pub struct EmbedPool {
    workers: Vec<JsValue>,
}

fn error_text(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
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
        let glue = app_glue_url().ok_or("the page links no module of its own")?;
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
        // structured clone of a view copies that whole memory.
        let copies = Array::new();
        for _ in 0..count {
            let files = Array::new();
            files.push(&own_copy(config).await);
            files.push(&own_copy(tokenizer).await);
            files.push(&own_copy(first).await);
            match rest.first() {
                Some(extra) => files.push(&own_copy(extra).await),
                None => files.push(&JsValue::UNDEFINED),
            };
            copies.push(&files);
        }
        let started = start_pool(&glue, &wasm_bindgen::module(), &copies, START_TIMEOUT_MS)
            .map_err(error_text)?;
        let workers = JsFuture::from(started).await.map_err(error_text)?;
        Ok(EmbedPool {
            workers: Array::from(&workers).iter().collect(),
        })
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
            let ids: Vec<u32> = share
                .iter()
                .flat_map(|&i| encoded[i].ids.iter().copied())
                .collect();
            let share_lengths: Vec<u32> = share.iter().map(|&i| lengths[i] as u32).collect();
            answers.push(&embed_in_worker(
                worker,
                &ids,
                &share_lengths,
                pooling == Pooling::Cls,
                WORKER_EMBED_BATCH,
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

impl Drop for EmbedPool {
    fn drop(&mut self) {
        self.workers.iter().for_each(stop_worker);
    }
}

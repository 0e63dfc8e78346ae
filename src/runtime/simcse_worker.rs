//! Where the SimCSE page trains: on WebGPU, in the app's training worker
//! (`app_worker::training_worker`, a Web Worker with a WebGPU device of its
//! own); on the CPU backend, on the page's thread. [`SimCseRunner`] is the
//! page's one handle on either, and the `simcse_worker_*` functions are the
//! worker's half.
//!
//! Why: burn compiles and autotunes WebGPU kernels synchronously inside
//! tensor ops: on the page's thread a run's first steps held it for 4,596 ms
//! at a time on SwiftShader, in the worker 89 ms (DEVELOPERS.md, "SimCSE trains
//! in the same worker"); the page only posts a message and awaits the answer. The CPU
//! backend stays on the page: its steps already yield between layers
//! (`SimCseTrainer::step_yielding`).
//!
//! What travels: the encoder's files once per worker and encoder (the worker
//! keeps them, so Reset or a return to the page builds the next trainer from
//! them at once), the visitor's own sentences as token ids when a step trains
//! on them, and at the end of a run only the layers that learned
//! ([`SimCseTrainer::trained_layers`], 2 of MiniLM's 6 layers), which the page
//! splices into the encoder it already holds.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use js_sys::{Float32Array, Uint32Array, Uint8Array};
use wasm_bindgen::prelude::*;

use super::app_worker::{own_copy, worker_device, AppWorker};
use super::event_loop::yield_now;
use crate::model::bert::BertModel;
use crate::model::bert_loader::load_sentence_encoder;
use crate::model::bert_tokenizer::{flat_ids, from_flat_ids, BertTokenizer, Encoded};
use crate::model::checkpoint::{same_names, Checkpoint};
use crate::model::export::{named_tensors, safetensors_bytes};
use crate::model::simcse::{
    embed_all, embed_batch_for, train_data, with_trained_layers, Pooling, SimCseError,
    SimCseSettings, SimCseStep, SimCseTrainer, TrainData,
};

/// Loading an encoder in the worker (87 MB for MiniLM, onto its device).
const LOAD_TIMEOUT_MS: f64 = 300_000.0;
/// One call that trains or embeds: a run's first step compiles and autotunes
/// every kernel of the step on the worker's device.
const WORK_TIMEOUT_MS: f64 = 600_000.0;

// ---- The worker's half ----

/// An encoder as its files hold it, and the training set in its vocabulary.
struct LoadedEncoder {
    model: BertModel,
    tokenizer: BertTokenizer,
    data: TrainData,
}

thread_local! {
    /// The encoder the page last sent, by the page's name for it.
    static ENCODER: RefCell<Option<(String, Rc<LoadedEncoder>)>> = const { RefCell::new(None) };
    static TRAINER: RefCell<Option<(SimCseTrainer, Rc<LoadedEncoder>)>> =
        const { RefCell::new(None) };
}

fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn take_trainer() -> Result<(SimCseTrainer, Rc<LoadedEncoder>), JsError> {
    TRAINER
        .with(|t| t.borrow_mut().take())
        .ok_or_else(|| JsError::new("no SimCSE model in this worker"))
}

fn put_trainer(trainer: (SimCseTrainer, Rc<LoadedEncoder>)) {
    TRAINER.with(|t| *t.borrow_mut() = Some(trainer));
}

/// Whether this worker holds the encoder the page calls `key`.
#[wasm_bindgen]
pub fn simcse_worker_has_encoder(key: &str) -> bool {
    ENCODER.with(|e| e.borrow().as_ref().is_some_and(|(k, _)| k == key))
}

/// Builds the encoder `key` from its files on this worker's device (as
/// `embed_worker::replica_load` does) and tokenises the training set with its
/// tokenizer.
#[wasm_bindgen]
pub fn simcse_worker_load_encoder(
    key: String,
    config: &[u8],
    tokenizer: &[u8],
    weights: &[u8],
    extra: Option<Vec<u8>>,
) -> Result<(), JsError> {
    // The old encoder and any trainer of it go first: two MiniLMs need not
    // fit at once.
    ENCODER.with(|e| *e.borrow_mut() = None);
    TRAINER.with(|t| *t.borrow_mut() = None);
    let mut files: Vec<&[u8]> = vec![weights];
    files.extend(extra.as_deref());
    let (model, tokenizer) = load_sentence_encoder(config, tokenizer, &files, &worker_device())
        .map_err(|e| JsError::new(&e))?;
    let data = train_data(&tokenizer).map_err(|e| JsError::new(&e))?;
    let loaded = Rc::new(LoadedEncoder {
        model,
        tokenizer,
        data,
    });
    ENCODER.with(|e| *e.borrow_mut() = Some((key, loaded)));
    Ok(())
}

/// A new trainer from the loaded encoder (`SimCseTrainer::new`).
#[wasm_bindgen]
pub fn simcse_worker_new(cls: bool, train_layers: usize, seed: u32) -> Result<(), JsError> {
    let loaded = ENCODER
        .with(|e| e.borrow().as_ref().map(|(_, l)| l.clone()))
        .ok_or_else(|| JsError::new("no encoder loaded in this worker"))?;
    let pooling = if cls { Pooling::Cls } else { Pooling::Mean };
    let trainer = SimCseTrainer::new(
        &loaded.model,
        pooling,
        train_layers,
        loaded.tokenizer.pad_id,
        seed.into(),
    );
    put_trainer((trainer, loaded));
    Ok(())
}

/// One step with `settings` (JSON) on the training set, or on the visitor's
/// own sentences when `own_lengths` holds any (flat ids, `flat_ids`);
/// answers the JSON of `Result<SimCseStep, SimCseError>`, so the page sees
/// the same errors as when it trains itself.
#[wasm_bindgen]
pub async fn simcse_worker_step(
    settings: String,
    own_ids: Vec<u32>,
    own_lengths: Vec<u32>,
) -> Result<String, JsError> {
    let settings: SimCseSettings = serde_json::from_str(&settings).map_err(js_error)?;
    let own = from_flat_ids(&own_ids, &own_lengths).map_err(|e| JsError::new(&e))?;
    let (mut trainer, loaded) = take_trainer()?;
    let sentences = if own_lengths.is_empty() {
        &loaded.data.sentences
    } else {
        &own
    };
    let result = trainer
        .step(&settings, sentences, &loaded.data.triples)
        .await;
    put_trainer((trainer, loaded));
    serde_json::to_string(&result).map_err(js_error)
}

/// L2-normalised embeddings, row-major, of sentences given as flat ids, by
/// the encoder as trained so far.
#[wasm_bindgen]
pub async fn simcse_worker_embed(ids: Vec<u32>, lengths: Vec<u32>) -> Result<Vec<f32>, JsError> {
    let encoded = from_flat_ids(&ids, &lengths).map_err(|e| JsError::new(&e))?;
    let (trainer, loaded) = take_trainer()?;
    let encoder = trainer.encoder();
    let (pad_id, pooling) = (loaded.tokenizer.pad_id, trainer.pooling());
    put_trainer((trainer, loaded));
    let batch = embed_batch_for(&worker_device());
    embed_all(&encoder, &encoded, pad_id, pooling, batch, |_| async {})
        .await
        .map_err(|e| JsError::new(&e))
}

/// The layers that learned, as a safetensors file (`named_tensors` of
/// `SimCseTrainer::trained_layers`: keys `0.…`, `1.…`).
#[wasm_bindgen]
pub async fn simcse_worker_trained_layers() -> Result<Vec<u8>, JsError> {
    let (trainer, loaded) = take_trainer()?;
    let layers = trainer.trained_layers();
    put_trainer((trainer, loaded));
    let tensors = named_tensors(&layers).await.map_err(|e| JsError::new(&e))?;
    Ok(safetensors_bytes(&tensors))
}

// ---- The page's half ----

/// The encoder's files as the page holds them.
pub struct EncoderFiles<'a> {
    /// The page's name for the encoder (the worker keeps one encoder by it).
    pub key: &'a str,
    pub config: &'a [u8],
    pub tokenizer: &'a [u8],
    /// One weights file, or two (the raw-BERT encoders' `bert/mlm.safetensors`).
    pub weights: &'a [Vec<u8>],
}

/// A model trained in a worker, as the page sees it.
pub struct WorkerSimCse {
    worker: Rc<AppWorker>,
    /// The encoder the worker's trainer started from, as the page holds it:
    /// the trained layers are spliced into it.
    base: BertModel,
    /// How many of its top layers learn (as `SimCseTrainer::new` counts them).
    train_layers: usize,
    steps: usize,
}

/// The SimCSE page's model: trained on the page's thread or in a worker.
pub enum SimCseRunner {
    /// Boxed: a trainer is a kilobyte of handles.
    Page {
        trainer: Box<SimCseTrainer>,
        data: Rc<TrainData>,
        pad_id: u32,
    },
    /// Boxed: it holds the page's copy of the encoder's handles.
    Worker(Box<WorkerSimCse>),
}

/// Flat ids as the two typed arrays a call carries (moved, not copied).
fn flat_arrays<'a>(sentences: impl IntoIterator<Item = &'a Encoded>) -> [JsValue; 2] {
    let (ids, lengths) = flat_ids(sentences);
    [
        Uint32Array::from(&ids[..]).into(),
        Uint32Array::from(&lengths[..]).into(),
    ]
}

fn buffers(arrays: &[JsValue]) -> Vec<JsValue> {
    arrays
        .iter()
        .filter_map(|a| {
            a.dyn_ref::<Uint32Array>()
                .map(|a| a.buffer().into())
                .or_else(|| a.dyn_ref::<Uint8Array>().map(|a| a.buffer().into()))
        })
        .collect()
}

impl SimCseRunner {
    /// A new trainer on the page's thread, from `encoder` on its device.
    pub fn on_page(
        encoder: &BertModel,
        tokenizer: &BertTokenizer,
        data: Rc<TrainData>,
        pooling: Pooling,
        train_layers: usize,
    ) -> Self {
        SimCseRunner::Page {
            trainer: Box::new(SimCseTrainer::new(
                encoder,
                pooling,
                train_layers,
                tokenizer.pad_id,
                0,
            )),
            data,
            pad_id: tokenizer.pad_id,
        }
    }

    /// A new trainer in `worker` (from `app_worker::training_worker`), from
    /// the encoder of `files` (sent only when the worker does not hold it
    /// yet), with the same seed as [`SimCseRunner::on_page`]. `base` is the
    /// same encoder as the page holds it.
    pub async fn in_worker(
        worker: Rc<AppWorker>,
        files: EncoderFiles<'_>,
        base: &BertModel,
        pooling: Pooling,
        train_layers: usize,
    ) -> Result<Self, String> {
        let held = worker
            .call(
                "simcse_worker_has_encoder",
                &[JsValue::from_str(files.key)],
                &[],
                WORK_TIMEOUT_MS,
            )
            .await?;
        if held.as_bool() != Some(true) {
            let [first, rest @ ..] = files.weights else {
                return Err("no weights file".into());
            };
            let args = [
                JsValue::from_str(files.key),
                own_copy(files.config).await,
                own_copy(files.tokenizer).await,
                own_copy(first).await,
                match rest.first() {
                    Some(extra) => own_copy(extra).await,
                    None => JsValue::UNDEFINED,
                },
            ];
            worker
                .call(
                    "simcse_worker_load_encoder",
                    &args,
                    &buffers(&args),
                    LOAD_TIMEOUT_MS,
                )
                .await?;
        }
        worker
            .call(
                "simcse_worker_new",
                &[
                    JsValue::from_bool(pooling == Pooling::Cls),
                    JsValue::from(train_layers),
                    JsValue::from(0u32),
                ],
                &[],
                WORK_TIMEOUT_MS,
            )
            .await?;
        Ok(SimCseRunner::Worker(Box::new(WorkerSimCse {
            worker,
            base: base.clone(),
            train_layers: train_layers.min(base.layers.len()),
            steps: 0,
        })))
    }

    pub fn in_a_worker(&self) -> bool {
        matches!(self, SimCseRunner::Worker(_))
    }

    pub fn steps_done(&self) -> usize {
        match self {
            SimCseRunner::Page { trainer, .. } => trainer.steps_done(),
            SimCseRunner::Worker(w) => w.steps,
        }
    }

    /// One step, on the training set or on `own` sentences (unsupervised);
    /// on the page's thread it pauses between its parts
    /// (`SimCseTrainer::step_yielding`).
    pub async fn step(
        &mut self,
        settings: &SimCseSettings,
        own: Option<&[Encoded]>,
    ) -> Result<SimCseStep, SimCseError> {
        match self {
            SimCseRunner::Page { trainer, data, .. } => {
                let sentences = own.unwrap_or(&data.sentences);
                trainer
                    .step_yielding(settings, sentences, &data.triples, yield_now)
                    .await
            }
            SimCseRunner::Worker(w) => {
                let settings = serde_json::to_string(settings)
                    .map_err(|e| SimCseError::Device(e.to_string()))?;
                let own = flat_arrays(own.unwrap_or(&[]));
                let moved = buffers(&own);
                let [ids, lengths] = own;
                let answer = w
                    .worker
                    .call(
                        "simcse_worker_step",
                        &[JsValue::from_str(&settings), ids, lengths],
                        &moved,
                        WORK_TIMEOUT_MS,
                    )
                    .await
                    .map_err(SimCseError::Device)?;
                let answer = answer.as_string().unwrap_or_default();
                let result = serde_json::from_str::<Result<SimCseStep, SimCseError>>(&answer)
                    .map_err(|e| SimCseError::Device(format!("the worker's answer: {e}")))?;
                if let Ok(report) = &result {
                    w.steps = report.step;
                }
                result
            }
        }
    }

    /// L2-normalised embeddings, row-major, of `encoded` by the encoder as
    /// trained so far, and their width.
    pub async fn embed(&self, encoded: &[Encoded]) -> Result<(Vec<f32>, usize), String> {
        match self {
            SimCseRunner::Page {
                trainer, pad_id, ..
            } => {
                let encoder = trainer.encoder();
                let batch = embed_batch_for(&encoder.pooler.weight.device());
                let rows = embed_all(&encoder, encoded, *pad_id, trainer.pooling(), batch, |_| {
                    yield_now()
                })
                .await?;
                Ok((rows, encoder.hidden_size()))
            }
            SimCseRunner::Worker(w) => {
                let args = flat_arrays(encoded);
                let moved = buffers(&args);
                let rows = w
                    .worker
                    .call("simcse_worker_embed", &args, &moved, WORK_TIMEOUT_MS)
                    .await?;
                Ok((Float32Array::from(rows).to_vec(), w.base.hidden_size()))
            }
        }
    }

    /// The encoder as trained so far, on the page's device. The future owns
    /// what it needs, so the model's slot is not held while a worker answers.
    pub fn trained_encoder(&self) -> impl Future<Output = Result<BertModel, String>> + 'static {
        let source = match self {
            SimCseRunner::Page { trainer, .. } => Ok(trainer.encoder()),
            SimCseRunner::Worker(w) => Err((w.worker.clone(), w.base.clone(), w.train_layers)),
        };
        async move {
            let (worker, base, train_layers) = match source {
                Ok(encoder) => return Ok(encoder),
                Err(in_worker) => in_worker,
            };
            let bytes = worker
                .call("simcse_worker_trained_layers", &[], &[], WORK_TIMEOUT_MS)
                .await?;
            let bytes = Uint8Array::from(bytes).to_vec();
            let checkpoint = Checkpoint::parse(&bytes).map_err(|e| e.to_string())?;
            // The layers' shapes and device, from the page's copy of them.
            let first = base.layers.len() - train_layers;
            let device = base.pooler.weight.device();
            let layers = checkpoint
                .load_into(base.layers[first..].to_vec(), &same_names, &device)
                .map_err(|e| e.to_string())?;
            Ok(with_trained_layers(&base, layers))
        }
    }
}

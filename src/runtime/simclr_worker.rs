//! Where the SimCLR page trains: on WebGPU, in a Web Worker that owns a
//! WebGPU device of its own (`runtime::app_worker`); on the CPU backend, on
//! the page's thread. [`SimClrRunner`] is the page's one handle on either,
//! and the `simclr_worker_*` functions are the worker's half.
//!
//! Why: burn compiles and autotunes WebGPU kernels synchronously inside
//! tensor ops. On the page's thread a run's first step was one task of
//! 139–145 s on SwiftShader (tests/e2e/simclr.test.mjs), and every new
//! problem size (a new batch, the map's chunks) another; in a worker the page
//! only posts a message and awaits the answer. The CPU backend stays on the
//! page: its steps already yield between parts (`step_yielding`), and a
//! worker would only add a copy of the images.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Float32Array, Uint8Array};
use wasm_bindgen::prelude::*;

use super::app_worker::{worker_device, AppWorker};
use super::event_loop::yield_now;
use crate::model::export::{named_tensors, safetensors_bytes};
use crate::model::resnet::SimClrConfig;
use crate::model::simclr::{check_settings, SimClrSettings, SimClrTrainer, StepReport, TrainError};
use burn::tensor::{Device, Tensor, TensorData};

/// One call that trains or encodes: a run's first step compiles and
/// autotunes every kernel of the step (139–145 s on SwiftShader).
const WORK_TIMEOUT_MS: f64 = 600_000.0;

// ---- The worker's half ----

thread_local! {
    static TRAINER: RefCell<Option<SimClrTrainer>> = const { RefCell::new(None) };
}

fn take_trainer() -> Result<SimClrTrainer, JsError> {
    TRAINER
        .with(|t| t.borrow_mut().take())
        .ok_or_else(|| JsError::new("no SimCLR model in this worker"))
}

fn put_trainer(trainer: SimClrTrainer) {
    TRAINER.with(|t| *t.borrow_mut() = Some(trainer));
}

/// Builds a new model in this worker, on its device, for `count` images given
/// as `[count, 3, side, side]` values in [0, 1]; `config` is the
/// `SimClrConfig` as JSON.
#[wasm_bindgen]
pub fn simclr_worker_new(
    images: Vec<f32>,
    count: usize,
    side: usize,
    config: &str,
    seed: u32,
) -> Result<(), JsError> {
    let config: SimClrConfig =
        serde_json::from_str(config).map_err(|e| JsError::new(&e.to_string()))?;
    if images.len() != count * 3 * side * side {
        return Err(JsError::new(&format!(
            "{} values for {count} images of {side}×{side}",
            images.len()
        )));
    }
    let images = Tensor::from_data(
        TensorData::new(images, [count, 3, side, side]),
        &worker_device(),
    );
    put_trainer(SimClrTrainer::new(images, config, seed.into()));
    Ok(())
}

/// One training step with `settings` (JSON); answers the JSON of
/// `Result<StepReport, TrainError>`, so the page sees the same errors as when
/// it trains itself.
#[wasm_bindgen]
pub async fn simclr_worker_step(settings: String) -> Result<String, JsError> {
    let settings: SimClrSettings =
        serde_json::from_str(&settings).map_err(|e| JsError::new(&e.to_string()))?;
    let mut trainer = take_trainer()?;
    let result = trainer.step(&settings).await;
    put_trainer(trainer);
    serde_json::to_string(&result).map_err(|e| JsError::new(&e.to_string()))
}

/// The representations of every image (`SimClrTrainer::representations`).
#[wasm_bindgen]
pub async fn simclr_worker_representations(out_size: usize) -> Result<Vec<f32>, JsError> {
    let trainer = take_trainer()?;
    let result = trainer.representations(out_size).await;
    put_trainer(trainer);
    result.map_err(|e| JsError::new(&e.to_string()))
}

/// The encoder's weights as a safetensors file.
#[wasm_bindgen]
pub async fn simclr_worker_encoder() -> Result<Vec<u8>, JsError> {
    let trainer = take_trainer()?;
    let tensors = named_tensors(&trainer.model().encoder).await;
    put_trainer(trainer);
    let tensors = tensors.map_err(|e| JsError::new(&e.to_string()))?;
    Ok(safetensors_bytes(&tensors))
}

// ---- The page's half ----

/// A model trained in a worker, as the page sees it.
pub struct WorkerTrainer {
    worker: Rc<AppWorker>,
    images: usize,
    config: SimClrConfig,
}

/// The SimCLR page's model: trained on the page's thread or in a worker.
pub enum SimClrRunner {
    /// Boxed: a trainer is a kilobyte of handles, a worker's handle a few words.
    Page(Box<SimClrTrainer>),
    Worker(WorkerTrainer),
}

impl SimClrRunner {
    /// A new model on the page's thread for `images` (`[m, 3, s, s]` in
    /// [0, 1]) on `device`.
    pub fn on_page(
        images: Vec<f32>,
        count: usize,
        side: usize,
        config: SimClrConfig,
        device: &Device,
    ) -> Self {
        let images = Tensor::from_data(TensorData::new(images, [count, 3, side, side]), device);
        SimClrRunner::Page(Box::new(SimClrTrainer::new(images, config, 0)))
    }

    /// A new model in `worker` (from `app_worker::training_worker`), with
    /// the same seed as [`SimClrRunner::on_page`].
    pub async fn in_worker(
        worker: Rc<AppWorker>,
        images: &[f32],
        count: usize,
        side: usize,
        config: SimClrConfig,
    ) -> Result<Self, String> {
        let images = Float32Array::from(images);
        let moved = [images.buffer().into()];
        let config_json = serde_json::to_string(&config).map_err(|e| e.to_string())?;
        worker
            .call(
                "simclr_worker_new",
                &[
                    images.into(),
                    JsValue::from(count),
                    JsValue::from(side),
                    JsValue::from_str(&config_json),
                    JsValue::from(0u32),
                ],
                &moved,
                WORK_TIMEOUT_MS,
            )
            .await?;
        Ok(SimClrRunner::Worker(WorkerTrainer {
            worker,
            images: count,
            config,
        }))
    }

    pub fn in_a_worker(&self) -> bool {
        matches!(self, SimClrRunner::Worker(_))
    }

    pub fn image_count(&self) -> usize {
        match self {
            SimClrRunner::Page(t) => t.image_count(),
            SimClrRunner::Worker(w) => w.images,
        }
    }

    pub fn config(&self) -> &SimClrConfig {
        match self {
            SimClrRunner::Page(t) => t.config(),
            SimClrRunner::Worker(w) => &w.config,
        }
    }

    pub fn check(&self, settings: &SimClrSettings) -> Result<(), TrainError> {
        check_settings(self.image_count(), settings)
    }

    /// One training step; on the page's thread it pauses between its parts
    /// (`SimClrTrainer::step_yielding`).
    pub async fn step(&mut self, settings: &SimClrSettings) -> Result<StepReport, TrainError> {
        match self {
            SimClrRunner::Page(t) => t.step_yielding(settings, yield_now).await,
            SimClrRunner::Worker(w) => {
                let settings = serde_json::to_string(settings)
                    .map_err(|e| TrainError::Device(e.to_string()))?;
                let answer = w
                    .worker
                    .call(
                        "simclr_worker_step",
                        &[JsValue::from_str(&settings)],
                        &[],
                        WORK_TIMEOUT_MS,
                    )
                    .await
                    .map_err(TrainError::Device)?;
                let answer = answer.as_string().unwrap_or_default();
                serde_json::from_str::<Result<StepReport, TrainError>>(&answer)
                    .map_err(|e| TrainError::Device(format!("the worker's answer: {e}")))?
            }
        }
    }

    /// The representation h of every image, `[m, d]` row-major; on the
    /// page's thread each chunk of images is a task of its own.
    pub async fn representations(&self, out_size: usize) -> Result<Vec<f32>, TrainError> {
        match self {
            SimClrRunner::Page(t) => t.representations_yielding(out_size, yield_now).await,
            SimClrRunner::Worker(w) => {
                let rows = w
                    .worker
                    .call(
                        "simclr_worker_representations",
                        &[JsValue::from(out_size)],
                        &[],
                        WORK_TIMEOUT_MS,
                    )
                    .await
                    .map_err(TrainError::Device)?;
                Ok(Float32Array::from(rows).to_vec())
            }
        }
    }

    /// The encoder's weights as a safetensors file.
    pub async fn encoder_safetensors(&self) -> Result<Vec<u8>, String> {
        match self {
            SimClrRunner::Page(t) => {
                let tensors = named_tensors(&t.model().encoder)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(safetensors_bytes(&tensors))
            }
            SimClrRunner::Worker(w) => {
                let bytes = w
                    .worker
                    .call("simclr_worker_encoder", &[], &[], WORK_TIMEOUT_MS)
                    .await?;
                Ok(Uint8Array::from(bytes).to_vec())
            }
        }
    }
}

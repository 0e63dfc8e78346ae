//! A module Web Worker that runs this app's own wasm module and answers calls
//! to its exported functions, one at a time: the one worker protocol that the
//! SimCSE page's embedding pool (`runtime::embed_pool`) and the app's WebGPU
//! training worker ([`training_worker`], where `runtime::simclr_worker` and
//! `runtime::simcse_worker` train) share.
//!
//! Why workers: the CPU backend runs on one thread (wasm threads are not
//! buildable with cubecl-wgpu, DEVELOPERS.md), and burn compiles and
//! autotunes WebGPU kernels synchronously inside tensor ops, so on the page's
//! thread a new problem size on WebGPU is one long task. A worker needs no
//! shared memory, so no cross-origin isolation: it instantiates the compiled
//! module the page posts (no second download or compile from bytes), and
//! `main` mounts nothing there. A worker can own a WebGPU device of its own
//! ([`worker_use_webgpu`]).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use burn::tensor::Device;
use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::backend::BackendRequest;
use super::event_loop::yield_now;
use super::webgpu::{start_backend, BackendKind};

#[wasm_bindgen(inline_js = r#"
// The worker: imports the app's glue, instantiates the module the page
// posted, then calls the exported function each message names and posts its
// value back (a typed array's buffer is moved, not copied).
const WORKER_SOURCE = `
let app;
onmessage = async ({ data }) => {
  try {
    if (data.init) {
      app = await import(data.glue);
      await app.default({ module_or_path: data.module });
      postMessage({ ok: true });
    } else {
      const value = await app[data.call](...data.args);
      postMessage({ ok: true, value }, ArrayBuffer.isView(value) ? [value.buffer] : []);
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

function ask(worker, message, transfer, timeoutMs) {
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
      data && data.ok ? done(resolve, data.value) : done(reject, new Error((data && data.error) || 'a worker failed'));
    worker.onerror = (e) => {
      e.preventDefault();
      done(reject, new Error(e.message || 'a worker failed to start'));
    };
    worker.onmessageerror = () => done(reject, new Error("a worker's answer could not be read"));
    worker.postMessage(message, transfer);
  });
}

// A worker answers one call at a time, and `ask` owns its handlers while it
// waits: later calls (the explorer's list while the STS score runs) queue
// behind earlier ones.
const queues = new WeakMap();

function queued(worker, message, transfer, timeoutMs) {
  const answer = (queues.get(worker) ?? Promise.resolve())
    .catch(() => {})
    .then(() => ask(worker, message, transfer, timeoutMs));
  queues.set(worker, answer);
  return answer;
}

// Each worker's start (the module's instantiation); a call waits for it, and
// fails with its error if it failed.
const starts = new WeakMap();

export function spawn_app_worker(glue, module, name, timeoutMs) {
  workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const worker = new Worker(workerUrl, { type: 'module', name });
  const started = queued(worker, { init: true, glue, module }, [], timeoutMs);
  started.catch(() => {}); // reported to each call
  starts.set(worker, started);
  return worker;
}

export function call_app_worker(worker, call, args, transfer, timeoutMs) {
  // Arguments that are views of wasm memory are valid only during this call:
  // the caller passes copies (`own_copy`), which move to the worker.
  const message = { call, args };
  return starts.get(worker).then(() => queued(worker, message, transfer, timeoutMs));
}

export function stop_app_worker(worker) {
  worker.terminate();
}
"#)]
extern "C" {
    fn app_glue_url() -> Option<String>;
    #[wasm_bindgen(catch)]
    fn spawn_app_worker(
        glue: &str,
        module: &JsValue,
        name: &str,
        timeout_ms: f64,
    ) -> Result<JsValue, JsValue>;
    fn call_app_worker(
        worker: &JsValue,
        call: &str,
        args: &Array,
        transfer: &Array,
        timeout_ms: f64,
    ) -> Promise;
    fn stop_app_worker(worker: &JsValue);
}

/// A worker's start: the module is compiled already, so this is its
/// instantiation (a few hundred milliseconds); the limit is for a worker that
/// never answers.
const START_TIMEOUT_MS: f64 = 60_000.0;

/// The text of a JavaScript error (or of whatever was thrown).
pub fn error_text(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Bytes copied between two yields by [`own_copy`] (a few milliseconds).
const COPY_PIECE: usize = 8 << 20;

/// A copy of `bytes` in a buffer of its own (one that can move to a worker),
/// made in pieces with a yield after each: copying MiniLM's 87 MB for two
/// workers in one go held the page's thread for 110–135 ms.
pub async fn own_copy(bytes: &[u8]) -> JsValue {
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

/// The page's handle on one running worker; dropping it ends the worker.
pub struct AppWorker {
    worker: JsValue,
}

impl AppWorker {
    /// Starts a worker (`name` shows in the browser's tools) running this
    /// app's module. It starts in the background: calls wait for it, and
    /// fail if it failed.
    pub fn spawn(name: &str) -> Result<AppWorker, String> {
        let glue = app_glue_url().ok_or("the page links no module of its own")?;
        let worker = spawn_app_worker(&glue, &wasm_bindgen::module(), name, START_TIMEOUT_MS)
            .map_err(error_text)?;
        Ok(AppWorker { worker })
    }

    /// Calls the exported function `function` in the worker with `args`
    /// (moving the buffers in `transfer`); the promise settles with its
    /// value, or fails if the worker has not answered in `timeout_ms`.
    pub fn call_promise(
        &self,
        function: &str,
        args: &[JsValue],
        transfer: &[JsValue],
        timeout_ms: f64,
    ) -> Promise {
        let args: Array = args.iter().collect();
        let transfer: Array = transfer.iter().collect();
        call_app_worker(&self.worker, function, &args, &transfer, timeout_ms)
    }

    /// [`AppWorker::call_promise`], awaited.
    pub async fn call(
        &self,
        function: &str,
        args: &[JsValue],
        transfer: &[JsValue],
        timeout_ms: f64,
    ) -> Result<JsValue, String> {
        JsFuture::from(self.call_promise(function, args, transfer, timeout_ms))
            .await
            .map_err(error_text)
    }
}

impl Drop for AppWorker {
    fn drop(&mut self) {
        stop_app_worker(&self.worker);
    }
}

thread_local! {
    /// In a worker, where its models are built: the CPU backend unless
    /// [`worker_use_webgpu`] started WebGPU there.
    static WORKER_DEVICE: RefCell<Option<Device>> = const { RefCell::new(None) };
}

/// The device this worker's models are built on.
pub fn worker_device() -> Device {
    WORKER_DEVICE
        .with(|d| d.borrow().clone())
        .unwrap_or_else(crate::model::cpu_device)
}

/// Starts WebGPU in this worker (forced, as `?backend=webgpu` does on the page,
/// so a software adapter is used too), self-tests it, and builds later models
/// on it; returns the adapter's name. Fails with the reason the page would
/// have shown for falling back to the CPU.
///
/// Why: burn compiles and autotunes kernels synchronously inside tensor ops,
/// so on the page's thread a new problem size on WebGPU is one long task
/// (DEVELOPERS.md, "Where WebGPU's long tasks come from"). A worker that owns
/// the device takes that off the page's thread. `scripts/worker_embed_probe.mjs
/// --backend webgpu` measures it; tests/e2e/worker_embed.test.mjs holds a
/// WebGPU worker's rows to the page's CPU rows.
#[wasm_bindgen]
pub async fn worker_use_webgpu() -> Result<String, JsError> {
    let started = start_backend(BackendRequest::WebGpu).await;
    match started.kind {
        BackendKind::WebGpu { adapter, .. } => {
            WORKER_DEVICE.with(|d| *d.borrow_mut() = Some(started.device));
            Ok(adapter)
        }
        BackendKind::Cpu { reason } => Err(JsError::new(&format!(
            "WebGPU did not start in this worker: {reason:?}"
        ))),
    }
}

/// Starting WebGPU in the training worker: the adapter, the device and its
/// self-test (about 22 s on SwiftShader with 2 cores, under a second on a GPU).
const WEBGPU_START_TIMEOUT_MS: f64 = 300_000.0;

/// The training worker, the promise of its WebGPU start (settled once, and
/// awaited by every caller: two runs started while it starts share it), and
/// the compute generation (`ComputeCtx::generation`) it was started under.
type KeptWorker = (u32, Rc<AppWorker>, Promise);

thread_local! {
    /// The app's one WebGPU training worker, kept for as long as the app runs
    /// rather than for one visit of a page: its WebGPU start (about 22 s on
    /// SwiftShader), the kernels it has compiled and autotuned (a SimCLR
    /// run's first step, 139–145 s) and the encoder it has loaded serve a
    /// return to the page. SimCLR and SimCSE train in it (each keeps its
    /// model in a thread-local of its own there). A failed start is kept too,
    /// so later runs go straight to the page's thread.
    static TRAINING_WORKER: RefCell<Option<KeptWorker>> = const { RefCell::new(None) };
    /// How many training workers this app has started (shown on the training
    /// pages as `data-workers-started`, so a test sees a return reuse the kept
    /// one).
    static WORKERS_STARTED: Cell<u32> = const { Cell::new(0) };
}

pub fn training_workers_started() -> u32 {
    WORKERS_STARTED.with(|n| n.get())
}

/// The training worker for compute `generation`, with WebGPU started in it:
/// the kept one, or a new one (then kept); fails with the reason when the
/// worker or its WebGPU does not start.
pub async fn training_worker(generation: u32) -> Result<Rc<AppWorker>, String> {
    forget_training_worker_unless(generation);
    let kept = TRAINING_WORKER.with(|w| {
        w.borrow()
            .as_ref()
            .map(|(_, worker, started)| (worker.clone(), started.clone()))
    });
    let (worker, started) = match kept {
        Some(kept) => kept,
        None => {
            let worker = Rc::new(AppWorker::spawn("pretext-training")?);
            WORKERS_STARTED.with(|n| n.set(n.get() + 1));
            let started =
                worker.call_promise("worker_use_webgpu", &[], &[], WEBGPU_START_TIMEOUT_MS);
            TRAINING_WORKER
                .with(|w| *w.borrow_mut() = Some((generation, worker.clone(), started.clone())));
            (worker, started)
        }
    };
    JsFuture::from(started).await.map_err(error_text)?;
    Ok(worker)
}

/// Ends the kept training worker unless it belongs to compute `generation`:
/// a new device (the GPU lost, the backend switched) means the worker's
/// device went with the old one (a lost GPU is lost to every device of the
/// page). Its models go with it; a model still in use elsewhere holds the
/// worker until it is dropped.
pub fn forget_training_worker_unless(generation: u32) {
    TRAINING_WORKER.with(|w| {
        let mut kept = w.borrow_mut();
        if kept.as_ref().is_some_and(|(g, _, _)| *g != generation) {
            *kept = None;
        }
    });
}

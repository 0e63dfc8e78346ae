//! Browser glue for the compute backend: probe WebGPU, start burn's wgpu
//! runtime or its CPU backend, self-test the device, and report a lost GPU.
//! The decisions themselves live in `backend.rs` (pure, unit-tested).

use std::cell::RefCell;

use burn::tensor::Device;
use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::backend::{adapter_display_name, plan, AdapterProbe, BackendRequest, CpuReason, Plan};
use super::event_loop::now_ms;
use crate::model::cpu_device;
use crate::model::selftest::{run_selftest, SELFTEST_SIZE};

/// The device the app computes on, and how it came to be chosen.
#[derive(Clone)]
pub struct ComputeBackend {
    pub device: Device,
    pub kind: BackendKind,
    /// Warm time of the 64×64 self-test matmul including readback.
    pub selftest_ms: Option<f64>,
    /// Whether a WebGPU adapter exists at all (so "Use WebGPU" makes sense).
    pub webgpu_available: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum BackendKind {
    WebGpu { adapter: String, is_fallback: bool },
    Cpu { reason: CpuReason },
}

struct GpuRuntime {
    device: Device,
    adapter: String,
    is_fallback: bool,
    /// The raw wgpu device, kept to register the loss callback and for the
    /// `?debug=1` hook that simulates a loss.
    wgpu_device: burn::tensor::wgpu::wgpu::Device,
}

/// What the app wants done when the GPU device is lost.
type DeviceLostHandler = Box<dyn Fn(String)>;

thread_local! {
    /// burn's wgpu runtime can be initialised once per page: keep it.
    static GPU: RefCell<Option<GpuRuntime>> = const { RefCell::new(None) };
    /// Set once the GPU device is lost; WebGPU is not retried afterwards.
    static GPU_LOST: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Who to tell when the device is lost (the app's backend state).
    static ON_LOST: RefCell<Option<DeviceLostHandler>> = const { RefCell::new(None) };
}

/// Registers the function called (once) when the GPU device is lost.
pub fn on_device_lost(callback: impl Fn(String) + 'static) {
    ON_LOST.with(|slot| *slot.borrow_mut() = Some(Box::new(callback)));
}

/// Asks `navigator.gpu` for an adapter without touching burn, so the app can
/// decide before initialising a runtime it cannot re-initialise.
pub async fn probe_adapter() -> AdapterProbe {
    let Some(window) = web_sys::window() else {
        return AdapterProbe::NoWebGpuApi;
    };
    let gpu =
        Reflect::get(&window.navigator(), &JsValue::from_str("gpu")).unwrap_or(JsValue::UNDEFINED);
    if gpu.is_undefined() || gpu.is_null() {
        return AdapterProbe::NoWebGpuApi;
    }
    let request = match Reflect::get(&gpu, &JsValue::from_str("requestAdapter")) {
        Ok(f) if f.is_function() => f.unchecked_into::<Function>(),
        _ => return AdapterProbe::NoWebGpuApi,
    };
    let promise = match request.call0(&gpu) {
        Ok(p) => p,
        Err(e) => return AdapterProbe::RequestFailed(js_error_text(&e)),
    };
    let adapter = match JsFuture::from(js_sys::Promise::resolve(&promise)).await {
        Ok(a) => a,
        Err(e) => return AdapterProbe::RequestFailed(js_error_text(&e)),
    };
    if adapter.is_null() || adapter.is_undefined() {
        return AdapterProbe::NoAdapter;
    }
    let info = Reflect::get(&adapter, &JsValue::from_str("info")).unwrap_or(JsValue::UNDEFINED);
    let field = |name: &str| {
        Reflect::get(&info, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    // `isFallbackAdapter` moved from the adapter to its info in newer browsers.
    let is_fallback = [&info, &adapter].iter().any(|obj| {
        Reflect::get(obj, &JsValue::from_str("isFallbackAdapter"))
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    });
    AdapterProbe::Adapter {
        name: adapter_display_name(
            &field("vendor"),
            &field("architecture"),
            &field("description"),
        ),
        is_fallback,
    }
}

/// Chooses and starts the compute backend for `request`. Never fails: every
/// problem on the WebGPU path ends on the CPU backend with its reason.
pub async fn start_backend(request: BackendRequest) -> ComputeBackend {
    let probe = probe_adapter().await;
    let webgpu_available = matches!(probe, AdapterProbe::Adapter { .. });
    let lost = GPU_LOST.with(|l| l.borrow().clone());
    let decided = match lost.clone() {
        // A lost device cannot be re-initialised in this page: only the CPU is left.
        Some(message) if request != BackendRequest::Cpu => {
            Plan::Cpu(CpuReason::DeviceLost(message))
        }
        _ => plan(request, &probe),
    };
    match decided {
        Plan::Cpu(reason) => cpu_backend(reason, webgpu_available && lost.is_none()).await,
        Plan::WebGpu {
            adapter,
            is_fallback,
        } => match gpu_runtime(adapter, is_fallback).await {
            Ok((device, adapter, is_fallback)) => match timed_selftest(&device).await {
                Ok(ms) => ComputeBackend {
                    device,
                    kind: BackendKind::WebGpu {
                        adapter,
                        is_fallback,
                    },
                    selftest_ms: Some(ms),
                    webgpu_available: true,
                },
                Err(e) => cpu_backend(CpuReason::SelftestFailed(e), true).await,
            },
            Err(e) => cpu_backend(CpuReason::InitFailed(e), false).await,
        },
    }
}

async fn cpu_backend(reason: CpuReason, webgpu_available: bool) -> ComputeBackend {
    let device = cpu_device();
    let selftest_ms = timed_selftest(&device).await.ok();
    ComputeBackend {
        device,
        kind: BackendKind::Cpu { reason },
        selftest_ms,
        webgpu_available,
    }
}

/// Runs the self-test twice (the first run compiles shaders) and returns the
/// warm time in milliseconds.
async fn timed_selftest(device: &Device) -> Result<f64, String> {
    run_selftest(device, SELFTEST_SIZE)
        .await
        .map_err(|e| e.to_string())?;
    let t0 = now_ms();
    run_selftest(device, SELFTEST_SIZE)
        .await
        .map_err(|e| e.to_string())?;
    Ok(now_ms() - t0)
}

/// The page's one wgpu runtime: initialised on first use, reused after.
async fn gpu_runtime(adapter: String, is_fallback: bool) -> Result<(Device, String, bool), String> {
    if let Some(found) = GPU.with(|g| {
        g.borrow()
            .as_ref()
            .map(|r| (r.device.clone(), r.adapter.clone(), r.is_fallback))
    }) {
        return Ok(found);
    }
    let (device, setup) = Device::wgpu_options()
        .init_with_setup_async()
        .await
        .map_err(|e| format!("{e:?}"))?;
    // The callback must be Send; it captures nothing and reaches the app
    // through the thread-local slot (wasm has one thread).
    setup.device.set_device_lost_callback(|reason, message| {
        let text = if message.is_empty() {
            format!("{reason:?}")
        } else {
            format!("{reason:?}: {message}")
        };
        GPU_LOST.with(|l| *l.borrow_mut() = Some(text.clone()));
        ON_LOST.with(|cb| {
            if let Some(cb) = cb.borrow().as_ref() {
                cb(text.clone());
            }
        });
    });
    GPU.with(|g| {
        *g.borrow_mut() = Some(GpuRuntime {
            device: device.clone(),
            adapter: adapter.clone(),
            is_fallback,
            wgpu_device: setup.device.clone(),
        })
    });
    Ok((device, adapter, is_fallback))
}

/// Destroys the GPU device as a driver reset would, so the fallback path can
/// be exercised on demand. Only installed with `?debug=1` (see `install_debug_hooks`).
fn simulate_device_loss() {
    GPU.with(|g| {
        if let Some(runtime) = g.borrow().as_ref() {
            runtime.wgpu_device.destroy();
        }
    });
}

/// With `?debug=1`, exposes `window.pretextDebug.loseGpuDevice()` for tests
/// and for lecturers who want to show the fallback.
pub fn install_debug_hooks() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let search = window.location().search().unwrap_or_default();
    if !search.split(['?', '&']).any(|p| p == "debug=1") {
        return;
    }
    let hooks = js_sys::Object::new();
    let lose = wasm_bindgen::closure::Closure::<dyn Fn()>::new(simulate_device_loss);
    let _ = Reflect::set(&hooks, &JsValue::from_str("loseGpuDevice"), lose.as_ref());
    lose.forget(); // lives as long as the page
                   // The wasm heap's size, for the benchmarks' leak check.
    let memory = wasm_bindgen::closure::Closure::<dyn Fn() -> f64>::new(|| {
        wasm_bindgen::memory()
            .dyn_into::<js_sys::WebAssembly::Memory>()
            .map(|m| {
                m.buffer()
                    .dyn_into::<js_sys::ArrayBuffer>()
                    .map(|b| b.byte_length() as f64)
                    .unwrap_or(0.0)
            })
            .unwrap_or(0.0)
    });
    let _ = Reflect::set(
        &hooks,
        &JsValue::from_str("wasmMemoryBytes"),
        memory.as_ref(),
    );
    memory.forget();
    let _ = Reflect::set(&window, &JsValue::from_str("pretextDebug"), &hooks);
}

/// The message of a JS exception or rejection value.
pub fn js_error_text(value: &JsValue) -> String {
    if let Some(e) = value.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

//! Browser glue for the compute backend: probe WebGPU, start burn's wgpu
//! runtime or its CPU backend, self-test the device, and report a lost GPU.
//! The decisions themselves live in `backend.rs` (pure, unit-tested).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use burn::tensor::Device;
use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::backend::{adapter_display_name, plan, AdapterProbe, BackendRequest, CpuReason, Plan};
use super::event_loop::now_ms;
use crate::model::cpu_device;
use crate::model::selftest::{run_matmul_checks, run_selftest, SELFTEST_SIZE};

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
    // The global scope's navigator, not `window`'s: a dedicated worker has
    // `navigator.gpu` too, and `runtime::embed_worker` starts WebGPU there.
    let navigator = Reflect::get(&js_sys::global(), &JsValue::from_str("navigator"))
        .unwrap_or(JsValue::UNDEFINED);
    if navigator.is_undefined() {
        return AdapterProbe::NoWebGpuApi;
    }
    let gpu = Reflect::get(&navigator, &JsValue::from_str("gpu")).unwrap_or(JsValue::UNDEFINED);
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
    let features =
        Reflect::get(&adapter, &JsValue::from_str("features")).unwrap_or(JsValue::UNDEFINED);
    let subgroups = Reflect::get(&features, &JsValue::from_str("has"))
        .ok()
        .and_then(|has| has.dyn_into::<Function>().ok())
        .and_then(|has| has.call1(&features, &JsValue::from_str("subgroups")).ok())
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    AdapterProbe::Adapter {
        name: adapter_display_name(
            &field("vendor"),
            &field("architecture"),
            &field("description"),
        ),
        is_fallback,
        subgroups,
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
            Ok((device, adapter, is_fallback)) => match gpu_selftest(&device).await {
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

/// The GPU's checks: the model-shaped products (these also run autotune's
/// first choices), then the timed self-test.
async fn gpu_selftest(device: &Device) -> Result<f64, String> {
    run_matmul_checks(device).await.map_err(|e| e.to_string())?;
    timed_selftest(device).await
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
    install_subgroup_shims();
    configure_autotune();
    let (device, setup) = Device::wgpu_options()
        .init_with_setup_async()
        .await
        .map_err(|e| format!("{e:?}"))?;
    // cubecl's handler panics on any validation error. While autotune tries
    // candidate kernels, a browser may reject one (before the shim above, a
    // `Gemm` variant that failed WGSL's uniformity analysis); on wasm cubecl
    // cannot see that in time to skip it, so the rejection arrives here. A
    // panic would kill the page; instead it is logged and counted (the BERT
    // e2e test asserts the count stays 0), and the matmul checks of
    // `start_backend` catch a wrong product.
    setup.device.on_uncaptured_error(Arc::new(|error| {
        let seen = GPU_ERRORS.fetch_add(1, Ordering::Relaxed);
        if seen < 3 {
            web_sys::console::warn_1(&JsValue::from_str(&format!(
                "WebGPU rejected a command (an autotune candidate kernel, most likely; \
                 the app goes on): {error}"
            )));
        }
    }));
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

/// WebGPU validation errors seen so far (see `gpu_runtime`); `?debug=1`
/// exposes it so tests can check that no kernel in use is rejected.
static GPU_ERRORS: AtomicU32 = AtomicU32::new(0);

#[wasm_bindgen(inline_js = r#"
export function install_subgroup_shims() {
  const adapter = globalThis.GPUAdapter;
  const device = globalThis.GPUDevice;
  if (!adapter || !device || adapter.prototype.__pretextSubgroups) return;
  // wgpu 30's WebGPU backend maps no `subgroups` feature, so it never asks for
  // it; cubek's matmul kernels use subgroup operations whenever the adapter
  // reports a subgroup size, and Dawn rejects them on a device without the
  // feature. Ask for it on every device of an adapter that has it (the app
  // uses no WebGPU adapter without it: `backend::plan`).
  const request = adapter.prototype.requestDevice;
  adapter.prototype.requestDevice = function (descriptor) {
    const wanted = { ...(descriptor ?? {}) };
    if (this.features.has('subgroups')) {
      wanted.requiredFeatures = [...new Set([...(wanted.requiredFeatures ?? []), 'subgroups'])];
    }
    return request.call(this, wanted);
  };
  // WGSL's uniformity analysis is static and conservative: a subgroup
  // reduction in cubek's `Gemm` sits under a branch on the problem size,
  // which cubecl passes in a storage buffer, so Tint calls it non-uniform and
  // rejects the kernel; on Vulkan, Metal and CUDA the same kernel runs as is.
  // The rule is one WGSL names for opting out. (The BERT e2e test compares
  // WebGPU's answers with the CPU's.)
  const createShaderModule = device.prototype.createShaderModule;
  device.prototype.createShaderModule = function (descriptor) {
    const code = descriptor?.code;
    if (typeof code === 'string' && code.includes('enable subgroups;') && !code.includes('subgroup_uniformity')) {
      descriptor = {
        ...descriptor,
        code: code.replace('enable subgroups;', 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);'),
      };
    }
    return createShaderModule.call(this, descriptor);
  };
  adapter.prototype.__pretextSubgroups = true;
}
"#)]
extern "C" {
    fn install_subgroup_shims();
}

/// burn's matmul autotune, kept short: every new problem size is tuned once
/// per page (the persistent cache is native-only), and on a software adapter
/// each candidate costs a shader compile. The coarsest size buckets and three
/// timed samples per candidate cut fill-mask's first run on SwiftShader from
/// about 60 to about 40 s; after that, runs reuse the choice.
fn configure_autotune() {
    use cubecl_runtime::config::autotune::AutotuneLevel;
    use cubecl_runtime::config::{CubeClRuntimeConfig, RuntimeConfig};
    let mut config = CubeClRuntimeConfig::default();
    config.autotune.level = AutotuneLevel::Minimal;
    config.autotune.bench.min_samples = 1;
    config.autotune.bench.max_samples = 3;
    // Set once, before the runtime reads it; a second call is a no-op.
    let _ = CubeClRuntimeConfig::try_set(config);
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
    let errors = wasm_bindgen::closure::Closure::<dyn Fn() -> u32>::new(|| {
        GPU_ERRORS.load(Ordering::Relaxed)
    });
    let _ = Reflect::set(&hooks, &JsValue::from_str("gpuErrors"), errors.as_ref());
    errors.forget();
    let _ = Reflect::set(&window, &JsValue::from_str("pretextDebug"), &hooks);
}

/// The message of a JS exception or rejection value.
pub fn js_error_text(value: &JsValue) -> String {
    if let Some(e) = value.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

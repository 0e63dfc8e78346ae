//! The devices model tests run on: burn's CPU backend (the browser's fallback)
//! and, natively, wgpu on Vulkan — Mesa's lavapipe on a GPU-less machine — which
//! runs the same cubecl kernels as WebGPU in the browser.

use std::sync::OnceLock;

use burn::tensor::{Device, Tensor};

pub use super::cpu_device as cpu;

/// The process's one wgpu device (a runtime initialises once per process).
pub fn wgpu() -> Device {
    static DEVICE: OnceLock<Result<Device, String>> = OnceLock::new();
    DEVICE
        .get_or_init(|| Device::wgpu_options().init().map_err(|e| format!("{e:?}")))
        .clone()
        .unwrap_or_else(|e| {
            panic!("no wgpu device; `make setup` installs Mesa's Vulkan driver (lavapipe): {e}")
        })
}

/// Every device a model test must pass on, with its name for messages.
pub fn all() -> Vec<(&'static str, Device)> {
    vec![("cpu (flex)", cpu()), ("wgpu", wgpu())]
}

/// The largest elementwise difference of two same-shaped tensors.
pub fn max_abs_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    (a - b).abs().max().into_scalar()
}

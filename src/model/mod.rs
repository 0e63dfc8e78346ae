//! Backend-generic model code. Nothing here knows about the web: every function
//! takes a burn `Device` and runs the same on WebGPU in the browser, on the
//! CPU backend in wasm, and natively under `cargo test`.

use burn::tensor::Device;

pub mod attention;
pub mod augment;
pub mod bert;
#[cfg(test)]
mod bert_golden;
pub mod bert_learn;
pub mod bert_loader;
pub mod bert_tokenizer;
pub mod bert_views;
pub mod checkpoint;
pub mod contrastive;
pub mod corpus;
pub mod export;
pub mod fill_mask;
pub mod igpt;
pub mod igpt_sampling;
pub mod mlm;
pub mod palette;
pub mod pca;
pub mod probe;
pub mod pytorch_bin;
pub mod resnet;
pub mod rng;
pub mod selftest;
pub mod simclr;
pub mod simcse;
pub mod simcse_data;

#[cfg(test)]
pub(crate) mod test_devices;

/// burn's CPU backend: the fallback in the browser and the reference in tests.
/// `flex`, not the deprecated `ndarray`: flex convolves with im2col + `gemm`,
/// multiplies transposed views in place (no relayout copies) and shares
/// tensors copy-on-write (ndarray's convolutions ran at ~0.1 GFLOP/s here). Measured with
/// `bench_native --backends ndarray,flex` (2 cores, release): SimCLR step
/// 100 → 11 ms, iGPT training step 1,037 → 491 ms, BERT forward b32×16
/// 171 → 151 ms; the browser's figures are in BENCHMARKS.md.
pub fn cpu_device() -> Device {
    Device::flex()
}

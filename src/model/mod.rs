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
/// ndarray is deprecated in burn 0.22 in favour of `flex`, but it is the CPU
/// backend proven to build and run in wasm here (../shared/RECIPES.md).
#[allow(deprecated)]
pub fn cpu_device() -> Device {
    Device::ndarray()
}

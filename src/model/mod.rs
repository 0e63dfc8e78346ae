//! Backend-generic model code. Nothing here knows about the web: every function
//! takes a burn `Device` and runs the same on WebGPU in the browser, on the
//! CPU backend in wasm, and natively under `cargo test`.

pub mod contrastive;
pub mod selftest;

#[cfg(test)]
pub(crate) mod test_devices;

//! Pretext: self-supervised pretraining, live in the browser.
//!
//! Three layers, see ARCHITECTURE.md:
//! - [`model`]: backend-generic burn code. No web dependency; runs in `cargo test`.
//! - [`runtime`]: which compute device runs (WebGPU or CPU) and how assets arrive
//!   (fetch, progress, sha256, Cache API). Pure policy natively, browser glue in wasm.
//! - [`ui`]: Yew components, one per page, and the shared widgets (wasm only,
//!   except the translation table which is pure data).

pub mod model;
pub mod runtime;
pub mod ui;

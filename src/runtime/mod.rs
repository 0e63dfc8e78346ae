//! The thin runtime layer between the models and the page: which compute
//! device runs ([`backend`]) and how assets arrive ([`assets`]). The policy
//! halves are pure and tested natively; the browser halves are wasm-only.

pub mod assets;
pub mod backend;
pub mod images;

#[cfg(target_arch = "wasm32")]
pub mod app_worker;
#[cfg(target_arch = "wasm32")]
pub mod embed_pool;
#[cfg(target_arch = "wasm32")]
pub mod embed_worker;
#[cfg(target_arch = "wasm32")]
pub mod event_loop;
#[cfg(target_arch = "wasm32")]
pub mod loader;
#[cfg(target_arch = "wasm32")]
pub mod simclr_worker;
#[cfg(target_arch = "wasm32")]
pub mod simcse_worker;
#[cfg(target_arch = "wasm32")]
pub mod webgpu;

//! The page. Pure pieces ([`i18n`]) compile everywhere; the Yew components
//! only for wasm. One component per page, shared widgets once.

pub mod bert_logic;
pub mod i18n;

#[cfg(target_arch = "wasm32")]
pub mod app;
#[cfg(target_arch = "wasm32")]
mod assets_page;
#[cfg(target_arch = "wasm32")]
mod bert;
#[cfg(target_arch = "wasm32")]
pub mod charts;
#[cfg(target_arch = "wasm32")]
mod header;
#[cfg(target_arch = "wasm32")]
mod home;
#[cfg(target_arch = "wasm32")]
mod igpt;
#[cfg(target_arch = "wasm32")]
mod simclr;
#[cfg(target_arch = "wasm32")]
mod simcse;
#[cfg(target_arch = "wasm32")]
pub mod train_driver;
#[cfg(target_arch = "wasm32")]
pub mod widgets;

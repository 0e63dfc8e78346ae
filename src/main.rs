//! The app's entry point. In the browser it mounts the Yew app; natively
//! there is no UI, so it points at the two commands that matter.

#[cfg(target_arch = "wasm32")]
unsafe extern "C" {
    /// Runs the static constructors (cubecl registers its IR dialects through
    /// `inventory`), synthesised by wasm-ld.
    fn __wasm_call_ctors();
}

#[cfg(target_arch = "wasm32")]
fn main() {
    // Why call it by hand: when nothing references `__wasm_call_ctors`, wasm-ld
    // treats the module as a "command" and wraps *every* export so that it
    // runs all constructors again on entry. Each call from JavaScript into
    // the app (every event, every render, every awaited GPU readback) then
    // re-registered cubecl's inventory: ~300 ms per call in Chromium, and a
    // leak. One explicit call here makes wasm-ld leave the exports alone
    // (see dtolnay/inventory#76 and #78).
    unsafe { __wasm_call_ctors() };
    // A worker (no window) only calls the exported functions.
    if web_sys::window().is_none() {
        return;
    }
    // The first render in a task of its own: instantiating the module and
    // running the constructors is already one long task (~90 ms on 2 cores).
    wasm_bindgen_futures::spawn_local(async {
        pretext::runtime::event_loop::yield_now().await;
        pretext::ui::app::start();
    });
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    println!("Pretext is a web app: `make serve` builds it and serves it at http://127.0.0.1:8080; `make test` runs every test.");
}

//! Give the browser's event loop a turn. Long work in wasm runs on the main
//! thread; awaiting this between steps keeps the page responsive.

use wasm_bindgen::JsCast;

/// Resolves on the next macrotask (a `setTimeout(0)`), after the browser has
/// had the chance to handle input and paint.
pub async fn yield_now() {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let scheduled = web_sys::window().and_then(|w| {
            w.set_timeout_with_callback_and_timeout_and_arguments_0(resolve.unchecked_ref(), 0)
                .ok()
        });
        if scheduled.is_none() {
            // No window (a worker): resolve at once rather than hang.
            let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Milliseconds since page load, for timing on-device work.
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or(0.0)
}

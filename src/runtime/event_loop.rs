//! The browser event loop: yield to it between chunks of long work (wasm runs
//! on the main thread), and read its clock.

use wasm_bindgen::JsCast;

/// Resolves on the next macrotask, after the browser has had the chance to
/// handle input and paint. A message to ourselves on a `MessageChannel`, not a
/// `setTimeout(0)`: browsers clamp nested timeouts to 4 ms (HTML standard,
/// "timer initialisation steps", nesting level > 5), which a loop that yields
/// between model layers would pay dozens of times per call.
pub async fn yield_now() {
    let Ok(channel) = web_sys::MessageChannel::new() else {
        return sleep_ms(0).await;
    };
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        channel.port1().set_onmessage(Some(resolve.unchecked_ref()));
        if channel
            .port2()
            .post_message(&wasm_bindgen::JsValue::NULL)
            .is_err()
        {
            let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    // `channel` lives until here: its ports are not collected while we wait.
    channel.port1().set_onmessage(None);
}

/// Resolves after `ms` milliseconds (a `setTimeout(ms)`): the debounce of
/// "update as you type".
pub async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let scheduled = web_sys::window().and_then(|w| {
            w.set_timeout_with_callback_and_timeout_and_arguments_0(resolve.unchecked_ref(), ms)
                .ok()
        });
        if scheduled.is_none() {
            // No window (a worker): resolve at once rather than hang.
            let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Milliseconds since page load (or a worker's start), for timing on-device
/// work. The global scope's `performance`: a worker has no window.
pub fn now_ms() -> f64 {
    js_sys::Reflect::get(
        &js_sys::global(),
        &wasm_bindgen::JsValue::from_str("performance"),
    )
    .ok()
    .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
    .map(|p| p.now())
    .unwrap_or(0.0)
}

/// Records a User Timing mark (visible in DevTools' performance panel), used
/// by `scripts/measure_startup.mjs` to time startup milestones.
pub fn mark(name: &str) {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.mark(name);
    }
}

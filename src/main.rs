//! The app's entry point. In the browser it mounts the Yew app; natively
//! there is no UI, so it points at the two commands that matter.

#[cfg(target_arch = "wasm32")]
fn main() {
    pretext::ui::app::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    println!("Pretext is a web app: `make serve` builds it and serves it at http://127.0.0.1:8080; `make test` runs every test.");
}

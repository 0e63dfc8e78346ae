//! The one asset loader every demo uses: fetch with byte progress, verify the
//! sha256 pinned in the manifest while the bytes stream in, and keep verified
//! files in the browser's Cache API so a second visit downloads nothing.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, ReadableStreamDefaultReader, Response};

use super::assets::{served_asset, ServedAsset, StreamingVerifier, VerifyError};
use super::event_loop::{now_ms, yield_now};
use super::webgpu::js_error_text;

/// The longest stretch of reading and hashing before the loader yields to the
/// event loop: a cached file arrives in large chunks whose reads resolve at
/// once, and hashing 87 MB in one go held the page for 200 ms at a time.
const SLICE_MS: f64 = 20.0;

/// Bytes hashed between two looks at the clock (about 3 ms of sha256 in wasm).
const HASH_PIECE: usize = 1 << 20;

/// Cache API bucket. Entries are keyed by URL and re-verified on read, so a
/// manifest update with a new digest simply replaces the stale entry.
const CACHE_NAME: &str = "pretext-assets-v1";

/// Where the bytes are coming from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Cache,
    Network,
}

/// Progress of one load, reported as chunks arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub source: Source,
    pub done: u64,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    UnknownAsset(String),
    Network(String),
    Http(u16),
    Checksum(VerifyError),
}

/// A verified asset.
pub struct Loaded {
    pub bytes: Vec<u8>,
    pub source: Source,
}

/// URL of an asset, relative to the document's `<base href>`, so the app
/// works under any public path (e.g. a GitHub Pages project folder).
pub fn asset_url(id: &str) -> String {
    let relative = format!("assets/{id}");
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.base_uri().ok().flatten())
        .and_then(|base| web_sys::Url::new_with_base(&relative, &base).ok())
        .map(|u| u.href())
        .unwrap_or(relative)
}

/// Loads asset `id`, from the cache if a verified copy is there, else from
/// the network. `on_progress` sees every chunk.
pub async fn load_asset(id: &str, on_progress: &dyn Fn(Progress)) -> Result<Loaded, LoadError> {
    let asset = served_asset(id).ok_or_else(|| LoadError::UnknownAsset(id.to_string()))?;
    let url = asset_url(id);
    let cache = open_cache().await;

    if let Some(cache) = &cache {
        if let Some(response) = cache_match(cache, &url).await {
            match read_verified(&response, &asset, Source::Cache, on_progress).await {
                Ok(bytes) => {
                    return Ok(Loaded {
                        bytes,
                        source: Source::Cache,
                    })
                }
                Err(_) => {
                    // A damaged cache entry is dropped and fetched afresh.
                    let _ = JsFuture::from(cache.delete_with_str(&url)).await;
                }
            }
        }
    }

    let bytes = download(cache.as_ref(), &url, |response| async move {
        read_verified(&response, &asset, Source::Network, on_progress).await
    })
    .await?;
    Ok(Loaded {
        bytes,
        source: Source::Network,
    })
}

/// `fetch(url)`, with a failed request or an HTTP error status as a `LoadError`.
async fn fetch_ok(url: &str) -> Result<Response, LoadError> {
    let window = web_sys::window().ok_or_else(|| LoadError::Network("no window".into()))?;
    let response: Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(|e| LoadError::Network(js_error_text(&e)))?
        .unchecked_into();
    if !response.ok() {
        return Err(LoadError::Http(response.status()));
    }
    Ok(response)
}

async fn open_cache() -> Option<Cache> {
    // `caches` is absent on insecure origins; the app then works uncached.
    let window = web_sys::window()?;
    let storage = window.caches().ok()?;
    JsFuture::from(storage.open(CACHE_NAME))
        .await
        .ok()
        .map(JsCast::unchecked_into)
}

async fn cache_match(cache: &Cache, url: &str) -> Option<Response> {
    let found = JsFuture::from(cache.match_with_str(url)).await.ok()?;
    found.dyn_into::<Response>().ok()
}

/// Fetches `url` and reads its body with `read`, while the browser writes a
/// copy into `cache` that is kept only if `read` accepts the body.
async fn download<F, Fut>(cache: Option<&Cache>, url: &str, read: F) -> Result<Vec<u8>, LoadError>
where
    F: FnOnce(Response) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<u8>, LoadError>>,
{
    let response = fetch_ok(url).await?;
    let storing = cache.and_then(|c| start_store(c, url, &response));
    let read = read(response).await;
    if let (Some(cache), Some(storing)) = (cache, storing) {
        finish_store(cache, url, storing, read.is_ok()).await;
    }
    read
}

/// Starts writing a copy of `response` into the cache while the page reads
/// the original: the browser tees the body and writes it off the page's
/// thread. (Building a `Response` from the bytes afterwards copied the whole
/// file on the page's thread, and `Cache.put` copied it again: one 155 ms
/// task for MiniLM's 87 MB.) The entry is only kept if the file then passes
/// its check (`finish_store`); cached entries are verified again on every
/// read in any case.
fn start_store(cache: &Cache, url: &str, response: &Response) -> Option<js_sys::Promise> {
    let copy = response.clone().ok()?;
    Some(cache.put_with_str(url, &copy))
}

/// Waits for the cache write of a download, and drops the entry when the
/// download itself failed (a checksum mismatch, a cut connection).
async fn finish_store(cache: &Cache, url: &str, storing: js_sys::Promise, keep: bool) {
    let written = JsFuture::from(storing).await;
    if !keep {
        let _ = JsFuture::from(cache.delete_with_str(url)).await;
        return;
    }
    if let Err(e) = written {
        // Quota exceeded or private mode: the load still succeeded.
        web_sys::console::warn_1(&JsValue::from_str(&format!(
            "Pretext: could not cache {url}: {}",
            js_error_text(&e)
        )));
    }
}

/// Streams a response body through the verifier, reporting progress.
async fn read_verified(
    response: &Response,
    asset: &ServedAsset,
    source: Source,
    on_progress: &dyn Fn(Progress),
) -> Result<Vec<u8>, LoadError> {
    let mut verifier = StreamingVerifier::new(asset);
    let bytes = read_body(
        response,
        asset.bytes,
        source,
        &mut |chunk| verifier.update(chunk),
        on_progress,
    )
    .await?;
    verifier.finish().map_err(LoadError::Checksum)?;
    Ok(bytes)
}

/// Loads a file from any URL (a Hugging Face checkpoint, a URL the visitor
/// typed), with byte progress, through the same Cache API as the pinned
/// assets. Nothing pins its digest, so it is cached only once it arrived
/// whole, and the model loader is what judges its contents.
pub async fn load_url(url: &str, on_progress: &dyn Fn(Progress)) -> Result<Loaded, LoadError> {
    let cache = open_cache().await;
    if let Some(cache) = &cache {
        if let Some(response) = cache_match(cache, url).await {
            let total = content_length(&response);
            if let Ok(bytes) =
                read_body(&response, total, Source::Cache, &mut |_| {}, on_progress).await
            {
                return Ok(Loaded {
                    bytes,
                    source: Source::Cache,
                });
            }
        }
    }
    let bytes = download(cache.as_ref(), url, |response| async move {
        let total = content_length(&response);
        let bytes = read_body(&response, total, Source::Network, &mut |_| {}, on_progress).await?;
        if total > 0 && bytes.len() as u64 != total {
            return Err(LoadError::Network(format!(
                "the download stopped at {} of {total} bytes",
                bytes.len()
            )));
        }
        Ok(bytes)
    })
    .await?;
    Ok(Loaded {
        bytes,
        source: Source::Network,
    })
}

/// The `Content-Length` of a response, or 0 when the server did not say.
fn content_length(response: &Response) -> u64 {
    response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Streams a response body chunk by chunk (each one seen by `inspect`),
/// reporting progress against `total` (0: unknown, then the bytes so far).
async fn read_body(
    response: &Response,
    total: u64,
    source: Source,
    inspect: &mut dyn FnMut(&[u8]),
    on_progress: &dyn Fn(Progress),
) -> Result<Vec<u8>, LoadError> {
    let body = response
        .body()
        .ok_or_else(|| LoadError::Network("empty response".into()))?;
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes = Vec::with_capacity(total as usize);
    let mut slice_start = now_ms();
    on_progress(Progress {
        source,
        done: 0,
        total,
    });
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| LoadError::Network(js_error_text(&e)))?;
        let done = Reflect::get(&chunk, &JsValue::from_str("done"))
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &JsValue::from_str("value"))
            .map_err(|e| LoadError::Network(js_error_text(&e)))?
            .unchecked_into();
        let start = bytes.len();
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
        // Hash in pieces, yielding whenever a slice of the page's time is
        // used up: reads of a cached file resolve as microtasks, so without
        // this a whole file was read and hashed in a few long tasks.
        let mut at = start;
        while at < bytes.len() {
            let end = (at + HASH_PIECE).min(bytes.len());
            inspect(&bytes[at..end]);
            at = end;
            if now_ms() - slice_start > SLICE_MS {
                yield_now().await;
                slice_start = now_ms();
            }
        }
        let done = bytes.len() as u64;
        on_progress(Progress {
            source,
            done,
            total: total.max(done),
        });
    }
    Ok(bytes)
}

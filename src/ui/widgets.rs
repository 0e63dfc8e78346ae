//! Widgets shared by every page: the asset loader hook and its progress /
//! error view. (The loss plot and heatmap join here with the first demo that
//! needs them.)

use std::cell::Cell;
use std::rc::Rc;

use yew::prelude::*;

use super::app::LangCtx;
use super::i18n::Text;
use crate::runtime::assets::format_bytes;
use crate::runtime::loader::{load_asset, LoadError, Progress, Source};

/// Bytes of a loaded asset, compared by identity (not by content: a 90 MB
/// comparison on every render would freeze the page).
#[derive(Clone)]
pub struct AssetBytes(pub Rc<Vec<u8>>);

impl PartialEq for AssetBytes {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Clone, PartialEq)]
pub enum LoadState {
    Idle,
    Running(Progress),
    Done { bytes: AssetBytes, source: Source },
    Error(LoadError),
}

impl LoadState {
    /// The `data-state` every long action carries (idle | running | done | error).
    pub fn data_state(&self) -> &'static str {
        match self {
            LoadState::Idle => "idle",
            LoadState::Running(_) => "running",
            LoadState::Done { .. } => "done",
            LoadState::Error(_) => "error",
        }
    }
}

/// A load in progress or finished, and how to (re)start it.
#[derive(Clone, PartialEq)]
pub struct AssetHandle {
    pub state: LoadState,
    pub start: Callback<()>,
}

/// Loads a served asset on demand. Progress updates are throttled to whole
/// percents so a large download does not re-render the page thousands of times.
#[hook]
pub fn use_asset(id: AttrValue) -> AssetHandle {
    let state = use_state(|| LoadState::Idle);
    let busy = use_mut_ref(|| false);
    let start = {
        let setter = state.setter();
        Callback::from(move |()| {
            if *busy.borrow() {
                return;
            }
            *busy.borrow_mut() = true;
            let setter = setter.clone();
            let busy = busy.clone();
            let id = id.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let last_percent = Cell::new(u64::MAX);
                let report = |p: Progress| {
                    let percent = (p.done * 100).checked_div(p.total).unwrap_or(100);
                    if percent != last_percent.get() {
                        last_percent.set(percent);
                        setter.set(LoadState::Running(p));
                    }
                };
                let result = load_asset(&id, &report).await;
                setter.set(match result {
                    Ok(loaded) => LoadState::Done {
                        bytes: AssetBytes(Rc::new(loaded.bytes)),
                        source: loaded.source,
                    },
                    Err(e) => LoadState::Error(e),
                });
                *busy.borrow_mut() = false;
            });
        })
    };
    AssetHandle {
        state: (*state).clone(),
        start,
    }
}

/// What went wrong with a load, in the page's language.
pub fn load_error_text(lang: &LangCtx, error: &LoadError) -> String {
    match error {
        LoadError::UnknownAsset(id) => format!("{}: {id}", lang.t(Text::LoadErrorUnknownAsset)),
        LoadError::Network(e) => format!("{}: {e}", lang.t(Text::LoadErrorNetwork)),
        LoadError::Http(status) => format!("{} (HTTP {status})", lang.t(Text::LoadErrorHttp)),
        LoadError::Checksum(e) => format!("{} ({e})", lang.t(Text::LoadErrorChecksum)),
    }
}

#[derive(Properties, PartialEq)]
pub struct LoadProgressProps {
    pub handle: AssetHandle,
}

/// Progress bar (bytes of total), and on failure a clear message with Retry.
#[component]
pub fn LoadProgressView(props: &LoadProgressProps) -> Html {
    let lang = use_context::<LangCtx>().expect("LangCtx");
    let state = &props.handle.state;
    let (done, total, text) = match state {
        LoadState::Idle => (0, 1, lang.t(Text::LoadIdle).to_string()),
        LoadState::Running(p) => {
            let what = match p.source {
                Source::Cache => Text::LoadFromCache,
                Source::Network => Text::LoadDownloading,
            };
            (
                p.done,
                p.total.max(1),
                format!(
                    "{} {} / {}",
                    lang.t(what),
                    format_bytes(p.done),
                    format_bytes(p.total)
                ),
            )
        }
        LoadState::Done { bytes, source } => {
            let n = bytes.0.len() as u64;
            let from = match source {
                Source::Cache => format!(" · {}", lang.t(Text::LoadFromCache)),
                Source::Network => String::new(),
            };
            (
                n,
                n.max(1),
                format!("{} · {}{from}", lang.t(Text::LoadDone), format_bytes(n)),
            )
        }
        LoadState::Error(_) => (0, 1, String::new()),
    };
    let retry = {
        let start = props.handle.start.clone();
        Callback::from(move |_: MouseEvent| start.emit(()))
    };
    html! {
        <div class="loader">
            <div class="load-progress" data-testid="load-progress" data-state={state.data_state()}
                 data-source={match state { LoadState::Done { source: Source::Cache, .. } => "cache", LoadState::Done { .. } => "network", _ => "" }}>
                <progress max={total.to_string()} value={done.to_string()}></progress>
                <span class="load-text">{ text }</span>
            </div>
            if let LoadState::Error(e) = state {
                <div class="load-error" data-testid="load-error" role="alert">
                    <span>{ load_error_text(&lang, e) }</span>
                    <button type="button" data-testid="load-retry" onclick={retry}>{ lang.t(Text::Retry) }</button>
                </div>
            }
        </div>
    }
}

/// The state of a page's long action, as its `data-state` attribute shows it
/// (tests wait on it instead of sleeping).
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub enum Phase {
    #[default]
    Idle,
    Running,
    Done,
    Error,
}

impl Phase {
    pub fn attr(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Running => "running",
            Phase::Done => "done",
            Phase::Error => "error",
        }
    }
}

/// A parameter count as the pages print it: `214 k`, `22.7 M`.
pub fn params_text(n: usize) -> String {
    if n >= 1_000_000 {
        format!("{:.1} M", n as f64 / 1e6)
    } else {
        format!("{:.0} k", n as f64 / 1e3)
    }
}

/// "Newest wins" for a page's background runs (a model load, and the live
/// results that follow typed text): starting a run supersedes every earlier
/// one, which then publishes nothing.
#[derive(Clone, Default)]
pub struct Latest(Rc<Cell<u64>>);

impl Latest {
    /// A new run; every earlier one is now stale.
    pub fn start(&self) -> u64 {
        let run = self.0.get() + 1;
        self.0.set(run);
        run
    }

    pub fn is_current(&self, run: u64) -> bool {
        self.0.get() == run
    }

    /// Waits out a typing debounce; false if a newer run started meanwhile.
    pub async fn settled(&self, run: u64, debounce_ms: i32) -> bool {
        crate::runtime::event_loop::sleep_ms(debounce_ms).await;
        self.is_current(run)
    }
}

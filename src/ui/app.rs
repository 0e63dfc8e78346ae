//! The application root: routes, the language and compute-backend contexts,
//! and the URL as the place where shareable state lives (`?backend=`, `?lang=`).

use std::cell::Cell;
use std::rc::Rc;

use yew::prelude::*;
use yew_router::prelude::*;

use super::assets_page::AssetsPage;
use super::bert::BertDemo;
use super::header::Header;
use super::home::Home;
use super::i18n::{tr, Lang, Text};
use super::igpt::IgptDemo;
use super::simclr::SimClrDemo;
use super::simcse::SimCseDemo;
use crate::runtime::backend::BackendRequest;
use crate::runtime::event_loop::mark;
use crate::runtime::webgpu::{install_debug_hooks, on_device_lost, start_backend, ComputeBackend};

#[derive(Routable, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Route {
    #[at("/")]
    Home,
    #[at("/bert")]
    Bert,
    #[at("/igpt")]
    Igpt,
    #[at("/simclr")]
    Simclr,
    #[at("/simcse")]
    Simcse,
    // Not "/assets": static hosts redirect that to the weights folder.
    #[at("/offline")]
    Offline,
    #[not_found]
    #[at("/404")]
    NotFound,
}

/// The UI language and how to change it.
#[derive(Clone, PartialEq)]
pub struct LangCtx {
    pub lang: Lang,
    pub set: Callback<Lang>,
}

impl LangCtx {
    pub fn t(&self, text: Text) -> &'static str {
        tr(self.lang, text)
    }
}

/// The compute backend as the pages see it.
#[derive(Clone)]
pub enum ComputeStatus {
    Starting,
    Ready(ComputeBackend),
}

#[derive(Clone)]
pub struct ComputeCtx {
    /// Bumped on every change, so contexts compare cheaply.
    pub generation: u32,
    pub status: Rc<ComputeStatus>,
    pub request: BackendRequest,
    pub set_request: Callback<BackendRequest>,
}

impl PartialEq for ComputeCtx {
    fn eq(&self, other: &Self) -> bool {
        self.generation == other.generation && self.request == other.request
    }
}

/// Mounts the app. Panics become console errors (which the end-to-end tests
/// treat as failures) instead of a silent dead page.
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("Pretext panicked: {info}").into());
    }));
    install_debug_hooks();
    if let Some(boot) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("boot"))
    {
        boot.remove();
    }
    yew::Renderer::<App>::new().render();
}

/// The page URL's query string (`?a=1&b=2`), where the demo pages keep their settings.
pub fn location_search() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
}

/// One parameter of the page URL's query string.
pub fn query_param(key: &str) -> Option<String> {
    web_sys::UrlSearchParams::new_with_str(&location_search())
        .ok()
        .and_then(|p| p.get(key))
}

/// Rewrites one query parameter in place (no reload, no history entry), so
/// the address bar always holds a link that reproduces what is on screen.
pub fn set_query_param(key: &str, value: Option<&str>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(href) = window.location().href() else {
        return;
    };
    let Ok(url) = web_sys::Url::new(&href) else {
        return;
    };
    match value {
        Some(v) => url.search_params().set(key, v),
        None => url.search_params().delete(key),
    }
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url.href()));
    }
}

const LANG_STORAGE_KEY: &str = "pretext.lang";

fn initial_lang() -> Lang {
    let stored = || {
        web_sys::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .and_then(|s| s.get_item(LANG_STORAGE_KEY).ok().flatten())
    };
    let browser = || web_sys::window().and_then(|w| w.navigator().language());
    [query_param("lang"), stored(), browser()]
        .into_iter()
        .flatten()
        .find_map(|tag| Lang::from_tag(&tag))
        .unwrap_or_default()
}

fn apply_lang(lang: Lang) {
    if let Some(window) = web_sys::window() {
        if let Some(root) = window.document().and_then(|d| d.document_element()) {
            let _ = root.set_attribute("lang", lang.tag());
        }
        if let Ok(Some(storage)) = window.local_storage() {
            let _ = storage.set_item(LANG_STORAGE_KEY, lang.tag());
        }
    }
}

type ComputeState = (u32, Rc<ComputeStatus>);

/// Shows "Starting…" and starts the backend for `request` in the background.
/// Only the newest start may publish its result, so fast clicks cannot race.
fn spawn_backend_start(
    request: BackendRequest,
    setter: UseStateSetter<ComputeState>,
    latest: Rc<Cell<u32>>,
) {
    let generation = latest.get() + 1;
    latest.set(generation);
    setter.set((generation * 2, Rc::new(ComputeStatus::Starting)));
    wasm_bindgen_futures::spawn_local(async move {
        let backend = start_backend(request).await;
        if latest.get() == generation {
            mark("pretext:backend");
            setter.set((generation * 2 + 1, Rc::new(ComputeStatus::Ready(backend))));
        }
    });
}

#[component]
pub fn App() -> Html {
    let lang = use_state(initial_lang);
    let request = use_state(|| BackendRequest::from_query(&location_search()));
    let compute = use_state(|| -> ComputeState { (0, Rc::new(ComputeStatus::Starting)) });
    let latest_start: Rc<Cell<u32>> = use_memo((), |_| Cell::new(0));

    use_effect_with(*lang, |lang| apply_lang(*lang));

    // (Re)start the backend whenever the request changes, and again if the GPU
    // is lost: `start_backend` then knows the device is gone and lands on the
    // CPU with that reason. Page state lives in the components, not on the
    // device, so nothing the visitor did is lost.
    {
        let setter = compute.setter();
        use_effect_with(*request, move |request| {
            let request = *request;
            spawn_backend_start(request, setter.clone(), latest_start.clone());
            on_device_lost(move |_message| {
                spawn_backend_start(request, setter.clone(), latest_start.clone());
            });
        });
    }

    let lang_ctx = LangCtx {
        lang: *lang,
        set: {
            let lang = lang.clone();
            Callback::from(move |l: Lang| {
                set_query_param("lang", Some(l.tag()));
                lang.set(l);
            })
        },
    };
    let compute_ctx = ComputeCtx {
        generation: compute.0,
        status: compute.1.clone(),
        request: *request,
        set_request: {
            let request = request.clone();
            Callback::from(move |r: BackendRequest| {
                set_query_param("backend", r.query_value());
                request.set(r);
            })
        },
    };

    html! {
        <ContextProvider<LangCtx> context={lang_ctx}>
            <ContextProvider<ComputeCtx> context={compute_ctx}>
                <BrowserRouter>
                    <Header />
                    <main id="main">
                        <Switch<Route> render={switch} />
                    </main>
                    <Footer />
                </BrowserRouter>
            </ContextProvider<ComputeCtx>>
        </ContextProvider<LangCtx>>
    }
}

fn switch(route: Route) -> Html {
    match route {
        Route::Home => html! { <Home /> },
        Route::Bert => html! { <BertDemo /> },
        Route::Igpt => html! { <IgptDemo /> },
        Route::Simclr => html! { <SimClrDemo /> },
        Route::Simcse => html! { <SimCseDemo /> },
        Route::Offline => html! { <AssetsPage /> },
        Route::NotFound => html! { <NotFound /> },
    }
}

#[component]
fn NotFound() -> Html {
    let lang = use_context::<LangCtx>().expect("LangCtx");
    html! {
        <section class="page" data-testid="not-found">
            <p>{ lang.t(Text::NotFound) }</p>
            <NavLink to={Route::Home} testid="not-found-home">{ lang.t(Text::BackHome) }</NavLink>
        </section>
    }
}

#[component]
fn Footer() -> Html {
    let lang = use_context::<LangCtx>().expect("LangCtx");
    html! {
        <footer class="footer">
            <p>{ lang.t(Text::PrivacyNote) }</p>
            <p>
                <NavLink to={Route::Offline} testid="nav-offline">{ lang.t(Text::NavAssets) }</NavLink>
                { " · " }
                <a href="assets/ATTRIBUTION.txt" data-testid="attribution-link">{ lang.t(Text::Attribution) }</a>
            </p>
        </footer>
    }
}

#[derive(Properties, PartialEq)]
pub struct NavLinkProps {
    pub to: Route,
    pub testid: AttrValue,
    #[prop_or_default]
    pub class: Classes,
    #[prop_or_default]
    pub children: Html,
}

/// A link to a route that keeps the URL's query (`?backend=`, `?lang=`), so a
/// forced backend or language survives navigation. A real `<a href>`: it
/// opens in a new tab, and Enter follows it.
#[component]
pub fn NavLink(props: &NavLinkProps) -> Html {
    let navigator = use_navigator();
    let search = location_search();
    let base = navigator
        .as_ref()
        .and_then(|n| n.basename().map(str::to_owned))
        .unwrap_or_default();
    let href = format!("{base}{}{search}", props.to.to_path());
    let onclick = {
        let to = props.to;
        Callback::from(move |e: MouseEvent| {
            // Let modified clicks (new tab, new window) do what the browser does.
            if e.ctrl_key() || e.meta_key() || e.shift_key() || e.button() != 0 {
                return;
            }
            e.prevent_default();
            if let Some(nav) = &navigator {
                let pairs: Vec<(String, String)> =
                    web_sys::UrlSearchParams::new_with_str(&location_search())
                        .ok()
                        .map(|p| {
                            ["backend", "lang", "debug"]
                                .iter()
                                .filter_map(|k| p.get(k).map(|v| (k.to_string(), v)))
                                .collect()
                        })
                        .unwrap_or_default();
                if nav.push_with_query(&to, pairs).is_err() {
                    nav.push(&to);
                }
            }
        })
    };
    html! {
        <a href={href} class={props.class.clone()} data-testid={props.testid.clone()} {onclick}>
            { props.children.clone() }
        </a>
    }
}

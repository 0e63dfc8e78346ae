//! The header: brand, which compute backend runs (and why), the backend
//! switch, and the language switch.

use yew::prelude::*;

use super::app::{ComputeCtx, ComputeStatus, LangCtx, NavLink, Route};
use super::i18n::{Lang, Text};
use crate::runtime::backend::{BackendRequest, CpuReason};
use crate::runtime::webgpu::BackendKind;

fn reason_text(lang: &LangCtx, reason: &CpuReason) -> String {
    let (text, detail) = match reason {
        CpuReason::Requested => (Text::ReasonRequested, None),
        CpuReason::NoWebGpuApi => (Text::ReasonNoWebGpuApi, None),
        CpuReason::NoAdapter => (Text::ReasonNoAdapter, None),
        CpuReason::AdapterRequestFailed(e) => (Text::ReasonAdapterRequestFailed, Some(e)),
        CpuReason::SoftwareAdapterSlower { adapter } => {
            (Text::ReasonSoftwareAdapterSlower, Some(adapter))
        }
        CpuReason::NoSubgroups { adapter } => (Text::ReasonNoSubgroups, Some(adapter)),
        CpuReason::InitFailed(e) => (Text::ReasonInitFailed, Some(e)),
        CpuReason::SelftestFailed(e) => (Text::ReasonSelftestFailed, Some(e)),
        CpuReason::DeviceLost(e) => (Text::ReasonDeviceLost, Some(e)),
    };
    match detail {
        Some(d) => format!("{} ({d})", lang.t(text)),
        None => lang.t(text).to_string(),
    }
}

#[component]
pub fn Header() -> Html {
    let lang = use_context::<LangCtx>().expect("LangCtx");
    let compute = use_context::<ComputeCtx>().expect("ComputeCtx");

    let (state, backend_attr, label, note, selftest, webgpu_available) =
        match compute.status.as_ref() {
            ComputeStatus::Starting => (
                "running",
                "",
                lang.t(Text::BackendStarting).to_string(),
                String::new(),
                None,
                true,
            ),
            ComputeStatus::Ready(b) => {
                let (attr, label, note) = match &b.kind {
                    BackendKind::WebGpu {
                        adapter,
                        is_fallback,
                    } => (
                        "webgpu",
                        format!("{} · {adapter}", lang.t(Text::BackendWebGpu)),
                        if *is_fallback {
                            lang.t(Text::SoftwareAdapterForced).to_string()
                        } else {
                            String::new()
                        },
                    ),
                    BackendKind::Cpu { reason } => (
                        "cpu",
                        lang.t(Text::BackendCpu).to_string(),
                        reason_text(&lang, reason),
                    ),
                };
                ("done", attr, label, note, b.selftest_ms, b.webgpu_available)
            }
        };
    let on_cpu = backend_attr == "cpu";
    let on_webgpu = backend_attr == "webgpu";
    let choose = |r: BackendRequest| {
        let set = compute.set_request.clone();
        Callback::from(move |_: MouseEvent| set.emit(r))
    };
    let switch_lang = {
        let set = lang.set.clone();
        let other = lang.lang.other();
        Callback::from(move |_: MouseEvent| set.emit(other))
    };
    let other_lang: Lang = lang.lang.other();

    html! {
        <>
        <header class="topbar">
            <div class="brand">
                <NavLink to={Route::Home} testid="nav-home" class="brand-name">{ "Pretext" }</NavLink>
                <span class="tagline">{ lang.t(Text::Tagline) }</span>
            </div>
            <div class="backend" role="group" aria-label={lang.t(Text::ComputeBackendLabel)}>
                <span class="indicator" data-testid="backend-indicator" data-state={state} data-backend={backend_attr}
                      aria-live="polite">
                    { label }
                </span>
                if let Some(ms) = selftest {
                    <span class="selftest" data-testid="backend-selftest">{ format!("{} {ms:.1} ms", lang.t(Text::SelftestTime)) }</span>
                }
                <button type="button" data-testid="backend-switch-cpu" aria-pressed={on_cpu.to_string()}
                        disabled={on_cpu || state == "running"} onclick={choose(BackendRequest::Cpu)}>
                    { lang.t(Text::UseCpu) }
                </button>
                <button type="button" data-testid="backend-switch-webgpu" aria-pressed={on_webgpu.to_string()}
                        disabled={on_webgpu || !webgpu_available || state == "running"}
                        onclick={choose(BackendRequest::WebGpu)}>
                    { lang.t(Text::UseWebGpu) }
                </button>
            </div>
            <button type="button" class="lang" data-testid="lang-switch" lang={other_lang.tag()} onclick={switch_lang}>
                { lang.t(Text::SwitchLanguage) }
            </button>
        </header>
        if !note.is_empty() {
            <p class="backend-note" data-testid="backend-note" role="status">{ note }</p>
        }
        </>
    }
}

//! "Offline & weights": every served asset with its size and source, a
//! download button each and one for all, so a lecturer can fill the
//! browser cache before class. It is also where the shared loader is seen
//! on its own.

use yew::prelude::*;

use super::app::LangCtx;
use super::i18n::Text;
use super::widgets::{use_asset, LoadProgressView};
use crate::runtime::assets::{format_bytes, package_info, served_assets, ServedAsset};

#[derive(Properties, PartialEq)]
struct AssetRowProps {
    asset: ServedAsset,
    /// Incremented by "Download everything"; each change starts this row.
    start_signal: u32,
}

#[component]
fn AssetRow(props: &AssetRowProps) -> Html {
    let lang = use_context::<LangCtx>().expect("LangCtx");
    let handle = use_asset(AttrValue::from(props.asset.id.clone()));
    {
        let start = handle.start.clone();
        use_effect_with(props.start_signal, move |signal| {
            if *signal > 0 {
                start.emit(());
            }
        });
    }
    let download = {
        let start = handle.start.clone();
        Callback::from(move |_: MouseEvent| start.emit(()))
    };
    let asset = &props.asset;
    let source = package_info(&asset.package)
        .map(|p| format!("{} {} {} · {}", p.registry, p.name, p.version, p.license))
        .unwrap_or_else(|| asset.package.clone());
    html! {
        <li class="asset-row" data-testid="asset-row" data-asset-id={asset.id.clone()}>
            <div class="asset-head">
                <code>{ &asset.id }</code>
                <span class="muted">{ format!(" {} · {source}", format_bytes(asset.bytes)) }</span>
                <button type="button" data-testid="asset-download" onclick={download}>{ lang.t(Text::Download) }</button>
            </div>
            <LoadProgressView handle={handle} />
        </li>
    }
}

#[component]
pub fn AssetsPage() -> Html {
    let lang = use_context::<LangCtx>().expect("LangCtx");
    let start_signal = use_state(|| 0u32);
    let download_all = {
        let start_signal = start_signal.clone();
        Callback::from(move |_: MouseEvent| start_signal.set(*start_signal + 1))
    };
    html! {
        <section class="page assets" data-testid="assets-page">
            <h1>{ lang.t(Text::AssetsTitle) }</h1>
            <p>{ lang.t(Text::AssetsIntro) }</p>
            <button type="button" data-testid="assets-download-all" onclick={download_all}>{ lang.t(Text::DownloadAll) }</button>
            <ul class="asset-list">
                { for served_assets().into_iter().map(|asset| {
                    let key = asset.id.clone();
                    html! { <AssetRow {key} {asset} start_signal={*start_signal} /> }
                }) }
            </ul>
        </section>
    }
}

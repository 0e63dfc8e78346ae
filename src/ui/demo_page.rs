//! A demo's page. Each demo issue replaces the placeholder body with its own
//! component; the route, title and explanation are here from day one.

use yew::prelude::*;

use super::app::{LangCtx, NavLink, Route};
use super::home::Demo;
use super::i18n::Text;

#[derive(Properties, PartialEq)]
pub struct DemoPageProps {
    pub demo: Demo,
}

#[component]
pub fn DemoPage(props: &DemoPageProps) -> Html {
    let lang = use_context::<LangCtx>().expect("LangCtx");
    let demo = props.demo;
    let (kind, modality) = demo.quadrant();
    html! {
        <section class="page demo" data-testid={format!("demo-{}", demo.slug())}>
            <h1>{ demo.name() }</h1>
            <p class="quadrant">{ format!("{} · {}", lang.t(kind), lang.t(modality)) }</p>
            <p>{ lang.t(demo.summary()) }</p>
            <p class="coming-soon" data-testid="coming-soon">{ lang.t(Text::ComingSoon) }</p>
            <NavLink to={Route::Home} testid="back-home">{ "← " }{ lang.t(Text::BackHome) }</NavLink>
        </section>
    }
}

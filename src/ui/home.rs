//! The home page: the seed's map. Rows are generative vs. discriminative,
//! columns vision vs. language; arrows show what inspired what
//! (iGPT ← BERT, SimCSE ← SimCLR).

use yew::prelude::*;

use super::app::{LangCtx, NavLink, Route};
use super::i18n::Text;
use crate::runtime::event_loop::mark;

/// The four demos.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Demo {
    Bert,
    Igpt,
    Simclr,
    Simcse,
}

impl Demo {
    pub fn name(self) -> &'static str {
        match self {
            Demo::Bert => "BERT",
            Demo::Igpt => "iGPT",
            Demo::Simclr => "SimCLR",
            Demo::Simcse => "SimCSE",
        }
    }

    /// Short stable id, used in URLs and `data-testid`s.
    pub fn slug(self) -> &'static str {
        match self {
            Demo::Bert => "bert",
            Demo::Igpt => "igpt",
            Demo::Simclr => "simclr",
            Demo::Simcse => "simcse",
        }
    }

    pub fn route(self) -> Route {
        match self {
            Demo::Bert => Route::Bert,
            Demo::Igpt => Route::Igpt,
            Demo::Simclr => Route::Simclr,
            Demo::Simcse => Route::Simcse,
        }
    }

    pub fn summary(self) -> Text {
        match self {
            Demo::Bert => Text::BertSummary,
            Demo::Igpt => Text::IgptSummary,
            Demo::Simclr => Text::SimclrSummary,
            Demo::Simcse => Text::SimcseSummary,
        }
    }

    /// The demo's cell in the 2×2 map: (generative or discriminative, vision or language).
    pub fn quadrant(self) -> (Text, Text) {
        match self {
            Demo::Bert => (Text::Generative, Text::Language),
            Demo::Igpt => (Text::Generative, Text::Vision),
            Demo::Simclr => (Text::Discriminative, Text::Vision),
            Demo::Simcse => (Text::Discriminative, Text::Language),
        }
    }

    /// The method this one borrowed its idea from, per the seed.
    pub fn inspired_by(self) -> Option<Demo> {
        match self {
            Demo::Igpt => Some(Demo::Bert),
            Demo::Simcse => Some(Demo::Simclr),
            Demo::Bert | Demo::Simclr => None,
        }
    }
}

#[derive(Properties, PartialEq)]
struct CardProps {
    demo: Demo,
}

#[component]
fn Card(props: &CardProps) -> Html {
    let lang = use_context::<LangCtx>().expect("LangCtx");
    let demo = props.demo;
    let (kind, modality) = demo.quadrant();
    html! {
        <article class={classes!("card", demo.slug())} data-testid={format!("card-{}", demo.slug())}>
            <h2>
                <NavLink to={demo.route()} testid={format!("nav-{}", demo.slug())}>{ demo.name() }</NavLink>
            </h2>
            <p class="quadrant">{ format!("{} · {}", lang.t(kind), lang.t(modality)) }</p>
            <p>{ lang.t(demo.summary()) }</p>
            if let Some(source) = demo.inspired_by() {
                <p class="inspired">
                    { "← " }{ lang.t(Text::InspiredBy) }{ " " }
                    <NavLink to={source.route()} testid={format!("inspired-{}-{}", demo.slug(), source.slug())}>
                        { source.name() }
                    </NavLink>
                </p>
            }
            <NavLink to={demo.route()} testid={format!("open-{}", demo.slug())} class="open">
                { lang.t(Text::OpenDemo) }{ " →" }
            </NavLink>
        </article>
    }
}

#[component]
pub fn Home() -> Html {
    let lang = use_context::<LangCtx>().expect("LangCtx");
    use_effect_with((), |_| mark("pretext:map"));
    html! {
        <section class="page home" data-testid="home">
            <p class="intro">{ lang.t(Text::HomeIntro) }</p>
            <div class="map" data-testid="home-grid">
                <div class="axis corner"></div>
                <div class="axis col">{ lang.t(Text::Vision) }</div>
                <div class="axis col">{ lang.t(Text::Language) }</div>
                <div class="axis row">{ lang.t(Text::Generative) }</div>
                <Card demo={Demo::Igpt} />
                <Card demo={Demo::Bert} />
                <div class="axis row">{ lang.t(Text::Discriminative) }</div>
                <Card demo={Demo::Simclr} />
                <Card demo={Demo::Simcse} />
            </div>
        </section>
    }
}

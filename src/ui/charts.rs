//! Shared widgets for live training: the loss plot, the similarity heatmap and
//! a canvas that shows a picture from raw pixels. Every demo that trains uses
//! these, so they look and test the same everywhere.

use std::rc::Rc;

use wasm_bindgen::{Clamped, JsCast};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct LossPlotProps {
    /// `(step, loss)` points in order.
    pub points: Rc<Vec<(usize, f32)>>,
    pub testid: AttrValue,
    #[prop_or_default]
    pub state: AttrValue,
}

/// Loss against step: every step a dot, an exponential moving average as the
/// smooth line (as TensorBoard's smoothing), axes labelled with the range.
#[component]
pub fn LossPlot(props: &LossPlotProps) -> Html {
    let (w, h, pad) = (420.0f32, 170.0f32, 34.0f32);
    let points = &props.points;
    let finite: Vec<f32> = points
        .iter()
        .map(|p| p.1)
        .filter(|v| v.is_finite())
        .collect();
    let (lo, hi) = finite
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let (lo, hi) = if finite.is_empty() {
        (0.0, 1.0)
    } else if hi - lo < 1e-6 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let last_step = points.last().map(|p| p.0).unwrap_or(1).max(1);
    let first_step = points.first().map(|p| p.0).unwrap_or(0);
    let span = (last_step - first_step).max(1) as f32;
    let x = |s: usize| pad + (s - first_step) as f32 / span * (w - pad - 8.0);
    let y = |v: f32| 8.0 + (hi - v) / (hi - lo) * (h - pad - 8.0);
    let mut smooth = None::<f32>;
    let line: Vec<String> = points
        .iter()
        .filter(|p| p.1.is_finite())
        .map(|&(s, v)| {
            let m = smooth.map_or(v, |m| 0.8 * m + 0.2 * v);
            smooth = Some(m);
            format!("{:.1},{:.1}", x(s), y(m))
        })
        .collect();
    html! {
        <svg class="loss-plot" data-testid={props.testid.clone()} data-state={props.state.clone()}
             data-points={points.len().to_string()} viewBox={format!("0 0 {w} {h}")} role="img"
             aria-label="loss per training step">
            <line class="axis" x1={pad.to_string()} y1={(h - pad).to_string()} x2={(w - 8.0).to_string()} y2={(h - pad).to_string()} />
            <line class="axis" x1={pad.to_string()} y1="8" x2={pad.to_string()} y2={(h - pad).to_string()} />
            <text class="tick" x="2" y="14">{ format!("{hi:.2}") }</text>
            <text class="tick" x="2" y={(h - pad).to_string()}>{ format!("{lo:.2}") }</text>
            <text class="tick" x={pad.to_string()} y={(h - pad + 16.0).to_string()}>{ format!("step {first_step}") }</text>
            <text class="tick" x={(w - 70.0).to_string()} y={(h - pad + 16.0).to_string()}>{ format!("step {last_step}") }</text>
            { for points.iter().filter(|p| p.1.is_finite()).map(|&(s, v)| html! {
                <circle class="loss-point" cx={format!("{:.1}", x(s))} cy={format!("{:.1}", y(v))} r="1.8"
                        data-step={s.to_string()} data-loss={v.to_string()}>
                    <title>{ format!("step {s}: {v:.4}") }</title>
                </circle>
            }) }
            if line.len() > 1 {
                <polyline class="loss-smooth" points={line.join(" ")} />
            }
        </svg>
    }
}

/// Draws RGBA bytes into a canvas after render.
pub fn paint(canvas: &NodeRef, rgba: &[u8], width: u32, height: u32) {
    let Some(canvas) = canvas.cast::<web_sys::HtmlCanvasElement>() else {
        return;
    };
    canvas.set_width(width);
    canvas.set_height(height);
    let Some(ctx) = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    if let Ok(data) =
        web_sys::ImageData::new_with_u8_clamped_array_and_sh(Clamped(rgba), width, height)
    {
        let _ = ctx.put_image_data(&data, 0.0, 0.0);
    }
}

#[derive(Properties, PartialEq)]
pub struct PixelCanvasProps {
    pub rgba: Rc<Vec<u8>>,
    pub size: u32,
    #[prop_or_default]
    pub class: Classes,
    #[prop_or_default]
    pub title: AttrValue,
    #[prop_or_default]
    pub testid: AttrValue,
}

/// A square picture from RGBA bytes (scaled up by CSS, pixelated).
#[component]
pub fn PixelCanvas(props: &PixelCanvasProps) -> Html {
    let node = use_node_ref();
    {
        let node = node.clone();
        use_effect_with((props.rgba.clone(), props.size), move |(rgba, size)| {
            paint(&node, rgba, *size, *size);
        });
    }
    html! {
        <canvas ref={node} class={classes!("pixels", props.class.clone())} title={props.title.clone()}
                data-testid={(!props.testid.is_empty()).then(|| props.testid.clone())} />
    }
}

#[derive(Properties, PartialEq)]
pub struct HeatmapProps {
    /// `n`×`n` values in [-1, 1], row-major.
    pub values: Rc<Vec<f32>>,
    pub n: usize,
    /// Cells to outline (e.g. the positive pairs).
    #[prop_or_default]
    pub marked: Rc<Vec<(usize, usize)>>,
    pub testid: AttrValue,
    #[prop_or_default]
    pub describe: Option<Callback<(usize, usize, f32), String>>,
    /// When set (and n ≤ [`MAX_CELL_ELEMENTS`]), every cell is also an element
    /// `<prefix>-<i>-<j>` with `data-value`, for tests and screen readers.
    #[prop_or_default]
    pub cell_testid: Option<AttrValue>,
}

/// Above this many rows the cells are only pixels (n² elements would slow
/// the page more than they help).
pub const MAX_CELL_ELEMENTS: usize = 40;

/// Diverging colour for a cosine similarity: blue (−1) · white (0) · red (+1).
pub fn diverging(v: f32) -> [u8; 3] {
    let v = v.clamp(-1.0, 1.0);
    let fade = |t: f32| (255.0 * (1.0 - t)).round() as u8;
    if v >= 0.0 {
        [255, fade(v), fade(v)]
    } else {
        [fade(-v), fade(-v), 255]
    }
}

/// An n×n matrix as a heatmap; hovering a cell shows its value.
#[component]
pub fn Heatmap(props: &HeatmapProps) -> Html {
    let node = use_node_ref();
    let hover = use_state(|| None::<(usize, usize)>);
    {
        let node = node.clone();
        let marked = props.marked.clone();
        use_effect_with((props.values.clone(), props.n), move |(values, n)| {
            let n = *n;
            // Six pixels a cell, fewer for long lists (a 500-sentence map
            // would otherwise be a 3000-pixel canvas).
            let cell = (600 / n.max(1)).clamp(1, 6);
            let side = (n * cell) as u32;
            let mut rgba = vec![0u8; (side * side * 4) as usize];
            for i in 0..n {
                for j in 0..n {
                    let colour = diverging(values.get(i * n + j).copied().unwrap_or(0.0));
                    let outline = cell >= 3 && marked.contains(&(i, j));
                    for dy in 0..cell {
                        for dx in 0..cell {
                            let edge = dx == 0 || dy == 0 || dx == cell - 1 || dy == cell - 1;
                            let p = ((i * cell + dy) * n * cell + j * cell + dx) * 4;
                            let c = if outline && edge { [0, 0, 0] } else { colour };
                            rgba[p..p + 3].copy_from_slice(&c);
                            rgba[p + 3] = 255;
                        }
                    }
                }
            }
            paint(&node, &rgba, side, side);
        });
    }
    let onmousemove = {
        let (node, hover, n) = (node.clone(), hover.clone(), props.n);
        Callback::from(move |e: MouseEvent| {
            if let Some(el) = node.cast::<web_sys::Element>() {
                let rect = el.get_bounding_client_rect();
                let fx = (e.client_x() as f64 - rect.left()) / rect.width().max(1.0);
                let fy = (e.client_y() as f64 - rect.top()) / rect.height().max(1.0);
                let (i, j) = ((fy * n as f64) as usize, (fx * n as f64) as usize);
                hover.set((i < n && j < n).then_some((i, j)));
            }
        })
    };
    let onmouseleave = {
        let hover = hover.clone();
        Callback::from(move |_| hover.set(None))
    };
    let readout = match *hover {
        Some((i, j)) => {
            let v = props
                .values
                .get(i * props.n + j)
                .copied()
                .unwrap_or(f32::NAN);
            match &props.describe {
                Some(describe) => describe.emit((i, j, v)),
                None => format!("({i}, {j}): {v:.3}"),
            }
        }
        None => "\u{a0}".to_string(),
    };
    let n = props.n;
    let cells = match &props.cell_testid {
        Some(prefix) if n <= MAX_CELL_ELEMENTS => html! {
            <div class="heatmap-cells" style={format!("grid-template-columns: repeat({n}, 1fr);")} aria-hidden="true">
                { for (0..n * n).map(|k| {
                    let (i, j) = (k / n, k % n);
                    let v = props.values.get(k).copied().unwrap_or(f32::NAN);
                    html! { <span data-testid={format!("{prefix}-{i}-{j}")} data-value={v.to_string()}></span> }
                }) }
            </div>
        },
        _ => html! {},
    };
    html! {
        <figure class="heatmap" data-testid={props.testid.clone()} data-n={props.n.to_string()}>
            <div class="heatmap-box" {onmousemove} {onmouseleave}>
                <canvas ref={node} class="pixels" />
                { cells }
            </div>
            <figcaption class="heatmap-readout" aria-live="polite">{ readout }</figcaption>
        </figure>
    }
}

#[derive(Properties, PartialEq)]
pub struct AlignUniformProps {
    /// Labelled reference points: `(label, alignment, uniformity)`.
    pub references: Rc<Vec<(String, f64, f64)>>,
    /// The run in progress: `(step, alignment, uniformity)` in order.
    pub trajectory: Rc<Vec<(usize, f64, f64)>>,
    pub testid: AttrValue,
    #[prop_or_default]
    pub state: AttrValue,
}

/// The SimCSE paper's Figure 2 (after Wang & Isola 2020): uniformity on x,
/// alignment on y, lower-left is better; reference encoders as labelled
/// squares, the training run as a path whose dots are steps.
#[component]
pub fn AlignUniformPlot(props: &AlignUniformProps) -> Html {
    let (w, h, pad) = (420.0f64, 240.0f64, 40.0f64);
    let all: Vec<(f64, f64)> = props
        .references
        .iter()
        .map(|r| (r.2, r.1))
        .chain(props.trajectory.iter().map(|p| (p.2, p.1)))
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    let range = |values: Vec<f64>| {
        let lo = values.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if !lo.is_finite() {
            (0.0, 1.0)
        } else if hi - lo < 1e-6 {
            (lo - 0.05, hi + 0.05)
        } else {
            let margin = 0.08 * (hi - lo);
            (lo - margin, hi + margin)
        }
    };
    let (ulo, uhi) = range(all.iter().map(|p| p.0).collect());
    let (alo, ahi) = range(all.iter().map(|p| p.1).collect());
    let x = |u: f64| pad + (u - ulo) / (uhi - ulo) * (w - pad - 10.0);
    let y = |a: f64| 10.0 + (ahi - a) / (ahi - alo) * (h - pad - 10.0);
    let path: Vec<String> = props
        .trajectory
        .iter()
        .filter(|p| p.1.is_finite() && p.2.is_finite())
        .map(|p| format!("{:.1},{:.1}", x(p.2), y(p.1)))
        .collect();
    html! {
        <svg class="align-uniform" data-testid={props.testid.clone()} data-state={props.state.clone()}
             data-points={props.trajectory.len().to_string()} data-references={props.references.len().to_string()}
             viewBox={format!("0 0 {w} {h}")} role="img" aria-label="alignment against uniformity">
            <line class="axis" x1={pad.to_string()} y1={(h - pad).to_string()} x2={(w - 10.0).to_string()} y2={(h - pad).to_string()} />
            <line class="axis" x1={pad.to_string()} y1="10" x2={pad.to_string()} y2={(h - pad).to_string()} />
            <text class="tick" x={pad.to_string()} y={(h - pad + 14.0).to_string()}>{ format!("{ulo:.2}") }</text>
            <text class="tick" x={(w - 44.0).to_string()} y={(h - pad + 14.0).to_string()}>{ format!("{uhi:.2}") }</text>
            <text class="tick" x="2" y="18">{ format!("{ahi:.2}") }</text>
            <text class="tick" x="2" y={(h - pad).to_string()}>{ format!("{alo:.2}") }</text>
            <text class="axis-label" x={(w / 2.0 - 60.0).to_string()} y={(h - 6.0).to_string()}>{ "uniformity (lower: spread out) →" }</text>
            <text class="axis-label" x="4" y={(h - pad + 28.0).to_string()}>{ "↑ alignment" }</text>
            if path.len() > 1 {
                <polyline class="trajectory" points={path.join(" ")} />
            }
            { for props.trajectory.iter().filter(|p| p.1.is_finite() && p.2.is_finite()).map(|&(step, a, u)| html! {
                <circle class="trajectory-point" cx={format!("{:.1}", x(u))} cy={format!("{:.1}", y(a))} r="3"
                        data-step={step.to_string()} data-align={a.to_string()} data-uniform={u.to_string()}>
                    <title>{ format!("step {step}: align {a:.3}, uniform {u:.3}") }</title>
                </circle>
            }) }
            { for props.references.iter().filter(|r| r.1.is_finite() && r.2.is_finite()).map(|(label, a, u)| html! {
                <g class="reference">
                    <rect x={format!("{:.1}", x(*u) - 4.0)} y={format!("{:.1}", y(*a) - 4.0)} width="8" height="8">
                        <title>{ format!("{label}: align {a:.3}, uniform {u:.3}") }</title>
                    </rect>
                    <text class="tick" x={format!("{:.1}", (x(*u) + 6.0).min(w - 120.0))} y={format!("{:.1}", y(*a) - 6.0)}>{ label.clone() }</text>
                </g>
            }) }
        </svg>
    }
}

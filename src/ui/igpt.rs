//! The iGPT demo (/igpt): an image → resized → palette-quantized → read as a
//! 1-D sequence; the next-pixel model completes the masked part pixel by
//! pixel (4 samples, drawn as they are generated), the masked-pixel model
//! fills it most-confident-first, and a linear probe measures the features.
//! The models and their sampling are `crate::model::{igpt, igpt_sampling,
//! palette, probe}`; this file only wires them to the page.

use std::cell::Cell;
use std::rc::Rc;

use burn::tensor::Device;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use super::app::{location_search, set_query_param, ComputeCtx, ComputeStatus, LangCtx};
use super::charts::paint;
use super::i18n::Text;
use super::widgets::{params_text, Phase};
use crate::model::igpt::{load_igpt, shifted_inputs, token_tensor, LoadedIgpt};
use crate::model::igpt_sampling::{Completion, MaskedFill, SamplingSettings};
use crate::model::palette::downsample;
use crate::model::probe::RidgeProbe;
use crate::model::simclr::read_f32;
use crate::runtime::event_loop::{now_ms, yield_now};
use crate::runtime::images::decode_square;
use crate::runtime::loader::{load_asset, Progress};

/// The project's trained models (examples/train_igpt.rs; `make train-igpt`).
/// Small (f16, ~0.4 MB each), so they ship inside the app.
static NEXT_WEIGHTS: &[u8] = include_bytes!("../../weights/igpt-next.safetensors");
static MASKED_WEIGHTS: &[u8] = include_bytes!("../../weights/igpt-masked.safetensors");

const SOURCE: usize = 28;
const SAMPLES: usize = 4;
/// Gallery: this many Fashion-MNIST test images, then the 30 MNIST digits.
const FASHION_SHOWN: usize = 24;
const FASHION_ASSET: &str = "igpt/fashion-mnist-test-1000.u8";
const LABELS_ASSET: &str = "igpt/fashion-mnist-test-1000-labels.u8";
const MNIST_ASSET: &str = "samples/mnist-digits-30.u8";
/// Linear probe: fit on the first 2/3 of this many labelled test images, score on the rest
/// (`?probe=` changes it).
const PROBE_IMAGES: usize = 600;
/// Rounds of the masked-pixel model's most-confident-first filling.
const FILL_ROUNDS: usize = 12;
const CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum MaskKind {
    Bottom,
    Right,
    Brush,
    None,
}

impl MaskKind {
    fn key(self) -> &'static str {
        match self {
            MaskKind::Bottom => "bottom",
            MaskKind::Right => "right",
            MaskKind::Brush => "brush",
            MaskKind::None => "none",
        }
    }

    fn from_key(key: &str) -> Option<Self> {
        [
            MaskKind::Bottom,
            MaskKind::Right,
            MaskKind::Brush,
            MaskKind::None,
        ]
        .into_iter()
        .find(|m| m.key() == key)
    }

    fn cells(self, side: usize, brush: &[bool]) -> Vec<bool> {
        (0..side * side)
            .map(|p| match self {
                MaskKind::Bottom => p / side >= side / 2,
                MaskKind::Right => p % side >= side / 2,
                MaskKind::Brush => brush.get(p).copied().unwrap_or(false),
                MaskKind::None => false,
            })
            .collect()
    }
}

/// The page's settings, mirrored in the URL so a lecturer can link a setup.
#[derive(Clone, PartialEq, Debug)]
struct Settings {
    image: usize,
    mask: MaskKind,
    brush: Vec<bool>,
    temperature: f32,
    top_k: usize,
    seed: u64,
    masked_mode: bool,
    /// Decode with the KV cache (off only to compare speeds).
    kv_cache: bool,
    /// Labelled images the linear probe uses (2/3 fit, 1/3 test).
    probe_images: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            image: 0,
            mask: MaskKind::Bottom,
            brush: vec![false; 196],
            temperature: 1.0,
            top_k: 0,
            seed: 1,
            masked_mode: true,
            kv_cache: true,
            probe_images: PROBE_IMAGES,
        }
    }
}

impl Settings {
    fn from_query(search: &str) -> Self {
        let mut s = Self::default();
        let Ok(params) = web_sys::UrlSearchParams::new_with_str(search) else {
            return s;
        };
        if let Some(v) = params.get("img").and_then(|v| v.parse().ok()) {
            s.image = v;
        }
        if let Some(m) = params.get("mask").and_then(|v| MaskKind::from_key(&v)) {
            s.mask = m;
        }
        if let Some(bits) = params.get("brush") {
            s.brush = hex_to_bits(&bits, 196);
        }
        if let Some(v) = params.get("t").and_then(|v| v.parse::<f32>().ok()) {
            s.temperature = v.clamp(0.1, 2.0);
        }
        if let Some(v) = params.get("k").and_then(|v| v.parse().ok()) {
            s.top_k = v;
        }
        if let Some(v) = params.get("seed").and_then(|v| v.parse().ok()) {
            s.seed = v;
        }
        if let Some(v) = params.get("both") {
            s.masked_mode = v != "0";
        }
        if let Some(v) = params.get("probe").and_then(|v| v.parse::<usize>().ok()) {
            s.probe_images = v.clamp(30, 1000);
        }
        if let Some(v) = params.get("cache") {
            s.kv_cache = v != "0";
        }
        s
    }

    fn write_query(&self) {
        set_query_param("img", Some(&self.image.to_string()));
        set_query_param("mask", Some(self.mask.key()));
        let brush = (self.mask == MaskKind::Brush).then(|| bits_to_hex(&self.brush));
        set_query_param("brush", brush.as_deref());
        set_query_param("t", Some(&format!("{:.2}", self.temperature)));
        set_query_param("k", Some(&self.top_k.to_string()));
        set_query_param("seed", Some(&self.seed.to_string()));
        set_query_param("both", Some(if self.masked_mode { "1" } else { "0" }));
        set_query_param("cache", (!self.kv_cache).then_some("0"));
    }
}

fn bits_to_hex(bits: &[bool]) -> String {
    bits.chunks(4)
        .map(|c| {
            let v = c
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, &b)| acc | ((b as u32) << i));
            char::from_digit(v, 16).unwrap_or('0')
        })
        .collect()
}

fn hex_to_bits(hex: &str, n: usize) -> Vec<bool> {
    let mut bits = Vec::with_capacity(n);
    for c in hex.chars() {
        let v = c.to_digit(16).unwrap_or(0);
        for i in 0..4 {
            bits.push(v & (1 << i) != 0);
        }
    }
    bits.resize(n, false);
    bits
}

/// Both models on the current device.
struct Models {
    next: LoadedIgpt,
    masked: LoadedIgpt,
    generation: u32,
}

/// One row of generated images (next-pixel or masked-pixel model).
#[derive(Clone, PartialEq, Default)]
struct SampleRow {
    tokens: Rc<Vec<Vec<u8>>>,
    /// Still to be generated (drawn hatched).
    pending: Rc<Vec<Vec<bool>>>,
    distributions: Rc<Vec<Vec<Option<Vec<f32>>>>>,
}

#[derive(Clone, PartialEq, Default)]
struct PageState {
    gallery: Rc<Vec<(String, Vec<u8>)>>,
    gallery_phase: Phase,
    gallery_progress: Option<Progress>,
    source: Rc<Vec<u8>>,
    source_name: String,
    upload_error: Option<String>,
    next_row: SampleRow,
    masked_row: SampleRow,
    position: Option<usize>,
    generation: Phase,
    generation_note: Option<String>,
    generation_error: Option<String>,
    ms_per_pixel: Option<f64>,
    probe: Phase,
    probe_progress: Option<String>,
    probe_rows: Rc<Vec<(String, f64)>>,
    probe_error: Option<String>,
}

enum Action {
    GalleryProgress(Progress),
    Gallery(Vec<(String, Vec<u8>)>),
    GalleryFailed(String),
    Source(String, Vec<u8>),
    UploadFailed(String),
    Generating(Option<String>),
    Rows {
        next: SampleRow,
        masked: SampleRow,
        position: Option<usize>,
        ms_per_pixel: Option<f64>,
    },
    Generated,
    GenerationFailed(String),
    Stopped,
    ProbeProgress(String),
    Probed(Vec<(String, f64)>),
    ProbeFailed(String),
}

impl Reducible for PageState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = (*self).clone();
        match action {
            Action::GalleryProgress(p) => {
                s.gallery_phase = Phase::Running;
                s.gallery_progress = Some(p);
            }
            Action::Gallery(items) => {
                s.gallery = Rc::new(items);
                s.gallery_phase = Phase::Done;
            }
            Action::GalleryFailed(e) => {
                s.gallery_phase = Phase::Error;
                s.upload_error = Some(e);
            }
            Action::Source(name, pixels) => {
                s.source_name = name;
                s.source = Rc::new(pixels);
                s.upload_error = None;
            }
            Action::UploadFailed(e) => s.upload_error = Some(e),
            Action::Generating(note) => {
                s.generation = Phase::Running;
                s.generation_note = note;
                s.generation_error = None;
                s.ms_per_pixel = None;
            }
            Action::Rows {
                next,
                masked,
                position,
                ms_per_pixel,
            } => {
                s.next_row = next;
                s.masked_row = masked;
                s.position = position;
                if ms_per_pixel.is_some() {
                    s.ms_per_pixel = ms_per_pixel;
                }
            }
            Action::Generated => {
                s.generation = Phase::Done;
                s.position = None;
            }
            Action::GenerationFailed(e) => {
                s.generation = Phase::Error;
                s.generation_error = Some(e);
                s.position = None;
            }
            Action::Stopped => {
                if s.generation == Phase::Running {
                    s.generation = Phase::Idle;
                }
                s.position = None;
            }
            Action::ProbeProgress(p) => {
                s.probe = Phase::Running;
                s.probe_progress = Some(p);
                s.probe_error = None;
            }
            Action::Probed(rows) => {
                s.probe = Phase::Done;
                s.probe_rows = Rc::new(rows);
                s.probe_progress = None;
            }
            Action::ProbeFailed(e) => {
                s.probe = Phase::Error;
                s.probe_error = Some(e);
                s.probe_progress = None;
            }
        }
        Rc::new(s)
    }
}

fn models_for(
    slot: &Rc<std::cell::RefCell<Option<Rc<Models>>>>,
    device: &Device,
    generation: u32,
) -> Result<Rc<Models>, String> {
    if let Some(m) = slot.borrow().as_ref() {
        if m.generation == generation {
            return Ok(m.clone());
        }
    }
    let next = load_igpt(NEXT_WEIGHTS, device).map_err(|e| format!("next-pixel model: {e}"))?;
    let masked =
        load_igpt(MASKED_WEIGHTS, device).map_err(|e| format!("masked-pixel model: {e}"))?;
    let models = Rc::new(Models {
        next,
        masked,
        generation,
    });
    *slot.borrow_mut() = Some(models.clone());
    Ok(models)
}

/// 14×14 palette indices of a 28×28 grey image.
fn quantized(models: &Models, source: &[u8]) -> Vec<u8> {
    let side = models.next.config.side;
    models
        .next
        .palette
        .quantize(&downsample(source, SOURCE, SOURCE / side))
}

fn grey_rgba(grey: &[u8]) -> Vec<u8> {
    grey.iter().flat_map(|&g| [g, g, g, 255]).collect()
}

/// Palette colours; masked cells tinted red (input) or hatched (still pending).
fn tokens_rgba(
    models: &Models,
    tokens: &[u8],
    tint: Option<&[bool]>,
    pending: Option<&[bool]>,
    side: usize,
) -> Vec<u8> {
    let levels = &models.next.palette.levels;
    let mut out = Vec::with_capacity(tokens.len() * 4);
    for (p, &t) in tokens.iter().enumerate() {
        let g = levels.get(t as usize).copied().unwrap_or(0.0).round() as u8;
        let (x, y) = (p % side, p / side);
        if pending.is_some_and(|m| m[p]) {
            let hatch = if (x + y) % 2 == 0 { 90 } else { 50 };
            out.extend([hatch, hatch / 2, hatch / 2, 255]);
        } else if tint.is_some_and(|m| m[p]) {
            out.extend([g / 2 + 110, g / 3, g / 3, 255]);
        } else {
            out.extend([g, g, g, 255]);
        }
    }
    out
}

fn tokens_attr(tokens: &[u8]) -> String {
    tokens
        .iter()
        .map(|t| char::from_digit(*t as u32, 36).unwrap_or('?'))
        .collect()
}

fn sample_row(
    tokens: Vec<Vec<u8>>,
    pending: Vec<Vec<bool>>,
    distributions: Vec<Vec<Option<Vec<f32>>>>,
) -> SampleRow {
    SampleRow {
        tokens: Rc::new(tokens),
        pending: Rc::new(pending),
        distributions: Rc::new(distributions),
    }
}

fn pointer_cell(e: &MouseEvent, side: usize) -> Option<usize> {
    let el: web_sys::Element = e.target()?.dyn_into().ok()?;
    let rect = el.get_bounding_client_rect();
    let fx = (e.client_x() as f64 - rect.left()) / rect.width().max(1.0);
    let fy = (e.client_y() as f64 - rect.top()) / rect.height().max(1.0);
    if !(0.0..1.0).contains(&fx) || !(0.0..1.0).contains(&fy) {
        return None;
    }
    Some((fy * side as f64) as usize * side + (fx * side as f64) as usize)
}

/// Paints a soft round brush of white into a 28×28 grey image.
fn brush_stroke(pixels: &mut [u8], cell: usize) {
    let (cx, cy) = ((cell % SOURCE) as f32, (cell / SOURCE) as f32);
    for y in 0..SOURCE {
        for x in 0..SOURCE {
            let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
            let v = (255.0 * (1.0 - (d - 1.0).max(0.0) / 1.2)).clamp(0.0, 255.0) as u8;
            let p = &mut pixels[y * SOURCE + x];
            *p = (*p).max(v);
        }
    }
}

async fn load_gallery(
    dispatch: UseReducerDispatcher<PageState>,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let report = {
        let dispatch = dispatch.clone();
        move |p: Progress| dispatch.dispatch(Action::GalleryProgress(p))
    };
    let fashion = load_asset(FASHION_ASSET, &report)
        .await
        .map_err(|e| format!("{FASHION_ASSET}: {e:?}"))?;
    let labels = load_asset(LABELS_ASSET, &report)
        .await
        .map_err(|e| format!("{LABELS_ASSET}: {e:?}"))?;
    let mnist = load_asset(MNIST_ASSET, &report)
        .await
        .map_err(|e| format!("{MNIST_ASSET}: {e:?}"))?;
    let mut items = Vec::new();
    for (i, pixels) in fashion
        .bytes
        .chunks_exact(SOURCE * SOURCE)
        .take(FASHION_SHOWN)
        .enumerate()
    {
        let class = CLASSES
            .get(labels.bytes[i] as usize)
            .copied()
            .unwrap_or("?");
        items.push((
            format!("Fashion-MNIST test #{i} ({class})"),
            pixels.to_vec(),
        ));
    }
    for (i, pixels) in mnist.bytes.chunks_exact(SOURCE * SOURCE).enumerate() {
        items.push((format!("MNIST digit {}", i / 3), pixels.to_vec()));
    }
    Ok(items)
}

/// Runs the completion (and the masked fill), updating the page after every
/// pixel; stops when `token` no longer equals `mine`.
#[allow(clippy::too_many_arguments)]
async fn generate(
    models: Rc<Models>,
    device: Device,
    image: Vec<u8>,
    mask: Vec<bool>,
    settings: SamplingSettings,
    masked_mode: bool,
    kv_cache: bool,
    dispatch: UseReducerDispatcher<PageState>,
    token: Rc<Cell<u64>>,
    mine: u64,
) -> Result<bool, String> {
    let palette = models.next.config.palette_size;
    let empty_row = SampleRow::default();
    let mut completion = Completion::new(
        &models.next.model,
        &image,
        &mask,
        settings,
        palette,
        kv_cache,
        &device,
    );
    let started = now_ms();
    let mut generated = 0usize;
    let pending = |done_upto: Option<usize>| -> Vec<Vec<bool>> {
        let row: Vec<bool> = mask
            .iter()
            .enumerate()
            .map(|(p, &m)| m && done_upto.is_none_or(|d| p >= d))
            .collect();
        vec![row; settings.samples]
    };
    dispatch.dispatch(Action::Rows {
        next: sample_row(
            completion.tokens.clone(),
            pending(Some(0)),
            completion.distributions.clone(),
        ),
        masked: empty_row.clone(),
        position: Some(completion.position()),
        ms_per_pixel: None,
    });
    while !completion.is_done() {
        if token.get() != mine {
            return Ok(false);
        }
        completion.step().await?;
        if token.get() != mine {
            // Stopped while this pixel was computed: show nothing more.
            return Ok(false);
        }
        generated += 1;
        let ms = (now_ms() - started) / generated as f64;
        dispatch.dispatch(Action::Rows {
            next: sample_row(
                completion.tokens.clone(),
                pending(Some(completion.position())),
                completion.distributions.clone(),
            ),
            masked: empty_row.clone(),
            position: (!completion.is_done()).then(|| completion.position()),
            ms_per_pixel: Some(ms),
        });
        // Let the browser paint and handle input between pixels.
        yield_now().await;
    }
    let next_row = sample_row(
        completion.tokens.clone(),
        pending(None),
        completion.distributions.clone(),
    );
    if masked_mode {
        let mut fill = MaskedFill::new(
            &models.masked.model,
            &image,
            &mask,
            settings,
            palette,
            FILL_ROUNDS,
            &device,
        );
        while !fill.is_done() {
            if token.get() != mine {
                return Ok(false);
            }
            fill.step().await?;
            if token.get() != mine {
                return Ok(false);
            }
            let pending: Vec<Vec<bool>> = (0..settings.samples)
                .map(|s| (0..mask.len()).map(|p| fill.is_masked(s, p)).collect())
                .collect();
            let shown: Vec<Vec<u8>> = fill
                .tokens
                .iter()
                .map(|t| t.iter().map(|&x| x.min(palette as u8 - 1)).collect())
                .collect();
            dispatch.dispatch(Action::Rows {
                next: next_row.clone(),
                masked: sample_row(shown, pending, fill.distributions.clone()),
                position: None,
                ms_per_pixel: None,
            });
            yield_now().await;
        }
    }
    Ok(true)
}

/// Features of the probe images: raw pixels, then each layer of both models.
async fn run_probe(
    models: Rc<Models>,
    device: Device,
    n: usize,
    dispatch: UseReducerDispatcher<PageState>,
) -> Result<Vec<(String, f64)>, String> {
    let fashion = load_asset(FASHION_ASSET, &|_| {})
        .await
        .map_err(|e| format!("{e:?}"))?;
    let labels = load_asset(LABELS_ASSET, &|_| {})
        .await
        .map_err(|e| format!("{e:?}"))?;
    let fit = n * 2 / 3;
    let images: Vec<Vec<u8>> = fashion
        .bytes
        .chunks_exact(SOURCE * SOURCE)
        .take(n)
        .map(|px| quantized(&models, px))
        .collect();
    let labels: Vec<usize> = labels.bytes.iter().take(n).map(|&l| l as usize).collect();
    let palette = &models.next.palette;
    let t = models.next.config.seq_len();

    let mut rows = Vec::new();
    let score = |features: &[f32], dim: usize| -> f64 {
        let probe = RidgeProbe::fit(&features[..fit * dim], dim, &labels[..fit], 10);
        probe.accuracy(&features[fit * dim..], &labels[fit..])
    };
    let raw: Vec<f32> = images
        .iter()
        .flat_map(|img| palette.dequantize(img))
        .map(|g| g as f32 / 255.0)
        .collect();
    rows.push(("raw pixels (14×14, quantized)".to_string(), score(&raw, t)));

    for (name, loaded) in [
        ("next-pixel model", &models.next),
        ("masked-pixel model", &models.masked),
    ] {
        let layers = loaded.config.n_layers;
        let d = loaded.config.d_model;
        let mut per_layer: Vec<Vec<f32>> = vec![Vec::with_capacity(n * d); layers];
        for (c, chunk) in images.chunks(50).enumerate() {
            dispatch.dispatch(Action::ProbeProgress(format!(
                "{name}: images {}–{} of {n}",
                c * 50 + 1,
                c * 50 + chunk.len()
            )));
            yield_now().await;
            let inputs: Vec<i64> = chunk
                .iter()
                .flat_map(|img| {
                    if loaded.config.causal {
                        shifted_inputs(img, loaded.config.special_token())
                    } else {
                        img.iter().map(|&x| x as i64).collect()
                    }
                })
                .collect();
            let inputs = token_tensor(inputs, chunk.len(), &device);
            for (l, features) in loaded
                .model
                .pooled_features_per_layer(inputs)
                .into_iter()
                .enumerate()
            {
                per_layer[l].extend(read_f32(features).await.map_err(|e| e.to_string())?);
            }
        }
        for (l, features) in per_layer.iter().enumerate() {
            rows.push((
                format!("{name}, layer {} of {layers}", l + 1),
                score(features, d),
            ));
        }
    }
    Ok(rows)
}

#[component]
pub fn IgptDemo() -> Html {
    let lang = use_context::<LangCtx>().expect("LangCtx");
    let compute = use_context::<ComputeCtx>().expect("ComputeCtx");
    let state = use_reducer(PageState::default);
    let settings = use_state(|| Settings::from_query(&location_search()));
    let models = use_mut_ref(|| None::<Rc<Models>>);
    // Bumped to stop a running generation (Stop, a new run, leaving the page).
    let run_token: Rc<Cell<u64>> = (*use_memo((), |_| Rc::new(Cell::new(0u64)))).clone();
    let drawing = use_mut_ref(|| false);
    let hover = use_state(|| None::<(bool, usize, usize)>);

    let device: Option<Device> = match &*compute.status {
        ComputeStatus::Ready(backend) => Some(backend.device.clone()),
        ComputeStatus::Starting => None,
    };
    let loaded: Option<Result<Rc<Models>, String>> = device
        .as_ref()
        .map(|d| models_for(&models, d, compute.generation));

    // The gallery loads once, with progress; the URL's image is then selected.
    {
        let (dispatch, settings) = (state.dispatcher(), settings.clone());
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                match load_gallery(dispatch.clone()).await {
                    Ok(items) => {
                        let i = settings.image.min(items.len().saturating_sub(1));
                        if let Some((name, pixels)) = items.get(i) {
                            dispatch.dispatch(Action::Source(name.clone(), pixels.clone()));
                        }
                        dispatch.dispatch(Action::Gallery(items));
                    }
                    Err(e) => dispatch.dispatch(Action::GalleryFailed(e)),
                }
            });
        });
    }
    // A device change or leaving the page stops generation.
    {
        let (token, dispatch) = (run_token.clone(), state.dispatcher());
        use_effect_with(compute.generation, move |_| {
            token.set(token.get() + 1);
            dispatch.dispatch(Action::Stopped);
        });
    }
    {
        let token = run_token.clone();
        use_effect_with((), move |_| move || token.set(token.get() + 1));
    }
    {
        use_effect_with((*settings).clone(), |s| s.write_query());
    }

    let models_ok: Option<Rc<Models>> = loaded.as_ref().and_then(|r| r.as_ref().ok().cloned());
    let side = models_ok.as_ref().map_or(14, |m| m.next.config.side);
    let mask = settings.mask.cells(side, &settings.brush);
    let have_source = state.source.len() == SOURCE * SOURCE;
    let tokens: Vec<u8> = match (&models_ok, have_source) {
        (Some(m), true) => quantized(m, &state.source),
        _ => Vec::new(),
    };

    let complete = {
        let (state, settings, models_ok, device, token) = (
            state.clone(),
            settings.clone(),
            models_ok.clone(),
            device.clone(),
            run_token.clone(),
        );
        let (mask, tokens, lang) = (mask.clone(), tokens.clone(), lang.clone());
        Callback::from(move |_: MouseEvent| {
            let (Some(models), Some(device)) = (models_ok.clone(), device.clone()) else {
                return;
            };
            if tokens.is_empty() {
                return;
            }
            let dispatch = state.dispatcher();
            let masked = mask.iter().filter(|&&m| m).count();
            if masked == 0 {
                dispatch.dispatch(Action::GenerationFailed(
                    lang.t(Text::IgptNothingMasked).to_string(),
                ));
                return;
            }
            let note = if masked == mask.len() {
                Some(lang.t(Text::IgptUnconditional).to_string())
            } else if state.source.iter().all(|&p| p == 0) {
                Some(lang.t(Text::IgptEmptyCanvas).to_string())
            } else {
                None
            };
            token.set(token.get() + 1);
            let mine = token.get();
            dispatch.dispatch(Action::Generating(note));
            let sampling = SamplingSettings {
                samples: SAMPLES,
                temperature: settings.temperature,
                top_k: settings.top_k,
                seed: settings.seed,
            };
            let (image, mask, masked_mode, kv_cache, token) = (
                tokens.clone(),
                mask.clone(),
                settings.masked_mode,
                settings.kv_cache,
                token.clone(),
            );
            wasm_bindgen_futures::spawn_local(async move {
                match generate(
                    models,
                    device,
                    image,
                    mask,
                    sampling,
                    masked_mode,
                    kv_cache,
                    dispatch.clone(),
                    token,
                    mine,
                )
                .await
                {
                    Ok(true) => dispatch.dispatch(Action::Generated),
                    Ok(false) => {}
                    Err(e) => dispatch.dispatch(Action::GenerationFailed(e)),
                }
            });
        })
    };
    let stop = {
        let (token, dispatch) = (run_token.clone(), state.dispatcher());
        Callback::from(move |_: MouseEvent| {
            token.set(token.get() + 1);
            dispatch.dispatch(Action::Stopped);
        })
    };
    let probe = {
        let (state, models_ok, device) = (state.clone(), models_ok.clone(), device.clone());
        let n = settings.probe_images;
        Callback::from(move |_: MouseEvent| {
            let (Some(models), Some(device)) = (models_ok.clone(), device.clone()) else {
                return;
            };
            if state.probe == Phase::Running {
                return;
            }
            let dispatch = state.dispatcher();
            dispatch.dispatch(Action::ProbeProgress("starting".into()));
            wasm_bindgen_futures::spawn_local(async move {
                match run_probe(models, device, n, dispatch.clone()).await {
                    Ok(rows) => dispatch.dispatch(Action::Probed(rows)),
                    Err(e) => dispatch.dispatch(Action::ProbeFailed(e)),
                }
            });
        })
    };
    let pick = {
        let (state, settings) = (state.clone(), settings.clone());
        Callback::from(move |i: usize| {
            if let Some((name, pixels)) = state.gallery.get(i) {
                state.dispatch(Action::Source(name.clone(), pixels.clone()));
                settings.set(Settings {
                    image: i,
                    ..(*settings).clone()
                });
            }
        })
    };
    let set_mask = {
        let settings = settings.clone();
        Callback::from(move |m: MaskKind| {
            settings.set(Settings {
                mask: m,
                ..(*settings).clone()
            })
        })
    };
    let on_upload = {
        let state = state.clone();
        let lang = lang.clone();
        Callback::from(move |e: Event| {
            let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() else {
                return;
            };
            let Some(file) = input.files().and_then(|l| l.get(0)) else {
                return;
            };
            input.set_value("");
            let dispatch = state.dispatcher();
            let too_big = lang.t(Text::IgptUploadFailed).to_string();
            wasm_bindgen_futures::spawn_local(async move {
                let name = file.name();
                yield_now().await;
                let bytes = match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
                    Ok(buffer) => js_sys::Uint8Array::new(&buffer).to_vec(),
                    Err(e) => {
                        dispatch.dispatch(Action::UploadFailed(format!(
                            "{name}: {}",
                            crate::runtime::webgpu::js_error_text(&e)
                        )));
                        return;
                    }
                };
                match decode_square(&bytes, SOURCE) {
                    Ok(square) => {
                        // Grey (ITU-R BT.601 luma), like the Fashion-MNIST images.
                        let grey: Vec<u8> = square
                            .rgb
                            .chunks_exact(3)
                            .map(|c| {
                                (0.299 * c[0] as f32 + 0.587 * c[1] as f32 + 0.114 * c[2] as f32)
                                    .round() as u8
                            })
                            .collect();
                        dispatch.dispatch(Action::Source(name, grey));
                    }
                    Err(e) => {
                        dispatch.dispatch(Action::UploadFailed(format!("{name}: {e} — {too_big}")))
                    }
                }
            });
        })
    };

    // Drawing on the source canvas (mouse, pen or finger: pointer events).
    let source_node = use_node_ref();
    {
        let node = source_node.clone();
        use_effect_with(state.source.clone(), move |source| {
            if source.len() == SOURCE * SOURCE {
                paint(&node, &grey_rgba(source), SOURCE as u32, SOURCE as u32);
            }
        });
    }
    let draw_at = {
        let state = state.clone();
        move |e: &MouseEvent| {
            if let Some(cell) = pointer_cell(e, SOURCE) {
                let mut pixels = if state.source.len() == SOURCE * SOURCE {
                    (*state.source).clone()
                } else {
                    vec![0; SOURCE * SOURCE]
                };
                brush_stroke(&mut pixels, cell);
                state.dispatch(Action::Source("drawing".into(), pixels));
            }
        }
    };
    let onpointerdown = {
        let (drawing, draw_at) = (drawing.clone(), draw_at.clone());
        Callback::from(move |e: PointerEvent| {
            *drawing.borrow_mut() = true;
            draw_at(&e);
        })
    };
    let onpointermove = {
        let drawing = drawing.clone();
        Callback::from(move |e: PointerEvent| {
            if *drawing.borrow() {
                draw_at(&e);
            }
        })
    };
    let onpointerup = {
        let drawing = drawing.clone();
        Callback::from(move |_: PointerEvent| *drawing.borrow_mut() = false)
    };
    let clear_canvas = {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| {
            state.dispatch(Action::Source("drawing".into(), vec![0; SOURCE * SOURCE]))
        })
    };

    // The brush mask: paint masked cells on the quantized image.
    let mask_painting = use_mut_ref(|| false);
    let paint_mask = {
        let settings = settings.clone();
        move |e: &MouseEvent| {
            if let Some(cell) = pointer_cell(e, side) {
                let mut s = (*settings).clone();
                let base = s.mask.cells(side, &s.brush);
                s.brush = base;
                if cell < s.brush.len() && !s.brush[cell] {
                    s.brush[cell] = true;
                    s.mask = MaskKind::Brush;
                    settings.set(s);
                }
            }
        }
    };
    let on_mask_down = {
        let (flag, paint_mask) = (mask_painting.clone(), paint_mask.clone());
        Callback::from(move |e: PointerEvent| {
            *flag.borrow_mut() = true;
            paint_mask(&e);
        })
    };
    let on_mask_move = {
        let flag = mask_painting.clone();
        Callback::from(move |e: PointerEvent| {
            if *flag.borrow() {
                paint_mask(&e);
            }
        })
    };
    let on_mask_up = {
        let flag = mask_painting.clone();
        Callback::from(move |_: PointerEvent| *flag.borrow_mut() = false)
    };
    let clear_brush = {
        let settings = settings.clone();
        Callback::from(move |_: MouseEvent| {
            settings.set(Settings {
                mask: MaskKind::Brush,
                brush: vec![false; 196],
                ..(*settings).clone()
            })
        })
    };

    let busy = state.generation == Phase::Running;
    let resized: Vec<u8> = if have_source {
        downsample(&state.source, SOURCE, SOURCE / side)
    } else {
        Vec::new()
    };

    let pipeline = match &models_ok {
        Some(m) if !tokens.is_empty() => {
            let mut strip = tokens_rgba(m, &tokens, Some(&mask), None, tokens.len());
            if let Some(p) = state.position {
                if p < tokens.len() {
                    strip[p * 4..p * 4 + 4].copy_from_slice(&[255, 200, 0, 255]);
                }
            }
            html! {
                <div class="igpt-pipeline">
                    <figure>
                        <SmallCanvas rgba={Rc::new(grey_rgba(&resized))} side={side} testid="igpt-resized" />
                        <figcaption>{ format!("{} {side}×{side}", lang.t(Text::IgptResized)) }</figcaption>
                    </figure>
                    <figure>
                        <div onpointerdown={on_mask_down} onpointermove={on_mask_move} onpointerup={on_mask_up.clone()} onpointerleave={on_mask_up}>
                            <SmallCanvas rgba={Rc::new(tokens_rgba(m, &tokens, Some(&mask), None, side))} side={side} testid="igpt-quantized"
                                tokens={tokens_attr(&tokens)} mask={mask.iter().map(|&b| if b { '1' } else { '0' }).collect::<String>()} />
                        </div>
                        <figcaption>{ format!("{} ({} {})", lang.t(Text::IgptQuantized), m.next.palette.len(), lang.t(Text::IgptLevels)) }</figcaption>
                    </figure>
                    <figure class="igpt-sequence-figure">
                        <StripCanvas rgba={Rc::new(strip)} len={tokens.len()} position={state.position} />
                        <figcaption>{ lang.t(Text::IgptSequence) }</figcaption>
                    </figure>
                </div>
            }
        }
        _ => html! {},
    };

    let row_view = |row: &SampleRow, masked_model: bool| -> Html {
        let Some(m) = &models_ok else { return html! {} };
        if row.tokens.is_empty() {
            return html! {};
        }
        let prefix = if masked_model {
            "igpt-masked-sample"
        } else {
            "igpt-sample"
        };
        html! {
            <div class="igpt-samples-row">
                { for row.tokens.iter().enumerate().map(|(k, tokens)| {
                    let pending = row.pending.get(k).map(|p| p.as_slice());
                    let rgba = Rc::new(tokens_rgba(m, tokens, None, pending, side));
                    let hover = hover.clone();
                    let onmousemove = Callback::from(move |e: MouseEvent| hover.set(pointer_cell(&e, side).map(|p| (masked_model, k, p))));
                    let done = pending.is_none_or(|p| !p.iter().any(|&b| b));
                    html! {
                        <div {onmousemove}>
                            <SmallCanvas rgba={rgba} side={side} testid={format!("{prefix}-{k}")} tokens={tokens_attr(tokens)}
                                complete={done} />
                        </div>
                    }
                }) }
            </div>
        }
    };

    let distribution = match (*hover, &models_ok) {
        (Some((masked_model, k, p)), Some(m)) => {
            let row = if masked_model {
                &state.masked_row
            } else {
                &state.next_row
            };
            let dist = row
                .distributions
                .get(k)
                .and_then(|d| d.get(p))
                .cloned()
                .flatten();
            let (x, y) = (p % side, p / side);
            match dist {
                Some(probs) => html! {
                    <div class="igpt-distribution" data-testid="igpt-distribution">
                        <p>{ format!("{} ({x}, {y}):", lang.t(Text::IgptDistribution)) }</p>
                        { for probs.iter().enumerate().map(|(i, &pr)| {
                            let g = m.next.palette.levels[i].round() as u8;
                            html! {
                                <div class="bar-row">
                                    <span class="swatch" style={format!("background: rgb({g},{g},{g})")} />
                                    <span class="bar" style={format!("width: {:.0}px", pr * 160.0)} />
                                    <span>{ format!("{:.1}%", pr * 100.0) }</span>
                                </div>
                            }
                        }) }
                    </div>
                },
                None => {
                    html! { <div class="igpt-distribution" data-testid="igpt-distribution"><p>{ format!("({x}, {y}): {}", lang.t(Text::IgptGiven)) }</p></div> }
                }
            }
        }
        _ => {
            html! { <div class="igpt-distribution" data-testid="igpt-distribution"><p>{ lang.t(Text::IgptHoverHint) }</p></div> }
        }
    };

    let probe_value = state
        .probe_rows
        .iter()
        .find(|(name, _)| name.starts_with("next-pixel model, layer 2"))
        .map(|(_, a)| *a);

    let temperature_input = {
        let settings = settings.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() {
                if let Ok(v) = input.value().parse::<f32>() {
                    settings.set(Settings {
                        temperature: v.clamp(0.1, 2.0),
                        ..(*settings).clone()
                    });
                }
            }
        })
    };
    let seed_input = {
        let settings = settings.clone();
        Callback::from(move |e: Event| {
            if let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() {
                if let Ok(v) = input.value().parse::<u64>() {
                    settings.set(Settings {
                        seed: v,
                        ..(*settings).clone()
                    });
                }
            }
        })
    };
    let topk_input = {
        let settings = settings.clone();
        Callback::from(move |e: Event| {
            if let Some(input) = e.target_dyn_into::<web_sys::HtmlSelectElement>() {
                if let Ok(v) = input.value().parse::<usize>() {
                    settings.set(Settings {
                        top_k: v,
                        ..(*settings).clone()
                    });
                }
            }
        })
    };
    let masked_mode_input = {
        let settings = settings.clone();
        Callback::from(move |e: Event| {
            if let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() {
                settings.set(Settings {
                    masked_mode: input.checked(),
                    ..(*settings).clone()
                });
            }
        })
    };

    let kv_cache_input = {
        let settings = settings.clone();
        Callback::from(move |e: Event| {
            if let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() {
                settings.set(Settings {
                    kv_cache: input.checked(),
                    ..(*settings).clone()
                });
            }
        })
    };

    let model_status = match &loaded {
        None => html! { <p class="notice">{ lang.t(Text::WaitingForBackend) }</p> },
        Some(Err(e)) => {
            html! { <p class="error" role="alert" data-testid="igpt-model-error">{ e.clone() }</p> }
        }
        Some(Ok(m)) => html! {
            <p class="hint">{ format!(
                "{}: {} · {} {} ({} / {} steps)",
                lang.t(Text::IgptModels),
                format_args!("{} layers, d={}, {}×{} pixels, {} grey levels", m.next.config.n_layers, m.next.config.d_model, side, side, m.next.palette.len()),
                params_text(burn::module::Module::num_params(&m.next.model)),
                lang.t(Text::IgptParams),
                m.next.step,
                m.masked.step,
            ) }</p>
        },
    };

    html! {
        <section class="page demo igpt" data-testid="demo-igpt">
            <h1>{ "iGPT" }</h1>
            <p class="quadrant">{ format!("{} · {}", lang.t(Text::Generative), lang.t(Text::Vision)) }</p>
            <p class="intro">{ lang.t(Text::IgptIntro) }</p>
            { model_status }

            <h2>{ lang.t(Text::IgptStep1) }</h2>
            if state.gallery_phase == Phase::Running {
                if let Some(p) = state.gallery_progress {
                    <p class="hint">{ lang.t(Text::IgptLoadingImages) }
                        <progress data-testid="igpt-gallery-progress" max={p.total.max(1).to_string()} value={p.done.to_string()} />
                    </p>
                }
            }
            <div class="igpt-gallery" data-testid="igpt-gallery" data-state={state.gallery_phase.attr()}>
                { for state.gallery.iter().enumerate().map(|(i, (name, pixels))| {
                    let pick = pick.clone();
                    let selected = settings.image == i && state.source_name == *name;
                    html! {
                        <button class={classes!("thumb", selected.then_some("selected"))} title={name.clone()} aria-label={name.clone()}
                                data-testid={format!("igpt-gallery-{i}")} onclick={Callback::from(move |_| pick.emit(i))}>
                            <SmallCanvas rgba={Rc::new(grey_rgba(pixels))} side={SOURCE} />
                        </button>
                    }
                }) }
            </div>
            <div class="igpt-source">
                <figure>
                    <canvas ref={source_node} class="pixels igpt-canvas" data-testid="igpt-canvas" width="28" height="28"
                        aria-label={lang.t(Text::IgptCanvasLabel)}
                        onpointerdown={onpointerdown} onpointermove={onpointermove} onpointerup={onpointerup.clone()} onpointerleave={onpointerup} />
                    <figcaption>{ format!("{} — {}", lang.t(Text::IgptOriginal), state.source_name) }</figcaption>
                </figure>
                <div class="controls">
                    <button data-testid="igpt-clear-canvas" onclick={clear_canvas}>{ lang.t(Text::IgptClearCanvas) }</button>
                    <label class="upload">{ lang.t(Text::IgptUpload) }
                        <input type="file" accept="image/*" data-testid="igpt-upload" onchange={on_upload} />
                    </label>
                    if let Some(e) = &state.upload_error { <p class="error" role="alert" data-testid="igpt-upload-error">{ e.clone() }</p> }
                </div>
            </div>

            <h2>{ lang.t(Text::IgptStep2) }</h2>
            { pipeline }
            <div class="controls" role="group" aria-label={lang.t(Text::IgptMask)}>
                <span>{ lang.t(Text::IgptMask) }</span>
                { for [(MaskKind::Bottom, Text::IgptMaskBottom), (MaskKind::Right, Text::IgptMaskRight), (MaskKind::Brush, Text::IgptMaskBrush), (MaskKind::None, Text::IgptMaskNone)]
                    .into_iter().map(|(kind, text)| {
                        let set_mask = set_mask.clone();
                        html! {
                            <button aria-pressed={(settings.mask == kind).to_string()} data-testid={format!("igpt-mask-{}", kind.key())}
                                    onclick={Callback::from(move |_| set_mask.emit(kind))}>{ lang.t(text) }</button>
                        }
                    }) }
                if settings.mask == MaskKind::Brush {
                    <button data-testid="igpt-mask-clear" onclick={clear_brush}>{ lang.t(Text::IgptClearMask) }</button>
                }
            </div>
            <p class="hint">{ lang.t(Text::IgptBrushHint) }</p>

            <h2>{ lang.t(Text::IgptStep3) }</h2>
            <div class="controls">
                <label>{ format!("{} {:.2}", lang.t(Text::IgptTemperature), settings.temperature) }
                    <input type="range" min="0.1" max="2" step="0.05" value={settings.temperature.to_string()}
                        data-testid="igpt-temperature" oninput={temperature_input} />
                </label>
                <label>{ "top-k " }
                    <select data-testid="igpt-top-k" onchange={topk_input}>
                        { for [0usize, 2, 3, 4].into_iter().map(|k| html! {
                            <option value={k.to_string()} selected={settings.top_k == k}>{ if k == 0 { "all".to_string() } else { k.to_string() } }</option>
                        }) }
                    </select>
                </label>
                <label>{ lang.t(Text::IgptSeed) }
                    <input type="number" min="0" value={settings.seed.to_string()} data-testid="igpt-seed" onchange={seed_input} />
                </label>
                <label>
                    <input type="checkbox" checked={settings.masked_mode} data-testid="igpt-masked-mode" onchange={masked_mode_input} />
                    { lang.t(Text::IgptMaskedMode) }
                </label>
                <label title={lang.t(Text::IgptKvCacheHint)}>
                    <input type="checkbox" checked={settings.kv_cache} data-testid="igpt-kv-cache" onchange={kv_cache_input} />
                    { lang.t(Text::IgptKvCache) }
                </label>
                <button class="primary" data-testid="igpt-complete" onclick={complete} disabled={busy || models_ok.is_none() || tokens.is_empty()}>{ lang.t(Text::IgptComplete) }</button>
                <button data-testid="igpt-stop" onclick={stop} disabled={!busy}>{ lang.t(Text::IgptStop) }</button>
            </div>
            if let Some(note) = &state.generation_note { <p class="notice" data-testid="igpt-note">{ note.clone() }</p> }
            if let Some(e) = &state.generation_error { <p class="error" role="alert" data-testid="igpt-error">{ e.clone() }</p> }
            <div class="igpt-samples" data-testid="igpt-samples" data-state={state.generation.attr()}>
                <p>{ lang.t(Text::IgptNextRow) }
                    if let Some(ms) = state.ms_per_pixel { <span class="hint" data-testid="igpt-ms-per-pixel">{ format!(" · {ms:.1} ms/pixel ({SAMPLES} samples)") }</span> }
                </p>
                { row_view(&state.next_row, false) }
                if settings.masked_mode {
                    <p>{ lang.t(Text::IgptMaskedRow) }</p>
                    { row_view(&state.masked_row, true) }
                }
                { distribution }
            </div>

            <h2>{ lang.t(Text::IgptStep4) }</h2>
            <p class="hint">{ format!("{} ({} {}, {} {})", lang.t(Text::IgptProbeHint), settings.probe_images * 2 / 3, lang.t(Text::IgptProbeFit), settings.probe_images - settings.probe_images * 2 / 3, lang.t(Text::IgptProbeTest)) }</p>
            <div class="controls">
                <button data-testid="igpt-probe-run" onclick={probe} disabled={state.probe == Phase::Running || models_ok.is_none()}>{ lang.t(Text::IgptProbeRun) }</button>
                if let Some(p) = &state.probe_progress { <span class="hint" aria-live="polite">{ p.clone() }</span> }
            </div>
            if let Some(e) = &state.probe_error { <p class="error" role="alert">{ e.clone() }</p> }
            <div data-testid="igpt-probe-accuracy" data-state={state.probe.attr()}
                 data-value={probe_value.map(|v| format!("{v:.4}"))}>
                if !state.probe_rows.is_empty() {
                    <table class="probe">
                        <thead><tr><th>{ lang.t(Text::IgptProbeFeatures) }</th><th>{ lang.t(Text::IgptProbeAccuracy) }</th></tr></thead>
                        <tbody>
                            { for state.probe_rows.iter().map(|(name, acc)| html! {
                                <tr><td>{ name.clone() }</td><td>{ format!("{:.1}%", acc * 100.0) }</td></tr>
                            }) }
                        </tbody>
                    </table>
                }
            </div>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct SmallCanvasProps {
    rgba: Rc<Vec<u8>>,
    side: usize,
    #[prop_or_default]
    testid: AttrValue,
    #[prop_or_default]
    tokens: Option<AttrValue>,
    #[prop_or_default]
    mask: Option<AttrValue>,
    #[prop_or_default]
    complete: Option<bool>,
}

#[component]
fn SmallCanvas(props: &SmallCanvasProps) -> Html {
    let node = use_node_ref();
    {
        let node = node.clone();
        use_effect_with((props.rgba.clone(), props.side), move |(rgba, side)| {
            paint(&node, rgba, *side as u32, *side as u32);
        });
    }
    html! {
        <canvas ref={node} class="pixels" data-testid={(!props.testid.is_empty()).then(|| props.testid.clone())}
            data-tokens={props.tokens.clone()} data-mask={props.mask.clone()}
            data-complete={props.complete.map(|c| c.to_string())} />
    }
}

#[derive(Properties, PartialEq)]
struct StripProps {
    rgba: Rc<Vec<u8>>,
    len: usize,
    position: Option<usize>,
}

/// The 1-D raster sequence: one cell per pixel, the current position highlighted.
#[component]
fn StripCanvas(props: &StripProps) -> Html {
    let node = use_node_ref();
    {
        let node = node.clone();
        use_effect_with((props.rgba.clone(), props.len), move |(rgba, len)| {
            paint(&node, rgba, *len as u32, 1)
        });
    }
    html! {
        <canvas ref={node} class="pixels igpt-sequence" data-testid="igpt-sequence" data-length={props.len.to_string()}
            data-position={props.position.map(|p| p.to_string())} />
    }
}

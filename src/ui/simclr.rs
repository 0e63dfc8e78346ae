//! The SimCLR demo (/simclr): images in, two augmented views each, live
//! NT-Xent training of encoder + projection head, the batch's similarity
//! heatmap, a PCA map of the representations and nearest-neighbour retrieval.
//! All model work is in `crate::model::{augment, resnet, simclr}`; this file
//! only wires it to the page.

use std::rc::Rc;

use burn::tensor::{Device, Tensor, TensorData};
use wasm_bindgen::JsCast;
use yew::prelude::*;

use super::app::{
    location_search, query_param, set_query_param, ComputeCtx, ComputeStatus, LangCtx,
};
use super::charts::{Heatmap, LossPlot, PixelCanvas};
use super::i18n::Text;
use super::train_driver::{take_or_build, DriverEvent, ModelSlot, Throughput, TrainDriver};
use super::widgets::Phase;
use crate::model::augment::{self, AugmentConfig};
use crate::model::export::loss_csv;
use crate::model::pca::{nearest_by_cosine, pca_2d};
use crate::model::resnet::SimClrConfig;
use crate::model::rng::Rng;
use crate::model::simclr::{read_f32, SimClrSettings, StepReport};
use crate::runtime::app_worker::{
    forget_training_worker_unless, training_worker, training_workers_started,
};
use crate::runtime::assets::served_assets;
use crate::runtime::backend::train_in_worker;
use crate::runtime::event_loop::yield_now;
use crate::runtime::images::{
    chw_to_rgba, decode_square, grey_square, rgb_to_rgba, to_chw, SquareImage, MAX_IMAGES,
    STORE_SIZE,
};
use crate::runtime::loader::load_asset;
use crate::runtime::simclr_worker::SimClrRunner;
use crate::runtime::webgpu::BackendKind;

/// How many images the views grid shows.
const VIEW_ROWS: usize = 16;
/// Representations are recomputed for the PCA map every this many steps.
const EMBED_EVERY: usize = 10;

#[derive(Clone, PartialEq)]
struct Picture {
    name: Rc<str>,
    square: Rc<SquareImage>,
    thumb: Rc<Vec<u8>>,
}

/// `(image index, view A, view B)` as RGBA.
type ViewRow = (usize, Rc<Vec<u8>>, Rc<Vec<u8>>);

#[derive(Clone, PartialEq)]
struct Embedding {
    points: Vec<[f32; 2]>,
    representations: Rc<Vec<f32>>,
    dim: usize,
}

/// The last batch's 2N×2N similarities, its positive pairs and its images.
#[derive(Clone, PartialEq)]
struct Heat {
    values: Rc<Vec<f32>>,
    views: usize,
    positives: Rc<Vec<(usize, usize)>>,
    images: Rc<Vec<usize>>,
}

/// Everything the page shows; changed only through [`Action`]s.
#[derive(Clone, PartialEq, Default)]
struct PageState {
    pictures: Rc<Vec<Picture>>,
    file_errors: Vec<String>,
    capped: usize,
    ingest: Phase,
    views: Rc<Vec<ViewRow>>,
    view_size: u32,
    views_phase: Phase,
    losses: Rc<Vec<(usize, f32)>>,
    step: usize,
    throughput: Throughput,
    train: Phase,
    train_error: Option<String>,
    device_changed: bool,
    /// Whether the last step ran in a worker (`runtime::simclr_worker`).
    in_worker: bool,
    heat: Option<Heat>,
    embedding: Option<Rc<Embedding>>,
    embed_phase: Phase,
    selected: Option<usize>,
}

enum Action {
    IngestStarted,
    Ingested {
        pictures: Vec<Picture>,
        errors: Vec<String>,
    },
    IngestFailed(String),
    ClearImages,
    ViewsStarted,
    Views(Vec<ViewRow>, u32),
    ViewsFailed(String),
    TrainStarted,
    Stepped {
        report: StepReport,
        step_ms: f64,
        in_worker: bool,
    },
    TrainStopped,
    TrainFailed(String),
    Reset,
    DeviceChanged,
    EmbedStarted,
    Embedded(Embedding),
    EmbedFailed(String),
    ExportFailed(String),
    Select(usize),
}

impl Reducible for PageState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = (*self).clone();
        match action {
            Action::IngestStarted => s.ingest = Phase::Running,
            Action::Ingested { pictures, errors } => {
                let mut all = (*s.pictures).clone();
                let room = MAX_IMAGES.saturating_sub(all.len());
                s.capped += pictures.len().saturating_sub(room);
                all.extend(pictures.into_iter().take(room));
                s.pictures = Rc::new(all);
                s.file_errors = errors;
                s.ingest = Phase::Done;
            }
            Action::IngestFailed(e) => {
                s.file_errors = vec![e];
                s.ingest = Phase::Error;
            }
            Action::ClearImages => {
                s = PageState {
                    losses: s.losses.clone(),
                    step: s.step,
                    ..PageState::default()
                };
            }
            Action::ViewsStarted => s.views_phase = Phase::Running,
            Action::Views(rows, size) => {
                s.views = Rc::new(rows);
                s.view_size = size;
                s.views_phase = Phase::Done;
            }
            Action::ViewsFailed(e) => {
                s.views_phase = Phase::Error;
                s.train_error = Some(e);
            }
            Action::TrainStarted => {
                s.train = Phase::Running;
                s.train_error = None;
                s.device_changed = false;
            }
            Action::Stepped {
                report,
                step_ms,
                in_worker,
            } => {
                s.throughput.record(step_ms);
                s.in_worker = in_worker;
                s.step = report.step;
                let mut losses = (*s.losses).clone();
                losses.push((report.step, report.loss));
                s.losses = Rc::new(losses);
                let n = report.views / 2;
                let marked = (0..report.views)
                    .map(|k| (k, (k + n) % report.views))
                    .collect();
                s.heat = Some(Heat {
                    values: Rc::new(report.similarity),
                    views: report.views,
                    positives: Rc::new(marked),
                    images: Rc::new(report.images),
                });
            }
            Action::TrainStopped => s.train = Phase::Done,
            Action::TrainFailed(e) => {
                s.train = Phase::Error;
                s.train_error = Some(e);
            }
            Action::Reset => {
                s.losses = Rc::new(Vec::new());
                s.step = 0;
                s.throughput = Throughput::default();
                s.train = Phase::Idle;
                s.train_error = None;
                s.heat = None;
                s.embedding = None;
                s.embed_phase = Phase::Idle;
                s.selected = None;
                s.device_changed = false;
            }
            Action::DeviceChanged => {
                if s.train == Phase::Running {
                    s.train = Phase::Done;
                }
                s.device_changed = s.step > 0;
            }
            Action::EmbedStarted => s.embed_phase = Phase::Running,
            Action::Embedded(e) => {
                s.embedding = Some(Rc::new(e));
                s.embed_phase = Phase::Done;
            }
            Action::ExportFailed(e) => s.train_error = Some(e),
            Action::EmbedFailed(e) => {
                s.embed_phase = Phase::Error;
                s.train_error = Some(e);
            }
            Action::Select(i) => s.selected = Some(i),
        }
        Rc::new(s)
    }
}

/// The visitor's settings; mirrored in the URL (`?n=&tau=&lr=&w=&px=&aug=&cs=&s=&steps=`).
#[derive(Clone, PartialEq)]
struct Settings {
    core: SimClrSettings,
    width: usize,
    budget: usize,
}

impl Default for Settings {
    fn default() -> Self {
        // Small by default: the CPU fallback and software WebGPU must manage a
        // step in well under a second (see the closing note's benchmark).
        let core = SimClrSettings {
            augment: AugmentConfig {
                out_size: 16,
                ..AugmentConfig::default()
            },
            ..SimClrSettings::default()
        };
        Self {
            core,
            width: 4,
            budget: 200,
        }
    }
}

impl Settings {
    fn from_query(search: &str) -> Self {
        let mut s = Settings::default();
        let Ok(params) = web_sys::UrlSearchParams::new_with_str(search) else {
            return s;
        };
        let num = |k: &str| {
            params
                .get(k)
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite())
        };
        if let Some(v) = num("n") {
            s.core.batch = (v as usize).clamp(2, 64);
        }
        if let Some(v) = num("tau") {
            s.core.temperature = (v as f32).clamp(0.01, 2.0);
        }
        if let Some(v) = num("lr") {
            s.core.learning_rate = v.clamp(1e-5, 0.1);
        }
        if let Some(v) = num("w") {
            s.width = [4usize, 8, 16]
                .into_iter()
                .find(|&w| w == v as usize)
                .unwrap_or(s.width);
        }
        if let Some(v) = num("px") {
            s.core.augment.out_size = [16usize, 24, 32]
                .into_iter()
                .find(|&p| p == v as usize)
                .unwrap_or(16);
        }
        if let Some(v) = num("cs") {
            s.core.augment.crop_min_scale = (v as f32).clamp(0.08, 1.0);
        }
        if let Some(v) = num("s") {
            s.core.augment.jitter_strength = (v as f32).clamp(0.0, 1.0);
        }
        if let Some(v) = num("steps") {
            s.budget = (v as usize).clamp(1, 5000);
        }
        if let Some(aug) = params.get("aug") {
            let a = &mut s.core.augment;
            a.crop = aug.contains('c');
            a.flip = aug.contains('f');
            a.jitter = aug.contains('j');
            a.grey = aug.contains('g');
            a.blur = aug.contains('b');
        }
        s
    }

    fn write_query(&self) {
        let a = &self.core.augment;
        let aug: String = [
            (a.crop, 'c'),
            (a.flip, 'f'),
            (a.jitter, 'j'),
            (a.grey, 'g'),
            (a.blur, 'b'),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, c)| *c)
        .collect();
        set_query_param("n", Some(&self.core.batch.to_string()));
        set_query_param("tau", Some(&self.core.temperature.to_string()));
        set_query_param("lr", Some(&self.core.learning_rate.to_string()));
        set_query_param("w", Some(&self.width.to_string()));
        set_query_param("px", Some(&a.out_size.to_string()));
        set_query_param("s", Some(&a.jitter_strength.to_string()));
        set_query_param("cs", Some(&a.crop_min_scale.to_string()));
        set_query_param("steps", Some(&self.budget.to_string()));
        set_query_param("aug", Some(if aug.is_empty() { "-" } else { &aug }));
    }
}

/// The pictures' stored squares as one `[m, 3, s, s]` CHW vector.
fn pictures_chw(pictures: &[Picture]) -> Vec<f32> {
    to_chw(pictures.iter().map(|p| &*p.square))
}

fn images_tensor(pictures: &[Picture], device: &Device) -> Tensor<4> {
    Tensor::from_data(
        TensorData::new(
            pictures_chw(pictures),
            [pictures.len(), 3, STORE_SIZE, STORE_SIZE],
        ),
        device,
    )
}

fn picture(name: String, square: SquareImage) -> Picture {
    Picture {
        name: name.into(),
        thumb: Rc::new(rgb_to_rgba(&square.rgb)),
        square: Rc::new(square),
    }
}

/// The files of a picker or a drop, in order.
fn files_of(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    list.map(|l| (0..l.length()).filter_map(|i| l.get(i)).collect())
        .unwrap_or_default()
}

async fn file_bytes(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| crate::runtime::webgpu::js_error_text(&e))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// Decodes files one at a time, yielding to the browser between them.
async fn decode_files(files: Vec<web_sys::File>) -> (Vec<Picture>, Vec<String>) {
    let (mut pictures, mut errors) = (Vec::new(), Vec::new());
    for file in files {
        let name = file.name();
        let result = match file_bytes(&file).await {
            Ok(bytes) => decode_square(&bytes, STORE_SIZE).map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match result {
            Ok(square) => pictures.push(picture(name, square)),
            Err(e) => errors.push(format!("{name}: {e}")),
        }
        yield_now().await;
    }
    (pictures, errors)
}

/// The bundled sample set: the photos, then Fashion-MNIST and MNIST images.
async fn load_samples() -> Result<(Vec<Picture>, Vec<String>), String> {
    let mut pictures = Vec::new();
    let mut errors = Vec::new();
    for asset in served_assets()
        .into_iter()
        .filter(|a| a.id.starts_with("samples/"))
    {
        let loaded = load_asset(&asset.id, &|_| {})
            .await
            .map_err(|e| format!("{}: {e:?}", asset.id))?;
        let short = asset.id.rsplit('/').next().unwrap_or(&asset.id).to_string();
        if asset.id.ends_with(".u8") {
            for (i, pixels) in loaded.bytes.chunks_exact(28 * 28).enumerate() {
                let square = grey_square(pixels, 28, 28, STORE_SIZE);
                pictures.push(picture(format!("{short} #{i}"), square));
            }
        } else {
            match decode_square(&loaded.bytes, STORE_SIZE) {
                Ok(square) => pictures.push(picture(short, square)),
                Err(e) => errors.push(format!("{short}: {e}")),
            }
        }
        yield_now().await;
    }
    Ok((pictures, errors))
}

fn download(name: &str, bytes: &[u8], mime: &str) {
    let array = js_sys::Array::new();
    array.push(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_u8_array_sequence_and_options(&array, &options) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    if let Some(a) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.create_element("a").ok())
        .and_then(|e| e.dyn_into::<web_sys::HtmlAnchorElement>().ok())
    {
        a.set_href(&url);
        a.set_download(name);
        a.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

async fn embed(trainer: &SimClrRunner, out_size: usize) -> Result<Embedding, String> {
    let representations = trainer
        .representations(out_size)
        .await
        .map_err(|e| e.to_string())?;
    let dim = trainer.config().representation_dim();
    let points = pca_2d(&representations, trainer.image_count(), dim);
    Ok(Embedding {
        points,
        representations: Rc::new(representations),
        dim,
    })
}

type Slot = Rc<std::cell::RefCell<ModelSlot<SimClrRunner>>>;

/// What a step brings back to the page: its report, the map's new
/// representations every `EMBED_EVERY` steps, and where it ran.
struct StepOutcome {
    report: StepReport,
    embedding: Option<Result<Embedding, String>>,
    in_worker: bool,
}

/// What the first step of a run builds, when the model is new.
struct NewModel {
    images: Vec<f32>,
    count: usize,
    config: SimClrConfig,
    device: Device,
    /// The compute generation of `device`, when the model is to be built in
    /// the app's WebGPU training worker (`app_worker::training_worker`).
    in_worker: Option<u32>,
}

/// A new model: in the app's WebGPU training worker when asked for and it
/// starts, else on the page's thread.
async fn new_runner(new: NewModel) -> SimClrRunner {
    if let Some(generation) = new.in_worker {
        let built = match training_worker(generation).await {
            Ok(worker) => {
                SimClrRunner::in_worker(
                    worker,
                    &new.images,
                    new.count,
                    STORE_SIZE,
                    new.config.clone(),
                )
                .await
            }
            Err(e) => Err(e),
        };
        match built {
            Ok(runner) => return runner,
            Err(e) => web_sys::console::warn_1(
                &format!("SimCLR trains on the page's thread: the WebGPU worker failed ({e})")
                    .into(),
            ),
        }
    }
    SimClrRunner::on_page(new.images, new.count, STORE_SIZE, new.config, &new.device)
}

#[component]
pub fn SimClrDemo() -> Html {
    let lang = use_context::<LangCtx>().expect("LangCtx");
    let compute = use_context::<ComputeCtx>().expect("ComputeCtx");
    let state = use_reducer(PageState::default);
    let settings = use_state(|| Settings::from_query(&location_search()));
    // What the training loop reads each step (so sliders apply at once).
    let live_settings = use_mut_ref(Settings::default);
    *live_settings.borrow_mut() = (*settings).clone();
    let trainer: Slot = use_mut_ref(ModelSlot::default);
    let view_rng = use_mut_ref(|| Rng::new(2020));
    let driver = use_memo((), |_| TrainDriver::default());

    let device: Option<Device> = match &*compute.status {
        ComputeStatus::Ready(backend) => Some(backend.device.clone()),
        ComputeStatus::Starting => None,
    };
    let webgpu = matches!(&*compute.status,
        ComputeStatus::Ready(backend) if matches!(backend.kind, BackendKind::WebGpu { .. }));

    // A new compute device (switched, or the GPU was lost): tensors on the old
    // one are gone, so training stops; the loss history stays on screen.
    {
        let (driver, trainer, dispatch) = (driver.clone(), trainer.clone(), state.dispatcher());
        use_effect_with(compute.generation, move |&generation| {
            driver.stop();
            trainer.borrow_mut().clear();
            forget_training_worker_unless(generation);
            dispatch.dispatch(Action::DeviceChanged);
        });
    }
    // Leaving the page ends the loop cleanly.
    {
        let driver = driver.clone();
        use_effect_with((), move |_| move || driver.stop());
    }

    let resample = {
        let (state, device, settings, view_rng) = (
            state.clone(),
            device.clone(),
            settings.clone(),
            view_rng.clone(),
        );
        Callback::from(move |_: ()| {
            let Some(device) = device.clone() else { return };
            let pictures: Vec<Picture> = state.pictures.iter().take(VIEW_ROWS).cloned().collect();
            if pictures.is_empty() {
                return;
            }
            let dispatch = state.dispatcher();
            let augment = settings.core.augment.clone();
            let (views_a, views_b) = {
                let mut rng = view_rng.borrow_mut();
                (
                    augment::sample_views(&mut rng, &augment, pictures.len()),
                    augment::sample_views(&mut rng, &augment, pictures.len()),
                )
            };
            dispatch.dispatch(Action::ViewsStarted);
            wasm_bindgen_futures::spawn_local(async move {
                let images = images_tensor(&pictures, &device);
                let size = augment.out_size;
                let a = augment::apply(images.clone(), &views_a, size);
                let b = augment::apply(images, &views_b, size);
                let result = async {
                    let a = read_f32(a).await?;
                    let b = read_f32(b).await?;
                    Ok::<_, crate::model::simclr::TrainError>((a, b))
                }
                .await;
                match result {
                    Ok((a, b)) => {
                        let per = 3 * size * size;
                        let rows = (0..pictures.len())
                            .map(|i| {
                                (
                                    i,
                                    Rc::new(chw_to_rgba(&a[i * per..(i + 1) * per], size)),
                                    Rc::new(chw_to_rgba(&b[i * per..(i + 1) * per], size)),
                                )
                            })
                            .collect();
                        dispatch.dispatch(Action::Views(rows, size as u32));
                    }
                    Err(e) => dispatch.dispatch(Action::ViewsFailed(e.to_string())),
                }
            });
        })
    };

    // New images, new settings or a new device: redraw the views.
    {
        let resample = resample.clone();
        let key = (
            state.pictures.len(),
            settings.core.augment.clone(),
            compute.generation,
            device.is_some(),
        );
        use_effect_with(key, move |_| resample.emit(()));
    }

    let add_files = {
        let dispatch = state.dispatcher();
        Callback::from(move |files: Vec<web_sys::File>| {
            if files.is_empty() {
                return;
            }
            let dispatch = dispatch.clone();
            dispatch.dispatch(Action::IngestStarted);
            wasm_bindgen_futures::spawn_local(async move {
                let (pictures, errors) = decode_files(files).await;
                dispatch.dispatch(Action::Ingested { pictures, errors });
            });
        })
    };
    let on_pick = {
        let add_files = add_files.clone();
        Callback::from(move |e: Event| {
            let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() else {
                return;
            };
            let files = files_of(input.files());
            input.set_value("");
            add_files.emit(files);
        })
    };
    let on_drop = {
        let add_files = add_files.clone();
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            add_files.emit(files_of(e.data_transfer().and_then(|d| d.files())));
        })
    };
    let on_samples = {
        let dispatch = state.dispatcher();
        Callback::from(move |_: MouseEvent| {
            let dispatch = dispatch.clone();
            dispatch.dispatch(Action::IngestStarted);
            wasm_bindgen_futures::spawn_local(async move {
                match load_samples().await {
                    Ok((pictures, errors)) => {
                        dispatch.dispatch(Action::Ingested { pictures, errors })
                    }
                    Err(e) => dispatch.dispatch(Action::IngestFailed(e)),
                }
            });
        })
    };
    let on_clear = {
        let (dispatch, driver, trainer) = (state.dispatcher(), driver.clone(), trainer.clone());
        Callback::from(move |_: MouseEvent| {
            driver.stop();
            trainer.borrow_mut().clear();
            dispatch.dispatch(Action::ClearImages);
        })
    };

    let compute_embedding = {
        let (trainer, dispatch, settings) = (trainer.clone(), state.dispatcher(), settings.clone());
        Callback::from(move |_: ()| {
            let (trainer, dispatch) = (trainer.clone(), dispatch.clone());
            let out = settings.core.augment.out_size;
            let Some((epoch, taken)) = trainer.borrow_mut().take() else {
                return;
            };
            dispatch.dispatch(Action::EmbedStarted);
            wasm_bindgen_futures::spawn_local(async move {
                let result = embed(&taken, out).await;
                trainer.borrow_mut().put_back(epoch, taken);
                match result {
                    Ok(e) => dispatch.dispatch(Action::Embedded(e)),
                    Err(e) => dispatch.dispatch(Action::EmbedFailed(e)),
                }
            });
        })
    };

    let on_train = {
        let (state, device, trainer, live, driver) = (
            state.clone(),
            device.clone(),
            trainer.clone(),
            live_settings.clone(),
            driver.clone(),
        );
        let (settings, compute_embedding, no_images) = (
            settings.clone(),
            compute_embedding.clone(),
            lang.t(Text::SimclrNoImages),
        );
        let generation = compute.generation;
        Callback::from(move |_: MouseEvent| {
            let dispatch = state.dispatcher();
            let Some(device) = device.clone() else { return };
            if driver.is_running() {
                return;
            }
            if state.pictures.is_empty() {
                dispatch.dispatch(Action::TrainFailed(no_images.to_string()));
                return;
            }
            let needs_new = trainer
                .borrow()
                .runner
                .as_ref()
                .map(|t| {
                    t.image_count() != state.pictures.len() || t.config().width != settings.width
                })
                .unwrap_or(true);
            // A new model is built by the run's first step (in a worker that
            // is an asynchronous start); its settings are checked now.
            let mut build = None;
            if needs_new {
                if state.device_changed || trainer.borrow().runner.is_some() {
                    dispatch.dispatch(Action::Reset);
                }
                trainer.borrow_mut().clear();
                build = Some(NewModel {
                    images: pictures_chw(&state.pictures),
                    count: state.pictures.len(),
                    config: SimClrConfig::new().with_width(settings.width),
                    device,
                    in_worker: (webgpu && train_in_worker(query_param("workers").as_deref()))
                        .then_some(generation),
                });
            }
            let images = state.pictures.len();
            if let Err(e) = crate::model::simclr::check_settings(images, &settings.core) {
                dispatch.dispatch(Action::TrainFailed(e.to_string()));
                return;
            }
            dispatch.dispatch(Action::TrainStarted);
            let step = {
                let (trainer, live) = (trainer.clone(), live.clone());
                let build = Rc::new(std::cell::RefCell::new(build));
                move || {
                    let (trainer, live, build) =
                        (trainer.clone(), live.borrow().clone(), build.clone());
                    async move {
                        let pending = build.borrow_mut().take();
                        let (epoch, mut taken) =
                            take_or_build(&trainer, pending, new_runner).await?;
                        // On the page's thread the step pauses between its
                        // parts (see `SimClrTrainer::step_yielding`).
                        let result = taken.step(&live.core).await;
                        let embedding = match &result {
                            // `embed` yields before each chunk: a task of its own.
                            Ok(r) if r.step % EMBED_EVERY == 0 => {
                                Some(embed(&taken, live.core.augment.out_size).await)
                            }
                            _ => None,
                        };
                        let in_worker = taken.in_a_worker();
                        trainer.borrow_mut().put_back(epoch, taken);
                        result
                            .map(|report| StepOutcome {
                                report,
                                embedding,
                                in_worker,
                            })
                            .map_err(|e| e.to_string())
                    }
                }
            };
            let events = {
                let (dispatch, compute_embedding) = (dispatch.clone(), compute_embedding.clone());
                Callback::from(move |event: DriverEvent<StepOutcome>| match event {
                    DriverEvent::Step {
                        report:
                            StepOutcome {
                                report,
                                embedding,
                                in_worker,
                            },
                        step_ms,
                    } => {
                        dispatch.dispatch(Action::Stepped {
                            report,
                            step_ms,
                            in_worker,
                        });
                        match embedding {
                            Some(Ok(e)) => dispatch.dispatch(Action::Embedded(e)),
                            Some(Err(e)) => dispatch.dispatch(Action::EmbedFailed(e)),
                            None => {}
                        }
                    }
                    DriverEvent::Stopped => {
                        dispatch.dispatch(Action::TrainStopped);
                        compute_embedding.emit(());
                    }
                    DriverEvent::Failed(e) => {
                        dispatch.dispatch(Action::TrainFailed(e));
                        compute_embedding.emit(());
                    }
                })
            };
            driver.start(settings.budget, step, events);
        })
    };
    let on_pause = {
        let driver = driver.clone();
        Callback::from(move |_: MouseEvent| driver.pause())
    };
    let on_reset = {
        let (driver, trainer, dispatch) = (driver.clone(), trainer.clone(), state.dispatcher());
        Callback::from(move |_: MouseEvent| {
            driver.stop();
            trainer.borrow_mut().clear();
            dispatch.dispatch(Action::Reset);
        })
    };
    let on_export_encoder = {
        let (trainer, dispatch) = (trainer.clone(), state.dispatcher());
        Callback::from(move |_: MouseEvent| {
            let (trainer, dispatch) = (trainer.clone(), dispatch.clone());
            let Some((epoch, taken)) = trainer.borrow_mut().take() else {
                return;
            };
            wasm_bindgen_futures::spawn_local(async move {
                let bytes = taken.encoder_safetensors().await;
                trainer.borrow_mut().put_back(epoch, taken);
                match bytes {
                    Ok(bytes) => download(
                        "simclr-encoder.safetensors",
                        &bytes,
                        "application/octet-stream",
                    ),
                    Err(e) => dispatch.dispatch(Action::ExportFailed(e)),
                }
            });
        })
    };
    let on_export_loss = {
        let losses = state.losses.clone();
        Callback::from(move |_: MouseEvent| {
            download("simclr-loss.csv", loss_csv(&losses).as_bytes(), "text/csv")
        })
    };

    let update = |f: fn(&mut Settings, String)| {
        let settings = settings.clone();
        Callback::from(move |e: Event| {
            let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() else {
                return;
            };
            let mut next = (*settings).clone();
            f(&mut next, input.value());
            next.write_query();
            settings.set(next);
        })
    };
    let toggle = |f: fn(&mut AugmentConfig) -> &mut bool| {
        let settings = settings.clone();
        Callback::from(move |_: Event| {
            let mut next = (*settings).clone();
            let flag = f(&mut next.core.augment);
            *flag = !*flag;
            next.write_query();
            settings.set(next);
        })
    };

    let s = &*state;
    let cfg = &*settings;
    let running = s.train == Phase::Running;
    let last_loss = s.losses.last().map(|p| p.1);
    let name_of = {
        let pictures = s.pictures.clone();
        move |i: usize| {
            pictures
                .get(i)
                .map(|p| p.name.to_string())
                .unwrap_or_default()
        }
    };
    let describe = s.heat.as_ref().map(|heat| {
        let (views, images, name_of) = (heat.views, heat.images.clone(), name_of.clone());
        Callback::from(move |(i, j, v): (usize, usize, f32)| {
            let n = views / 2;
            let label = |k: usize| {
                format!(
                    "{} ({})",
                    name_of(images[k % n]),
                    if k < n { "A" } else { "B" }
                )
            };
            let kind = if i == j {
                "itself"
            } else if (i + n) % views == j {
                "positive"
            } else {
                "negative"
            };
            format!("{} · {}: cos {v:.3} — {kind}", label(i), label(j))
        })
    });
    let waiting = device.is_none();

    html! {
        <section class="page demo simclr" data-testid="demo-simclr">
            <h1>{ "SimCLR" }</h1>
            <p class="quadrant">{ format!("{} · {}", lang.t(Text::Discriminative), lang.t(Text::Vision)) }</p>
            <p class="intro">{ lang.t(Text::SimclrSummary) }</p>
            <p class="privacy" data-testid="simclr-privacy">{ lang.t(Text::SimclrPrivacy) }</p>

            <h2>{ lang.t(Text::SimclrStep1) }</h2>
            <div class="dropzone" ondragover={Callback::from(|e: DragEvent| e.prevent_default())} ondrop={on_drop}>
                <label>
                    { lang.t(Text::SimclrDrop) }
                    <input type="file" multiple=true accept="image/*" data-testid="simclr-upload" onchange={on_pick} />
                </label>
                <div class="row">
                    <button type="button" data-testid="simclr-samples" onclick={on_samples}
                            disabled={s.ingest == Phase::Running}>{ lang.t(Text::SimclrSamples) }</button>
                    <button type="button" data-testid="simclr-clear" onclick={on_clear}
                            disabled={s.pictures.is_empty() || running}>{ lang.t(Text::SimclrClear) }</button>
                    <span data-testid="simclr-image-count" data-state={s.ingest.attr()} data-value={s.pictures.len().to_string()}>
                        { format!("{} {}", s.pictures.len(), lang.t(Text::SimclrImagesCount)) }
                    </span>
                </div>
                if s.capped > 0 {
                    <p class="notice" data-testid="simclr-capped" role="status">{ format!("{} {}", s.capped, lang.t(Text::SimclrCapped)) }</p>
                }
                if !s.file_errors.is_empty() {
                    <ul class="file-errors" role="alert">
                        { for s.file_errors.iter().map(|e| html! { <li class="error" data-testid="simclr-file-error">{ e }</li> }) }
                    </ul>
                }
            </div>

            <h2>{ lang.t(Text::SimclrStep2) }</h2>
            <fieldset class="augs">
                <label><input type="checkbox" checked={cfg.core.augment.crop} onchange={toggle(|a| &mut a.crop)} data-testid="simclr-aug-crop" />{ lang.t(Text::AugCrop) }</label>
                <label><input type="checkbox" checked={cfg.core.augment.flip} onchange={toggle(|a| &mut a.flip)} data-testid="simclr-aug-flip" />{ lang.t(Text::AugFlip) }</label>
                <label><input type="checkbox" checked={cfg.core.augment.jitter} onchange={toggle(|a| &mut a.jitter)} data-testid="simclr-aug-jitter" />{ lang.t(Text::AugJitter) }</label>
                <label><input type="checkbox" checked={cfg.core.augment.grey} onchange={toggle(|a| &mut a.grey)} data-testid="simclr-aug-grey" />{ lang.t(Text::AugGrey) }</label>
                <label><input type="checkbox" checked={cfg.core.augment.blur} onchange={toggle(|a| &mut a.blur)} data-testid="simclr-aug-blur" />{ lang.t(Text::AugBlur) }</label>
                <label>{ lang.t(Text::CropScale) }
                    <input type="range" min="0.08" max="1" step="0.02" value={cfg.core.augment.crop_min_scale.to_string()} data-testid="simclr-crop-scale"
                           onchange={update(|s, v| s.core.augment.crop_min_scale = v.parse().unwrap_or(0.08))} />
                    { format!(" {:.2}–1", cfg.core.augment.crop_min_scale) }
                </label>
                <label>{ lang.t(Text::AugStrength) }
                    <input type="range" min="0" max="1" step="0.1" value={cfg.core.augment.jitter_strength.to_string()} data-testid="simclr-strength"
                           onchange={update(|s, v| s.core.augment.jitter_strength = v.parse().unwrap_or(0.5))} />
                    { format!(" {:.1}", cfg.core.augment.jitter_strength) }
                </label>
                <button type="button" data-testid="simclr-resample" onclick={let r = resample.clone(); Callback::from(move |_: MouseEvent| r.emit(()))}
                        disabled={s.pictures.is_empty() || waiting}>{ lang.t(Text::SimclrResample) }</button>
            </fieldset>
            <p class="muted">{ lang.t(Text::SimclrViewsNote) }</p>
            <div class="views" data-testid="simclr-views" data-state={s.views_phase.attr()} data-count={(2 * s.views.len()).to_string()}>
                { for s.views.iter().map(|(i, a, b)| {
                    let p = s.pictures.get(*i);
                    html! {
                        <div class="view-row">
                            if let Some(p) = p {
                                <PixelCanvas rgba={p.thumb.clone()} size={STORE_SIZE as u32} class="thumb" title={p.name.to_string()} />
                            }
                            <PixelCanvas rgba={a.clone()} size={s.view_size} class="view" title="view A" />
                            <PixelCanvas rgba={b.clone()} size={s.view_size} class="view" title="view B" />
                        </div>
                    }
                }) }
            </div>

            <h2>{ lang.t(Text::SimclrStep3) }</h2>
            <div class="controls">
                <label>{ lang.t(Text::Temperature) }
                    <input type="range" min="0.05" max="1" step="0.05" value={cfg.core.temperature.to_string()} data-testid="simclr-tau"
                           onchange={update(|s, v| s.core.temperature = v.parse().unwrap_or(0.5))} />
                    { format!(" {:.2}", cfg.core.temperature) }
                </label>
                <label>{ lang.t(Text::BatchSize) }
                    <input type="range" min="2" max="64" step="1" value={cfg.core.batch.to_string()} data-testid="simclr-batch"
                           onchange={update(|s, v| s.core.batch = v.parse().unwrap_or(16))} />
                    { format!(" {}", cfg.core.batch) }
                </label>
                <label>{ lang.t(Text::LearningRate) }
                    <select data-testid="simclr-lr" onchange={update(|s, v| s.core.learning_rate = v.parse().unwrap_or(1e-3))}>
                        { for ["0.0001", "0.0003", "0.001", "0.003", "0.01"].iter().map(|v| html! {
                            <option value={*v} selected={(v.parse::<f64>().unwrap_or(0.0) - cfg.core.learning_rate).abs() < 1e-9}>{ *v }</option>
                        }) }
                    </select>
                </label>
                <label>{ lang.t(Text::ModelWidth) }
                    <select data-testid="simclr-width" disabled={running} onchange={update(|s, v| s.width = v.parse().unwrap_or(4))}>
                        { for [4usize, 8, 16].iter().map(|w| html! { <option value={w.to_string()} selected={*w == cfg.width}>{ format!("{w} ({}-d h)", 8 * w) }</option> }) }
                    </select>
                </label>
                <label>{ lang.t(Text::ViewSize) }
                    <select data-testid="simclr-size" onchange={update(|s, v| s.core.augment.out_size = v.parse().unwrap_or(16))}>
                        { for [16usize, 24, 32].iter().map(|p| html! { <option value={p.to_string()} selected={*p == cfg.core.augment.out_size}>{ p.to_string() }</option> }) }
                    </select>
                </label>
                <label>{ lang.t(Text::StepBudget) }
                    <input type="number" min="1" max="5000" value={cfg.budget.to_string()} data-testid="simclr-steps"
                           onchange={update(|s, v| s.budget = v.parse().unwrap_or(200))} />
                </label>
            </div>
            <div class="row">
                <button type="button" data-testid="simclr-train" onclick={on_train} disabled={running || waiting}>{ lang.t(Text::Train) }</button>
                <button type="button" data-testid="simclr-pause" onclick={on_pause} disabled={!running}>{ lang.t(Text::Pause) }</button>
                <button type="button" data-testid="simclr-reset" onclick={on_reset}>{ lang.t(Text::Reset) }</button>
                <span data-testid="simclr-step" data-value={s.step.to_string()} data-state={s.train.attr()}
                      data-thread={if s.in_worker { "worker" } else { "page" }}
                      data-workers-started={training_workers_started().to_string()}>
                    { format!("{} {}", lang.t(Text::StepLabel), s.step) }
                </span>
                <span data-testid="simclr-steps-per-second">
                    { s.throughput.steps_per_second().map(|v| format!("{v:.2} {}", lang.t(Text::StepsPerSecond))).unwrap_or_default() }
                </span>
                <span data-testid="simclr-loss-last" data-value={last_loss.map(|v| v.to_string()).unwrap_or_default()}>
                    { last_loss.map(|v| format!("{} {v:.4}", lang.t(Text::LastLoss))).unwrap_or_default() }
                </span>
                if waiting {
                    <span class="muted">{ lang.t(Text::WaitingForBackend) }</span>
                }
            </div>
            if let Some(e) = &s.train_error {
                <p class="error" role="alert" data-testid="simclr-error">{ e }</p>
            }
            if s.device_changed {
                <p class="notice" role="status" data-testid="simclr-device-changed">{ lang.t(Text::DeviceChanged) }</p>
            }
            <div class="panels">
                <div class="panel">
                    <LossPlot points={s.losses.clone()} testid="simclr-loss-plot" state={s.train.attr()} />
                    <div class="row">
                        <button type="button" data-testid="simclr-export-loss" onclick={on_export_loss} disabled={s.losses.is_empty()}>{ lang.t(Text::ExportLoss) }</button>
                        <button type="button" data-testid="simclr-export-encoder" onclick={on_export_encoder} disabled={s.step == 0 || running}>{ lang.t(Text::ExportEncoder) }</button>
                    </div>
                </div>
                <div class="panel">
                    <p class="muted">{ lang.t(Text::SimclrHeatmap) }</p>
                    if let Some(heat) = &s.heat {
                        <Heatmap values={heat.values.clone()} n={heat.views} marked={heat.positives.clone()} testid="simclr-heatmap" describe={describe.clone()} />
                    }
                </div>
            </div>
            <p class="muted">{ lang.t(Text::SimclrEmbedding) }</p>
            <div class="panels">
                <EmbeddingPlot embedding={s.embedding.clone()} pictures={s.pictures.clone()} phase={s.embed_phase.attr()}
                               selected={s.selected} on_select={let d = state.dispatcher(); Callback::from(move |i| d.dispatch(Action::Select(i)))} />
                <div class="panel neighbours" data-testid="simclr-neighbours" data-state={if s.selected.is_some() { "done" } else { "idle" }}>
                    <h3>{ lang.t(Text::SimclrNeighbours) }</h3>
                    if let (Some(i), Some(e)) = (s.selected, s.embedding.as_ref()) {
                        if let Some(p) = s.pictures.get(i) {
                            <div class="neighbour query">
                                <PixelCanvas rgba={p.thumb.clone()} size={STORE_SIZE as u32} class="thumb" title={p.name.to_string()} />
                                <span>{ p.name.to_string() }</span>
                            </div>
                        }
                        { for nearest_by_cosine(&e.representations, e.dim, i, 5).into_iter().filter_map(|(j, cos)| s.pictures.get(j).map(|p| html! {
                            <div class="neighbour" data-testid="simclr-neighbour" data-cos={cos.to_string()}>
                                <PixelCanvas rgba={p.thumb.clone()} size={STORE_SIZE as u32} class="thumb" title={p.name.to_string()} />
                                <span>{ format!("{} · cos {cos:.3}", p.name) }</span>
                            </div>
                        })) }
                    }
                </div>
            </div>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct EmbeddingPlotProps {
    embedding: Option<Rc<Embedding>>,
    pictures: Rc<Vec<Picture>>,
    phase: AttrValue,
    selected: Option<usize>,
    on_select: Callback<usize>,
}

/// Thumbnails placed at their 2-D PCA coordinates; each is a button.
#[component]
fn EmbeddingPlot(props: &EmbeddingPlotProps) -> Html {
    let Some(e) = &props.embedding else {
        return html! { <div class="panel embedding" data-testid="simclr-embedding-plot" data-state={props.phase.clone()}></div> };
    };
    let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for p in &e.points {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    let frac = |v: f32, k: usize| {
        if hi[k] - lo[k] > 1e-9 {
            (v - lo[k]) / (hi[k] - lo[k])
        } else {
            0.5
        }
    };
    html! {
        <div class="panel embedding" data-testid="simclr-embedding-plot" data-state={props.phase.clone()} data-count={e.points.len().to_string()}>
            { for e.points.iter().enumerate().filter_map(|(i, p)| props.pictures.get(i).map(|pic| {
                let style = format!("left: calc({:.1}% - 12px); top: calc({:.1}% - 12px);", 4.0 + 92.0 * frac(p[0], 0), 4.0 + 92.0 * (1.0 - frac(p[1], 1)));
                let on_select = props.on_select.clone();
                let selected = props.selected == Some(i);
                html! {
                    <button type="button" class={classes!("point", selected.then_some("selected"))} style={style} title={pic.name.to_string()}
                            aria-pressed={selected.to_string()} data-testid="simclr-point" onclick={Callback::from(move |_: MouseEvent| on_select.emit(i))}>
                        <PixelCanvas rgba={pic.thumb.clone()} size={STORE_SIZE as u32} class="thumb" />
                    </button>
                }
            })) }
        </div>
    }
}

//! The SimCSE demo (/simcse): a similarity explorer (N×N cosine heatmap,
//! semantic search, STS score) over a choice of sentence encoders, SimCSE
//! training live in the browser (unsupervised with dropout views, supervised
//! with NLI triples) on the shared driver, and the alignment/uniformity plot.
//! The encoder is the BERT of the fill-mask demo (`crate::model::bert`,
//! loaded by `bert_loader`); pooling, losses, training and evaluation are
//! `crate::model::{simcse, simcse_data, contrastive}`. This file only wires
//! them to the page.

use std::cell::RefCell;
use std::rc::Rc;

use burn::module::Module;
use burn::tensor::Device;
use yew::prelude::*;

use super::app::{query_param, set_query_param, ComputeCtx, ComputeStatus, LangCtx};
use super::charts::{AlignUniformPlot, Heatmap, LossPlot};
use super::i18n::Text;
use super::train_driver::{take_or_build, DriverEvent, ModelSlot, Throughput, TrainDriver};
use super::widgets::{load_error_text, Latest, Phase};
use crate::model::bert::BertModel;
use crate::model::bert_loader::load_sentence_encoder_yielding;
use crate::model::bert_tokenizer::{BertTokenizer, Encoded};
use crate::model::simcse::{
    align_uniform, embed_all, embed_batch_for, rank, similarity_matrix, tokenize,
    tokenize_yielding, train_data, two_dropout_views, Objective, Pooling, SimCseSettings,
    SimCseStep, TrainData, TRAIN_MAX_TOKENS,
};
use crate::model::simcse_data::{eval_set, EvalSet, DEFAULT_SENTENCES};
use crate::runtime::app_worker::{
    forget_training_worker_unless, training_worker, training_workers_started,
};
use crate::runtime::assets::format_bytes;
use crate::runtime::backend::{embed_workers, train_in_worker};
use crate::runtime::embed_pool::{EmbedPool, WORKER_EMBED_BATCH};
use crate::runtime::event_loop::{now_ms, sleep_ms, yield_now};
use crate::runtime::loader::load_asset;
use crate::runtime::simcse_worker::{EncoderFiles, SimCseRunner};
use crate::runtime::webgpu::BackendKind;

/// "Updates as you type": this long after the last keystroke.
const DEBOUNCE_MS: i32 = 400;
/// Sentences per pass of the background STS scoring (between passes the page
/// updates the score's progress).
const STS_BATCH: usize = 8;
/// Held-out positive pairs re-embedded for each point of the trajectory.
const PROBE_PAIRS: usize = 32;
/// A trajectory point every this many training steps.
const ALIGN_EVERY: usize = 5;
/// Layers SimCSE trains (the rest stays frozen; see the page's note).
const TRAIN_LAYERS: usize = 2;
/// Above this many sentences the list shows no per-line remove buttons.
const MAX_LISTED: usize = 100;

/// The encoders to pick from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Choice {
    MiniLm,
    RawCls,
    RawMean,
}

impl Choice {
    const ALL: [Choice; 3] = [Choice::MiniLm, Choice::RawCls, Choice::RawMean];

    fn key(self) -> &'static str {
        match self {
            Choice::MiniLm => "minilm",
            Choice::RawCls => "raw-cls",
            Choice::RawMean => "raw-mean",
        }
    }

    fn from_key(key: &str) -> Option<Choice> {
        Choice::ALL.into_iter().find(|c| c.key() == key)
    }

    fn pooling(self) -> Pooling {
        match self {
            Choice::RawCls => Pooling::Cls,
            _ => Pooling::Mean,
        }
    }

    fn text(self) -> Text {
        match self {
            Choice::MiniLm => Text::SimcseEncoderMiniLm,
            Choice::RawCls => Text::SimcseEncoderRawCls,
            Choice::RawMean => Text::SimcseEncoderRawMean,
        }
    }

    /// Short names for the plot and the STS table.
    fn short(self) -> &'static str {
        match self {
            Choice::MiniLm => "MiniLM",
            Choice::RawCls => "raw [CLS]",
            Choice::RawMean => "raw mean",
        }
    }
}

/// A loaded encoder's files, kept to rebuild it on a new device.
struct Files {
    config: Vec<u8>,
    tokenizer: Vec<u8>,
    weights: Vec<Vec<u8>>,
}

/// The encoder the explorer uses (as loaded, or after training).
struct Active {
    choice: Choice,
    /// What the STS table and the plot call it.
    label: String,
    model: BertModel,
    tokenizer: Rc<BertTokenizer>,
    /// The encoder as its files hold it (not trained here): the embedding
    /// workers' replicas are of it.
    as_loaded: bool,
    serial: u64,
}

/// Builds the encoder in pieces, yielding to the browser between them (the
/// synchronous build was one 210–290 ms task).
async fn build(files: &Files, device: &Device) -> Result<(BertModel, BertTokenizer), String> {
    let weights: Vec<&[u8]> = files.weights.iter().map(Vec::as_slice).collect();
    load_sentence_encoder_yielding(&files.config, &files.tokenizer, &weights, device, yield_now)
        .await
}

/// The explorer's current embeddings.
struct Embedded {
    sentences: Vec<String>,
    rows: Vec<f32>,
    dim: usize,
    similarity: Rc<Vec<f32>>,
    serial: u64,
    /// Milliseconds the embedding took (model and readback), for the benchmark.
    ms: f64,
    /// Workers that embedded the list (0: the page's thread).
    workers: usize,
}

/// One row of the STS table.
#[derive(Clone, PartialEq)]
struct Score {
    label: String,
    pairs: usize,
    spearman: f64,
    align: f64,
    uniform: f64,
}

#[derive(Clone, Default)]
struct PageState {
    load: Phase,
    load_text: String,
    load_error: Option<String>,
    active: Option<Rc<Active>>,
    embed: Phase,
    embedded: Option<Rc<Embedded>>,
    notices: Vec<String>,
    embed_error: Option<String>,
    ranking: Vec<(usize, f32)>,
    rank_phase: Phase,
    rank_error: Option<String>,
    sts: Phase,
    sts_text: String,
    scores: Vec<Score>,
    references: Rc<Vec<(String, f64, f64)>>,
    trajectory: Rc<Vec<(usize, f64, f64)>>,
    losses: Rc<Vec<(usize, f32)>>,
    step: usize,
    throughput: Throughput,
    /// Whether the last step ran in the training worker
    /// (`runtime::simcse_worker`).
    in_worker: bool,
    train: Phase,
    train_error: Option<String>,
    two_views: Phase,
    two_views_value: Option<f32>,
    serial: u64,
}

impl PartialEq for PageState {
    fn eq(&self, _: &Self) -> bool {
        false // every dispatch re-renders; the state is only ever replaced
    }
}

/// An encoder to publish (boxed in [`Action`]: it is large).
struct NewEncoder {
    choice: Choice,
    label: String,
    model: BertModel,
    tokenizer: Rc<BertTokenizer>,
    as_loaded: bool,
}

enum Action {
    LoadStarted,
    LoadProgress(String),
    LoadFailed(String),
    /// A new encoder (loaded, rebuilt on a new device, or trained).
    Ready(Box<NewEncoder>),
    EmbedStarted,
    Embedded(Embedded, Vec<String>),
    EmbedFailed(String),
    RankStarted,
    Ranked(Vec<(usize, f32)>),
    RankFailed(String),
    StsStarted,
    StsProgress(String),
    Scored {
        score: Score,
        probe: (f64, f64),
    },
    StsFailed(String),
    TrainStarted,
    Stepped {
        report: SimCseStep,
        point: Option<(f64, f64)>,
        step_ms: f64,
        in_worker: bool,
    },
    TrainStopped,
    TrainFailed(String),
    ResetTraining,
    TwoViewsStarted,
    TwoViews(Result<f32, String>),
}

impl Reducible for PageState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = (*self).clone();
        match action {
            Action::LoadStarted => {
                s.load = Phase::Running;
                s.load_error = None;
            }
            Action::LoadProgress(text) => s.load_text = text,
            Action::LoadFailed(e) => {
                s.load = Phase::Error;
                s.load_error = Some(e);
            }
            Action::Ready(new) => {
                let NewEncoder {
                    choice,
                    label,
                    model,
                    tokenizer,
                    as_loaded,
                } = *new;
                s.serial += 1;
                s.active = Some(Rc::new(Active {
                    choice,
                    label,
                    model,
                    tokenizer,
                    as_loaded,
                    serial: s.serial,
                }));
                s.load = Phase::Done;
                s.load_error = None;
            }
            Action::EmbedStarted => s.embed = Phase::Running,
            Action::Embedded(e, notices) => {
                s.embedded = Some(Rc::new(e));
                s.notices = notices;
                s.embed = Phase::Done;
                s.embed_error = None;
            }
            Action::EmbedFailed(e) => {
                s.embed = Phase::Error;
                s.embedded = None;
                s.notices = Vec::new();
                s.embed_error = Some(e);
            }
            Action::RankStarted => s.rank_phase = Phase::Running,
            Action::Ranked(r) => {
                s.ranking = r;
                s.rank_error = None;
                s.rank_phase = Phase::Done;
            }
            Action::RankFailed(e) => {
                s.ranking = Vec::new();
                s.rank_phase = Phase::Error;
                s.rank_error = Some(e);
            }
            Action::StsStarted => {
                s.sts = Phase::Running;
                s.sts_text = String::new();
            }
            Action::StsProgress(t) => s.sts_text = t,
            Action::Scored { score, probe } => {
                let mut refs = (*s.references).clone();
                refs.retain(|r| r.0 != score.label);
                refs.push((score.label.clone(), probe.0, probe.1));
                s.references = Rc::new(refs);
                s.scores.retain(|r| r.label != score.label);
                s.scores.push(score);
                s.sts = Phase::Done;
                s.sts_text = String::new();
            }
            Action::StsFailed(e) => {
                s.sts = Phase::Error;
                s.sts_text = e;
            }
            Action::TrainStarted => {
                s.train = Phase::Running;
                s.train_error = None;
            }
            Action::Stepped {
                report,
                point,
                step_ms,
                in_worker,
            } => {
                s.throughput.record(step_ms);
                s.in_worker = in_worker;
                s.step = report.step;
                let mut losses = (*s.losses).clone();
                losses.push((report.step, report.loss));
                s.losses = Rc::new(losses);
                if let Some((a, u)) = point {
                    let mut t = (*s.trajectory).clone();
                    t.push((report.step, a, u));
                    s.trajectory = Rc::new(t);
                }
            }
            Action::TrainStopped => s.train = Phase::Done,
            Action::TrainFailed(e) => {
                s.train = Phase::Error;
                s.train_error = Some(e);
            }
            Action::ResetTraining => {
                s.losses = Rc::new(Vec::new());
                s.trajectory = Rc::new(Vec::new());
                s.step = 0;
                s.throughput = Throughput::default();
                s.train = Phase::Idle;
                s.train_error = None;
            }
            Action::TwoViewsStarted => s.two_views = Phase::Running,
            Action::TwoViews(Ok(v)) => {
                s.two_views = Phase::Done;
                s.two_views_value = Some(v);
            }
            Action::TwoViews(Err(e)) => {
                s.two_views = Phase::Error;
                s.two_views_value = None;
                s.train_error = Some(e);
            }
        }
        Rc::new(s)
    }
}

/// The visitor's training settings; mirrored in the URL.
#[derive(Clone, PartialEq)]
struct Settings {
    core: SimCseSettings,
    budget: usize,
    on_mine: bool,
    /// STS pairs scored (evenly spread; all by default). Software WebGPU
    /// needs minutes for the full set: `?sts=` makes a quicker score.
    sts_pairs: Option<usize>,
}

impl Settings {
    fn from_query() -> Self {
        let num = |k: &str| {
            query_param(k)
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite())
        };
        let mut core = SimCseSettings::default();
        if let Some(v) = num("n") {
            core.batch = (v as usize).clamp(2, 64);
        }
        if let Some(v) = num("tau") {
            core.temperature = (v as f32).clamp(0.01, 1.0);
        }
        if let Some(v) = num("lr") {
            core.learning_rate = v.clamp(1e-6, 1e-2);
        }
        Settings {
            core,
            budget: num("steps")
                .map(|v| (v as usize).clamp(1, 2000))
                .unwrap_or(30),
            on_mine: query_param("mine").is_some_and(|v| v == "1"),
            sts_pairs: num("sts").map(|v| (v as usize).max(8)),
        }
    }

    fn write_query(&self) {
        set_query_param("n", Some(&self.core.batch.to_string()));
        set_query_param("tau", Some(&self.core.temperature.to_string()));
        set_query_param("lr", Some(&self.core.learning_rate.to_string()));
        set_query_param("steps", Some(&self.budget.to_string()));
        set_query_param("mine", self.on_mine.then_some("1"));
        set_query_param("sts", self.sts_pairs.map(|k| k.to_string()).as_deref());
    }
}

/// The sentence list: its non-empty lines, and how many empty ones were skipped.
fn lines_of(text: &str) -> (Vec<String>, usize) {
    let mut kept = Vec::new();
    let mut skipped = 0;
    for line in text.lines() {
        if line.trim().is_empty() {
            skipped += 1;
        } else {
            kept.push(line.trim().to_string());
        }
    }
    // A trailing newline is not an empty sentence.
    if text.ends_with('\n')
        && skipped > 0
        && text.lines().last().is_some_and(|l| l.trim().is_empty())
    {
        skipped -= 1;
    }
    (kept, skipped)
}

/// The embedding workers of the CPU backend (`runtime::embed_pool`), for
/// one encoder choice.
enum PoolSlot {
    Off,
    Starting(Choice),
    Ready(Choice, Rc<EmbedPool>),
    /// Did not start: the page's thread embeds (the console says why).
    Failed(Choice),
}

/// Starts the embedding workers for `choice`, unless they run (or failed)
/// already. Dropping a pool from the slot stops its workers.
fn start_pool(slot: &Rc<RefCell<PoolSlot>>, choice: Choice, files: Rc<Files>) {
    let cores = web_sys::window()
        .map(|w| w.navigator().hardware_concurrency())
        .unwrap_or(1.0);
    let count = embed_workers(query_param("workers").as_deref(), cores);
    let current = matches!(&*slot.borrow(),
        PoolSlot::Starting(c) | PoolSlot::Ready(c, _) | PoolSlot::Failed(c) if *c == choice);
    if current {
        return;
    }
    if count == 0 {
        *slot.borrow_mut() = PoolSlot::Off;
        return;
    }
    *slot.borrow_mut() = PoolSlot::Starting(choice);
    let slot = slot.clone();
    wasm_bindgen_futures::spawn_local(async move {
        // A task of its own: `spawn_local` runs as a microtask of the
        // encoder's build, and the start copies the weights once per worker.
        yield_now().await;
        let started =
            EmbedPool::start(count, &files.config, &files.tokenizer, &files.weights).await;
        let mut s = slot.borrow_mut();
        if !matches!(&*s, PoolSlot::Starting(c) if *c == choice) {
            return; // another encoder or device since: this pool stops here
        }
        *s = match started {
            Ok(pool) => PoolSlot::Ready(choice, Rc::new(pool)),
            Err(e) => {
                web_sys::console::warn_1(
                    &format!("Embedding workers did not start ({e}); the page's thread embeds.")
                        .into(),
                );
                PoolSlot::Failed(choice)
            }
        };
    });
}

/// The embedding workers for `choice`, once started; None when the page's
/// thread embeds. Waits for workers that are starting (under a second),
/// so every embedding of an encoder is made the same way.
async fn pool_for(slot: &Rc<RefCell<PoolSlot>>, choice: Choice) -> Option<Rc<EmbedPool>> {
    loop {
        match &*slot.borrow() {
            PoolSlot::Ready(c, pool) if *c == choice => return Some(pool.clone()),
            PoolSlot::Starting(c) if *c == choice => {}
            _ => return None,
        }
        sleep_ms(25).await;
    }
}

/// Unit rows of `encoded` for the explorer and the STS score: by the
/// workers when they hold this encoder, else (or when they fail) on the
/// page's thread in batches of `batch`. `between(done)` runs with the
/// sentences done so far: after each layer on the page's thread (which
/// yields there), after each round of the workers. Returns the rows and how
/// many workers made them.
async fn embed_list<F, Fut>(
    active: &Active,
    slot: &Rc<RefCell<PoolSlot>>,
    encoded: &[Encoded],
    batch: usize,
    mut between: F,
) -> Result<(Vec<f32>, usize), String>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let pooling = active.choice.pooling();
    let device = active.model.pooler.weight.device();
    if active.as_loaded && device == crate::model::cpu_device() {
        if let Some(pool) = pool_for(slot, active.choice).await {
            match embed_in_rounds(
                &pool,
                encoded,
                pooling,
                active.model.hidden_size(),
                &mut between,
            )
            .await
            {
                Ok(rows) => return Ok((rows, pool.len())),
                Err(e) => {
                    web_sys::console::warn_1(
                        &format!("The embedding workers failed ({e}); the page's thread embeds.")
                            .into(),
                    );
                    let mut s = slot.borrow_mut();
                    if matches!(&*s, PoolSlot::Ready(_, p) if Rc::ptr_eq(p, &pool)) {
                        *s = PoolSlot::Failed(active.choice);
                    }
                }
            }
        }
    }
    let rows = embed_all(
        &active.model,
        encoded,
        active.tokenizer.pad_id,
        pooling,
        batch,
        between,
    )
    .await?;
    Ok((rows, 0))
}

/// The workers' rounds: a few of their batches each, so a long list (the
/// STS set) reports progress between rounds.
async fn embed_in_rounds<F, Fut>(
    pool: &EmbedPool,
    encoded: &[Encoded],
    pooling: Pooling,
    d: usize,
    between: &mut F,
) -> Result<Vec<f32>, String>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let round = 4 * WORKER_EMBED_BATCH * pool.len();
    let mut rows = Vec::with_capacity(encoded.len() * d);
    let mut done = 0;
    for part in encoded.chunks(round) {
        rows.extend(pool.embed(part, pooling, d).await?);
        done += part.len();
        between(done).await;
    }
    Ok(rows)
}

/// Alignment and uniformity of the encoder being trained on the probe pairs.
async fn probe_point(
    runner: &SimCseRunner,
    tokenizer: &BertTokenizer,
    eval: &EvalSet,
) -> Result<(f64, f64), String> {
    let (members, pairs) = eval.probe(PROBE_PAIRS);
    let sentences: Vec<&str> = members.iter().map(|&i| eval.sentences[i]).collect();
    let t = tokenize(tokenizer, &sentences, 512).map_err(|e| e.to_string())?;
    let (rows, d) = runner.embed(&t.encoded).await?;
    Ok(align_uniform(&rows, d, &pairs))
}

/// What a step brings back to the page: its report, an alignment/uniformity
/// point every `ALIGN_EVERY` steps, and where it ran.
struct StepOutcome {
    report: SimCseStep,
    point: Option<(f64, f64)>,
    in_worker: bool,
}

/// What the first step of a run builds when there is no model yet.
struct NewRunner {
    active: Rc<Active>,
    files: Option<Rc<Files>>,
    data: Rc<TrainData>,
    /// The compute generation, when the model is to be built in the app's
    /// WebGPU training worker (`app_worker::training_worker`).
    in_worker: Option<u32>,
}

/// A new model: in the app's WebGPU training worker when asked for and it
/// starts, else on the page's thread.
async fn new_runner(new: NewRunner) -> SimCseRunner {
    let active = &new.active;
    let pooling = active.choice.pooling();
    if let (Some(generation), Some(files)) = (new.in_worker, &new.files) {
        let built = match training_worker(generation).await {
            Ok(worker) => {
                let files = EncoderFiles {
                    key: active.choice.key(),
                    config: &files.config,
                    tokenizer: &files.tokenizer,
                    weights: &files.weights,
                };
                SimCseRunner::in_worker(worker, files, &active.model, pooling, TRAIN_LAYERS).await
            }
            Err(e) => Err(e),
        };
        match built {
            Ok(runner) => return runner,
            Err(e) => web_sys::console::warn_1(
                &format!("SimCSE trains on the page's thread: the WebGPU worker failed ({e})")
                    .into(),
            ),
        }
    }
    SimCseRunner::on_page(
        &active.model,
        &active.tokenizer,
        new.data,
        pooling,
        TRAIN_LAYERS,
    )
}

#[component]
pub fn SimCseDemo() -> Html {
    let lang = use_context::<LangCtx>().expect("LangCtx");
    let compute = use_context::<ComputeCtx>().expect("ComputeCtx");
    let state = use_reducer(PageState::default);
    let choice = use_state(|| {
        query_param("enc")
            .and_then(|k| Choice::from_key(&k))
            .unwrap_or(Choice::MiniLm)
    });
    let text = use_state(|| {
        query_param("s")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SENTENCES.join("\n"))
    });
    let query = use_state(|| query_param("q").unwrap_or_else(|| "a musician on stage".into()));
    let new_sentence = use_state(String::new);
    let settings = use_state(Settings::from_query);
    let live_settings = use_mut_ref(|| (*settings).clone());
    *live_settings.borrow_mut() = (*settings).clone();
    let eval = use_memo(settings.sts_pairs, |k| {
        let full = eval_set();
        match k {
            Some(k) => full.subset(*k),
            None => full,
        }
    });
    let files = use_mut_ref(|| None::<(Choice, Rc<Files>)>);
    let pool = use_mut_ref(|| PoolSlot::Off);
    // The encoder as loaded (Reset returns to it; tensors are shared, not copied).
    let base = use_mut_ref(|| None::<(Choice, BertModel, Rc<BertTokenizer>)>);
    let trainer = use_mut_ref(ModelSlot::<SimCseRunner>::default);
    let data = use_mut_ref(|| None::<Rc<TrainData>>);
    let mine = use_mut_ref(Vec::<Encoded>::new);
    let driver = use_memo((), |_| TrainDriver::default());
    let load_runs = (*use_memo((), |_| Latest::default())).clone();
    let embed_runs = (*use_memo((), |_| Latest::default())).clone();
    let rank_runs = (*use_memo((), |_| Latest::default())).clone();
    let sts_runs = (*use_memo((), |_| Latest::default())).clone();

    let device: Option<Device> = match &*compute.status {
        ComputeStatus::Ready(backend) => Some(backend.device.clone()),
        ComputeStatus::Starting => None,
    };

    // Leaving the page ends any training loop.
    {
        let driver = driver.clone();
        use_effect_with((), move |_| move || driver.stop());
    }

    // Load the picked encoder (or rebuild it on a new device). A new encoder
    // or device ends any training run: its tensors belong to the old one.
    {
        let (dispatch, files, base, trainer, driver, lang) = (
            state.dispatcher(),
            files.clone(),
            base.clone(),
            trainer.clone(),
            driver.clone(),
            lang.clone(),
        );
        let device = device.clone();
        let runs = load_runs.clone();
        let pool = pool.clone();
        use_effect_with(
            (*choice, compute.generation, device.is_some()),
            move |&(choice, generation, _)| {
                driver.stop();
                trainer.borrow_mut().clear();
                forget_training_worker_unless(generation);
                dispatch.dispatch(Action::ResetTraining);
                if let Some(device) = device {
                    let run = runs.start();
                    dispatch.dispatch(Action::LoadStarted);
                    wasm_bindgen_futures::spawn_local(async move {
                        let cached = files
                            .borrow()
                            .as_ref()
                            .filter(|(c, _)| *c == choice)
                            .map(|(_, f)| f.clone());
                        let loaded = match cached {
                            Some(f) => Ok(f),
                            None => {
                                let report = |id: &str, p: crate::runtime::loader::Progress| {
                                    if runs.is_current(run) {
                                        dispatch.dispatch(Action::LoadProgress(format!(
                                            "{id}: {} / {}",
                                            format_bytes(p.done),
                                            format_bytes(p.total)
                                        )));
                                    }
                                };
                                let mut ids = vec![
                                    "minilm/config.json",
                                    "minilm/tokenizer.json",
                                    "minilm/model.safetensors",
                                ];
                                if choice != Choice::MiniLm {
                                    ids.push("bert/mlm.safetensors");
                                }
                                let mut bytes = Vec::new();
                                let mut failed = None;
                                for id in ids {
                                    match load_asset(id, &|p| report(id, p)).await {
                                        Ok(l) => bytes.push(l.bytes),
                                        Err(e) => {
                                            failed = Some(format!(
                                                "{id}: {}",
                                                load_error_text(&lang, &e)
                                            ));
                                            break;
                                        }
                                    }
                                }
                                match failed {
                                    Some(e) => Err(e),
                                    None => {
                                        let mut it = bytes.into_iter();
                                        let config = it.next().unwrap_or_default();
                                        let tokenizer = it.next().unwrap_or_default();
                                        Ok(Rc::new(Files {
                                            config,
                                            tokenizer,
                                            weights: it.collect(),
                                        }))
                                    }
                                }
                            }
                        };
                        if !runs.is_current(run) {
                            return;
                        }
                        let files_now = match loaded {
                            Ok(f) => f,
                            Err(e) => return dispatch.dispatch(Action::LoadFailed(e)),
                        };
                        dispatch.dispatch(Action::LoadProgress(
                            lang.t(Text::BertPreparing).to_string(),
                        ));
                        yield_now().await;
                        let built = build(&files_now, &device).await;
                        if !runs.is_current(run) {
                            // A newer choice started while this one was building.
                            return;
                        }
                        match built {
                            Ok((model, tokenizer)) => {
                                // Workers only for the CPU backend: on a GPU the
                                // page's thread only queues work.
                                if device == crate::model::cpu_device() {
                                    start_pool(&pool, choice, files_now.clone());
                                } else {
                                    *pool.borrow_mut() = PoolSlot::Off;
                                }
                                *files.borrow_mut() = Some((choice, files_now));
                                let tokenizer = Rc::new(tokenizer);
                                *base.borrow_mut() =
                                    Some((choice, model.clone(), tokenizer.clone()));
                                if runs.is_current(run) {
                                    dispatch.dispatch(Action::Ready(Box::new(NewEncoder {
                                        choice,
                                        label: choice.short().to_string(),
                                        model,
                                        tokenizer,
                                        as_loaded: true,
                                    })));
                                }
                            }
                            Err(e) => dispatch.dispatch(Action::LoadFailed(e)),
                        }
                    });
                }
            },
        );
    }

    // Embed the list whenever it or the encoder changes (debounced).
    let active = state.active.clone();
    {
        let (dispatch, runs, mine) = (state.dispatcher(), embed_runs.clone(), mine.clone());
        let (lang, pool) = (lang.clone(), pool.clone());
        use_effect_with(
            ((*text).clone(), active.as_ref().map(|a| a.serial)),
            move |(text, _)| {
                let text = text.clone();
                let run = runs.start();
                if let Some(active) = active {
                    wasm_bindgen_futures::spawn_local(async move {
                        if !runs.settled(run, DEBOUNCE_MS).await {
                            return;
                        }
                        let (sentences, skipped) = lines_of(&text);
                        if sentences.is_empty() {
                            return dispatch.dispatch(Action::EmbedFailed(
                                lang.t(Text::SimcseEmptyList).into(),
                            ));
                        }
                        dispatch.dispatch(Action::EmbedStarted);
                        // Timed like a sentence-embedding call elsewhere (transformers.js's
                        // pipeline): tokenize + model + pooling + readback.
                        let t0 = now_ms();
                        let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
                        let tokenized = match tokenize_yielding(
                            &active.tokenizer,
                            &refs,
                            usize::MAX,
                            yield_now,
                        )
                        .await
                        {
                            Ok(t) => t,
                            Err(e) => return dispatch.dispatch(Action::EmbedFailed(e.to_string())),
                        };
                        let mut notices = Vec::new();
                        if skipped > 0 {
                            notices.push(format!("{skipped} {}", lang.t(Text::SimcseSkippedEmpty)));
                        }
                        for (i, cut) in tokenized.cut.iter().enumerate() {
                            if let Some(had) = cut {
                                notices.push(format!(
                                    "#{i} {} {had} {}",
                                    lang.t(Text::SimcseCut),
                                    lang.t(Text::SimcseTokens)
                                ));
                            }
                        }
                        if sentences.len() == 1 {
                            notices.push(lang.t(Text::SimcseOneSentence).into());
                        }
                        let rows = embed_list(
                            &active,
                            &pool,
                            &tokenized.encoded,
                            embed_batch_for(&active.model.pooler.weight.device()),
                            |_| yield_now(),
                        )
                        .await;
                        if !runs.is_current(run) {
                            return;
                        }
                        match rows {
                            Ok((rows, workers)) => {
                                let dim = active.model.hidden_size();
                                // The visitor's own list, cut to training length, for "train on mine".
                                *mine.borrow_mut() =
                                    tokenize(&active.tokenizer, &refs, TRAIN_MAX_TOKENS)
                                        .map(|t| t.encoded)
                                        .unwrap_or_default();
                                let similarity = Rc::new(similarity_matrix(&rows, dim));
                                dispatch.dispatch(Action::Embedded(
                                    Embedded {
                                        sentences,
                                        rows,
                                        dim,
                                        similarity,
                                        serial: active.serial,
                                        ms: now_ms() - t0,
                                        workers,
                                    },
                                    notices,
                                ));
                            }
                            Err(e) => dispatch.dispatch(Action::EmbedFailed(e)),
                        }
                    });
                }
            },
        );
    }

    // Rank the list by similarity to the query.
    {
        let (dispatch, runs) = (state.dispatcher(), rank_runs.clone());
        let embedded = state.embedded.clone();
        let active = state.active.clone();
        use_effect_with(
            (
                (*query).clone(),
                embedded
                    .as_ref()
                    .map(|e| (e.serial, Rc::as_ptr(e) as usize)),
            ),
            move |(query, _)| {
                let query = query.trim().to_string();
                let run = runs.start();
                if let (Some(e), Some(active), false) = (embedded, active, query.is_empty()) {
                    wasm_bindgen_futures::spawn_local(async move {
                        if !runs.settled(run, DEBOUNCE_MS).await {
                            return;
                        }
                        dispatch.dispatch(Action::RankStarted);
                        let result = async {
                            let t = tokenize(&active.tokenizer, &[query.as_str()], usize::MAX)
                                .map_err(|e| e.to_string())?;
                            embed_all(
                                &active.model,
                                &t.encoded,
                                active.tokenizer.pad_id,
                                active.choice.pooling(),
                                1,
                                |_| yield_now(),
                            )
                            .await
                        }
                        .await;
                        if !runs.is_current(run) {
                            return;
                        }
                        match result {
                            Ok(q) => dispatch.dispatch(Action::Ranked(rank(&q, &e.rows, e.dim))),
                            Err(err) => dispatch.dispatch(Action::RankFailed(err)),
                        }
                    });
                }
            },
        );
    }

    // Score every new encoder on the STS pairs (and place it on the plot).
    {
        let (dispatch, runs, eval) = (state.dispatcher(), sts_runs.clone(), eval.clone());
        let active = state.active.clone();
        let (lang, pool) = (lang.clone(), pool.clone());
        // After the encoder's first heatmap, so the two do not share the device.
        let shown = match (&state.active, &state.embedded) {
            (Some(a), Some(e)) => e.serial == a.serial,
            _ => false,
        };
        let key = (active.as_ref().map(|a| a.serial), shown, eval.pairs.len());
        use_effect_with(key, move |(_, shown, _)| {
            let shown = *shown;
            if !shown {
                return;
            }
            let run = runs.start();
            if let Some(active) = active {
                wasm_bindgen_futures::spawn_local(async move {
                    dispatch.dispatch(Action::StsStarted);
                    let result = async {
                        let t =
                            tokenize_yielding(&active.tokenizer, &eval.sentences, 512, yield_now)
                                .await
                                .map_err(|e| e.to_string())?;
                        let total = t.encoded.len();
                        let shown_done = std::cell::Cell::new(0);
                        let (rows, _) = embed_list(&active, &pool, &t.encoded, STS_BATCH, |done| {
                            // Called after every layer: re-render only when a pass ends.
                            if runs.is_current(run) && done != shown_done.replace(done) {
                                dispatch.dispatch(Action::StsProgress(format!(
                                    "{} {done} / {total}",
                                    lang.t(Text::SimcseStsScoring)
                                )));
                            }
                            yield_now()
                        })
                        .await?;
                        let d = active.model.hidden_size();
                        let row = |i: usize| &rows[i * d..(i + 1) * d];
                        let scored = eval.score(&rows, d);
                        // The plot's point, on the same probe pairs as the trajectory.
                        let (members, pairs) = eval.probe(PROBE_PAIRS);
                        let probe_rows: Vec<f32> = members
                            .iter()
                            .flat_map(|&i| row(i).iter().copied())
                            .collect();
                        Ok::<_, String>((
                            Score {
                                label: active.label.clone(),
                                pairs: eval.pairs.len(),
                                spearman: scored.spearman,
                                align: scored.align,
                                uniform: scored.uniform,
                            },
                            align_uniform(&probe_rows, d, &pairs),
                        ))
                    }
                    .await;
                    if !runs.is_current(run) {
                        return;
                    }
                    match result {
                        Ok((score, probe)) => dispatch.dispatch(Action::Scored { score, probe }),
                        Err(e) => dispatch.dispatch(Action::StsFailed(e)),
                    }
                });
            }
        });
    }

    let start_training = {
        let (state, trainer, data, mine, driver, live, eval, files) = (
            state.clone(),
            trainer.clone(),
            data.clone(),
            mine.clone(),
            driver.clone(),
            live_settings.clone(),
            eval.clone(),
            files.clone(),
        );
        let webgpu = matches!(&*compute.status,
            ComputeStatus::Ready(backend) if matches!(backend.kind, BackendKind::WebGpu { .. }));
        let generation = compute.generation;
        Callback::from(move |objective: Objective| {
            let dispatch = state.dispatcher();
            let Some(active) = state.active.clone() else {
                return;
            };
            if driver.is_running() {
                return;
            }
            if data.borrow().is_none() {
                match train_data(&active.tokenizer) {
                    Ok(d) => *data.borrow_mut() = Some(Rc::new(d)),
                    Err(e) => return dispatch.dispatch(Action::TrainFailed(e)),
                }
            }
            let Some(train_set) = data.borrow().clone() else {
                return;
            };
            let on_mine = live.borrow().on_mine && objective == Objective::Unsupervised;
            if on_mine && mine.borrow().len() < 2 {
                return dispatch.dispatch(Action::TrainFailed(
                    crate::model::simcse::SimCseError::TooFewSentences {
                        have: mine.borrow().len(),
                    }
                    .to_string(),
                ));
            }
            // A new model is built by the run's first step (in a worker that
            // is an asynchronous start). The worker loads the encoder from
            // its files, so it trains only the encoder as loaded.
            let build = trainer.borrow().runner.is_none().then(|| NewRunner {
                active: active.clone(),
                files: files
                    .borrow()
                    .as_ref()
                    .filter(|(c, _)| *c == active.choice)
                    .map(|(_, f)| f.clone()),
                data: train_set,
                in_worker: (webgpu
                    && active.as_loaded
                    && train_in_worker(query_param("workers").as_deref()))
                .then_some(generation),
            });
            dispatch.dispatch(Action::TrainStarted);
            let base_choice = active.choice;
            let base_label = active.choice.short().to_string();
            let tokenizer = active.tokenizer.clone();
            let step = {
                let (trainer, live, mine, eval, tokenizer) = (
                    trainer.clone(),
                    live.clone(),
                    mine.clone(),
                    eval.clone(),
                    tokenizer.clone(),
                );
                let build = Rc::new(RefCell::new(build));
                move || {
                    let settings = SimCseSettings {
                        objective,
                        ..live.borrow().core.clone()
                    };
                    let (trainer, mine, eval, tokenizer, build) = (
                        trainer.clone(),
                        mine.clone(),
                        eval.clone(),
                        tokenizer.clone(),
                        build.clone(),
                    );
                    async move {
                        let pending = build.borrow_mut().take();
                        let (epoch, mut taken) =
                            take_or_build(&trainer, pending, new_runner).await?;
                        let own = on_mine.then(|| mine.borrow().clone());
                        let result = taken.step(&settings, own.as_deref()).await;
                        let point = match &result {
                            Ok(r) if r.step % ALIGN_EVERY == 0 || r.step == 1 => {
                                yield_now().await;
                                probe_point(&taken, &tokenizer, &eval).await.ok()
                            }
                            _ => None,
                        };
                        let in_worker = taken.in_a_worker();
                        trainer.borrow_mut().put_back(epoch, taken);
                        result
                            .map(|report| StepOutcome {
                                report,
                                point,
                                in_worker,
                            })
                            .map_err(|e| e.to_string())
                    }
                }
            };
            let publish = {
                let (trainer, dispatch) = (trainer.clone(), dispatch.clone());
                let tokenizer = tokenizer.clone();
                move || {
                    let slot = trainer.borrow();
                    let Some(runner) = slot.runner.as_ref().filter(|r| r.steps_done() > 0) else {
                        return;
                    };
                    let (steps, epoch) = (runner.steps_done(), slot.epoch);
                    // From a worker: the trained layers' readback and copy.
                    let encoder = runner.trained_encoder();
                    let (trainer, dispatch, tokenizer) =
                        (trainer.clone(), dispatch.clone(), tokenizer.clone());
                    let label = format!("{base_label} + SimCSE {steps}");
                    wasm_bindgen_futures::spawn_local(async move {
                        let encoder = encoder.await;
                        if trainer.borrow().epoch != epoch {
                            return; // Reset (or a new encoder) meanwhile.
                        }
                        match encoder {
                            Ok(model) => dispatch.dispatch(Action::Ready(Box::new(NewEncoder {
                                choice: base_choice,
                                label,
                                model,
                                tokenizer,
                                as_loaded: false,
                            }))),
                            Err(e) => dispatch.dispatch(Action::TrainFailed(e)),
                        }
                    });
                }
            };
            let events = Callback::from(move |event: DriverEvent<StepOutcome>| match event {
                DriverEvent::Step {
                    report:
                        StepOutcome {
                            report,
                            point,
                            in_worker,
                        },
                    step_ms,
                } => dispatch.dispatch(Action::Stepped {
                    report,
                    point,
                    step_ms,
                    in_worker,
                }),
                DriverEvent::Stopped => {
                    dispatch.dispatch(Action::TrainStopped);
                    publish();
                }
                DriverEvent::Failed(e) => {
                    dispatch.dispatch(Action::TrainFailed(e));
                    publish();
                }
            });
            let budget = live.borrow().budget;
            driver.start(budget, step, events);
        })
    };

    let on_pause = {
        let driver = driver.clone();
        Callback::from(move |_: MouseEvent| driver.pause())
    };
    let on_reset = {
        let (driver, trainer, dispatch, base) = (
            driver.clone(),
            trainer.clone(),
            state.dispatcher(),
            base.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            driver.stop();
            trainer.borrow_mut().clear();
            dispatch.dispatch(Action::ResetTraining);
            // Back to the encoder as loaded.
            if let Some((choice, model, tokenizer)) = base.borrow().clone() {
                dispatch.dispatch(Action::Ready(Box::new(NewEncoder {
                    choice,
                    label: choice.short().to_string(),
                    model,
                    tokenizer,
                    as_loaded: true,
                })));
            }
        })
    };
    let on_two_views = {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| {
            let dispatch = state.dispatcher();
            let (Some(active), Some(embedded)) = (state.active.clone(), state.embedded.clone())
            else {
                return;
            };
            let Some(first) = embedded.sentences.first().cloned() else {
                return;
            };
            dispatch.dispatch(Action::TwoViewsStarted);
            wasm_bindgen_futures::spawn_local(async move {
                let result = async {
                    let t = tokenize(&active.tokenizer, &[first.as_str()], usize::MAX)
                        .map_err(|e| e.to_string())?;
                    // A training-mode copy: dropout active, as in a SimCSE step.
                    let training = active.model.clone().train();
                    two_dropout_views(
                        &training,
                        &t.encoded[0],
                        active.tokenizer.pad_id,
                        active.choice.pooling(),
                    )
                    .await
                    .map_err(|e| e.to_string())
                }
                .await;
                dispatch.dispatch(Action::TwoViews(result));
            });
        })
    };

    let on_choice = {
        let choice = choice.clone();
        Callback::from(move |e: Event| {
            let Some(select) = e.target_dyn_into::<web_sys::HtmlSelectElement>() else {
                return;
            };
            if let Some(c) = Choice::from_key(&select.value()) {
                set_query_param("enc", Some(c.key()));
                choice.set(c);
            }
        })
    };
    let on_text = {
        let text = text.clone();
        Callback::from(move |e: InputEvent| {
            let Some(area) = e.target_dyn_into::<web_sys::HtmlTextAreaElement>() else {
                return;
            };
            let value = area.value();
            set_query_param("s", (value.len() <= 2000).then_some(value.as_str()));
            text.set(value);
        })
    };
    let set_text = {
        let text = text.clone();
        Callback::from(move |value: String| {
            set_query_param("s", (value.len() <= 2000).then_some(value.as_str()));
            text.set(value);
        })
    };
    let on_add = {
        let (text, new_sentence, set_text) = (text.clone(), new_sentence.clone(), set_text.clone());
        Callback::from(move |_: ()| {
            let line = new_sentence.trim().to_string();
            if line.is_empty() {
                return;
            }
            let (mut lines, _) = lines_of(&text);
            lines.push(line);
            set_text.emit(lines.join("\n"));
            new_sentence.set(String::new());
        })
    };
    let on_new_input = {
        let new_sentence = new_sentence.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() {
                new_sentence.set(input.value());
            }
        })
    };
    let on_new_key = {
        let on_add = on_add.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Enter" {
                e.prevent_default();
                on_add.emit(());
            }
        })
    };
    let remove = {
        let (text, set_text) = (text.clone(), set_text.clone());
        move |index: usize| {
            let (text, set_text) = (text.clone(), set_text.clone());
            Callback::from(move |_: MouseEvent| {
                let (lines, _) = lines_of(&text);
                let kept: Vec<&str> = lines
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != index)
                    .map(|(_, l)| l.as_str())
                    .collect();
                set_text.emit(kept.join("\n"));
            })
        }
    };
    let on_query = {
        let query = query.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() {
                set_query_param("q", Some(&input.value()));
                query.set(input.value());
            }
        })
    };
    let update = |f: fn(&mut Settings, String)| {
        let settings = settings.clone();
        Callback::from(move |e: Event| {
            let value = if let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() {
                if input.type_() == "checkbox" {
                    input.checked().to_string()
                } else {
                    input.value()
                }
            } else if let Some(select) = e.target_dyn_into::<web_sys::HtmlSelectElement>() {
                select.value()
            } else {
                return;
            };
            let mut next = (*settings).clone();
            f(&mut next, value);
            next.write_query();
            settings.set(next);
        })
    };
    let train = |objective: Objective| {
        let start = start_training.clone();
        Callback::from(move |_: MouseEvent| start.emit(objective))
    };

    let s = &*state;
    let cfg = &*settings;
    let running = s.train == Phase::Running;
    let ready = s.active.is_some() && device.is_some();
    let last_loss = s.losses.last().map(|p| p.1);
    let (lines, _) = lines_of(&text);
    let describe = s.embedded.as_ref().map(|e| {
        let names = Rc::new(e.sentences.clone());
        Callback::from(move |(i, j, v): (usize, usize, f32)| {
            let short = |k: usize| {
                let s = names.get(k).map(String::as_str).unwrap_or("");
                let cut: String = s.chars().take(40).collect();
                if cut.len() < s.len() {
                    format!("{cut}…")
                } else {
                    cut
                }
            };
            format!("#{i} “{}” · #{j} “{}”: cos {v:.3}", short(i), short(j))
        })
    });
    let full_pairs = *use_memo((), |_| eval_set().pairs.len());
    let mut sts_choices = vec![full_pairs, 100, 30];
    if !sts_choices.contains(&eval.pairs.len()) {
        sts_choices.push(eval.pairs.len());
    }
    sts_choices.retain(|&k| k <= full_pairs);
    let sts_value = s
        .active
        .as_ref()
        .and_then(|a| s.scores.iter().find(|sc| sc.label == a.label))
        .map(|sc| sc.spearman);

    html! {
        <section class="page demo simcse" data-testid="demo-simcse">
            <h1>{ "SimCSE" }</h1>
            <p class="quadrant">{ format!("{} · {}", lang.t(Text::Discriminative), lang.t(Text::Language)) }</p>
            <p class="intro">{ lang.t(Text::SimcseIntro) }</p>

            <div class="row">
                <label>{ lang.t(Text::SimcseEncoder) }{ " " }
                    <select data-testid="simcse-encoder-picker" onchange={on_choice} disabled={running}>
                        { for Choice::ALL.iter().map(|c| html! {
                            <option value={c.key()} selected={*c == *choice}>{ lang.t(c.text()) }</option>
                        }) }
                    </select>
                </label>
                <span data-testid="simcse-encoder-status" data-state={s.load.attr()}
                      data-encoder={s.active.as_ref().map(|a| a.label.clone()).unwrap_or_default()}>
                    { match s.load {
                        Phase::Running => format!("{} {}", lang.t(Text::SimcseLoading), s.load_text),
                        _ => s.active.as_ref().map(|a| a.label.clone()).unwrap_or_default(),
                    } }
                </span>
            </div>
            <p class="muted">{ lang.t(Text::SimcseEncoderNote) }</p>
            if let Some(e) = &s.load_error {
                <p class="error" role="alert" data-testid="simcse-load-error">{ e }</p>
            }
            if device.is_none() {
                <p class="muted">{ lang.t(Text::WaitingForBackend) }</p>
            }

            <div class="panels">
                <div class="panel">
                    <label for="simcse-sentences">{ lang.t(Text::SimcseSentencesLabel) }</label>
                    <textarea id="simcse-sentences" data-testid="simcse-sentences" rows="12" value={(*text).clone()} oninput={on_text} spellcheck="false" />
                    <div class="row">
                        <input type="text" data-testid="simcse-new-sentence" placeholder={lang.t(Text::SimcseAddPlaceholder)}
                               value={(*new_sentence).clone()} oninput={on_new_input} onkeydown={on_new_key} aria-label={lang.t(Text::SimcseAddPlaceholder)} />
                        <button type="button" data-testid="simcse-add" onclick={let a = on_add.clone(); Callback::from(move |_: MouseEvent| a.emit(()))}>{ lang.t(Text::SimcseAdd) }</button>
                    </div>
                    <ol class="simcse-sentence-list" start="0">
                        { for lines.iter().take(MAX_LISTED).enumerate().map(|(i, line)| html! {
                            <li>
                                { line.chars().take(120).collect::<String>() }{ " " }
                                <button type="button" class="link" data-testid={format!("simcse-remove-{i}")} onclick={remove(i)}
                                        aria-label={format!("{} #{i}", lang.t(Text::SimcseRemove))}>{ "×" }</button>
                            </li>
                        }) }
                    </ol>
                    if lines.len() > MAX_LISTED {
                        <p class="muted">{ format!("… +{}", lines.len() - MAX_LISTED) }</p>
                    }
                    { for s.notices.iter().map(|n| html! { <p class="notice" role="status" data-testid="simcse-notice">{ n }</p> }) }
                    if let Some(e) = &s.embed_error {
                        <p class="error" role="alert" data-testid="simcse-embed-error">{ e }</p>
                    }
                </div>
                <div class="panel" data-testid="simcse-heatmap-panel" data-state={s.embed.attr()}
                     data-ms={s.embedded.as_ref().map(|e| format!("{:.1}", e.ms)).unwrap_or_default()}
                     data-workers={s.embedded.as_ref().map(|e| e.workers.to_string()).unwrap_or_default()}>
                    <p class="muted">{ lang.t(Text::SimcseHeatmapCaption) }</p>
                    if let Some(e) = &s.embedded {
                        <Heatmap values={e.similarity.clone()} n={e.sentences.len()} testid="simcse-heatmap"
                                 describe={describe.clone()} cell_testid={Some(AttrValue::from("simcse-cell"))} />
                    } else {
                        <figure class="heatmap" data-testid="simcse-heatmap" data-n="0"></figure>
                    }
                </div>
            </div>

            <div class="panels">
                <div class="panel">
                    <label>{ lang.t(Text::SimcseQueryLabel) }
                        <input type="search" data-testid="simcse-query" value={(*query).clone()} oninput={on_query}
                               placeholder={lang.t(Text::SimcseQueryPlaceholder)} />
                    </label>
                    <p class="muted">{ lang.t(Text::SimcseRanking) }</p>
                    <ol class="simcse-ranking" data-testid="simcse-ranking" data-state={s.rank_phase.attr()}>
                        { for s.ranking.iter().take(10).enumerate().filter_map(|(k, &(i, cos))| s.embedded.as_ref().and_then(|e| e.sentences.get(i)).map(|line| html! {
                            <li data-testid={format!("simcse-rank-{k}")} data-index={i.to_string()} data-value={cos.to_string()}>
                                { format!("{cos:.3} · #{i} {}", line.chars().take(100).collect::<String>()) }
                            </li>
                        })) }
                    </ol>
                    if let Some(e) = &s.rank_error {
                        <p class="error" role="alert">{ e }</p>
                    }
                </div>
                <div class="panel">
                    <p>{ lang.t(Text::SimcseStsTitle) }</p>
                    <label class="muted">{ format!("{} ", lang.t(Text::SimcseStsNote)) }
                        <select data-testid="simcse-sts-pairs" disabled={s.sts == Phase::Running}
                                onchange={update(|s, v| s.sts_pairs = v.parse::<usize>().ok().filter(|&k| k < eval_set().pairs.len()))}>
                            { for sts_choices.iter().map(|&k| html! {
                                <option value={k.to_string()} selected={k == eval.pairs.len()}>{ k.to_string() }</option>
                            }) }
                        </select>
                    </label>
                    <p class="big" data-testid="simcse-sts-score" data-state={s.sts.attr()}
                       data-value={sts_value.map(|v| v.to_string()).unwrap_or_default()}>
                        { match (s.sts, sts_value) {
                            (Phase::Running, _) => s.sts_text.clone(),
                            (_, Some(v)) => format!("Spearman ρ = {v:.3}"),
                            (Phase::Error, None) => s.sts_text.clone(),
                            _ => String::new(),
                        } }
                    </p>
                    if !s.scores.is_empty() {
                        <table class="sts-table" data-testid="simcse-sts-table">
                            <tr><th>{ lang.t(Text::SimcseEncoderColumn) }</th><th>{ lang.t(Text::SimcsePairsColumn) }</th><th>{ "Spearman ρ ↑" }</th><th>{ lang.t(Text::SimcseAlignColumn) }</th><th>{ lang.t(Text::SimcseUniformColumn) }</th></tr>
                            { for s.scores.iter().map(|sc| html! {
                                <tr data-label={sc.label.clone()} data-value={sc.spearman.to_string()}>
                                    <td>{ sc.label.clone() }</td>
                                    <td>{ sc.pairs }</td>
                                    <td>{ format!("{:.3}", sc.spearman) }</td>
                                    <td>{ format!("{:.3}", sc.align) }</td>
                                    <td>{ format!("{:.3}", sc.uniform) }</td>
                                </tr>
                            }) }
                        </table>
                    }
                </div>
            </div>

            <h2>{ lang.t(Text::SimcseTrainTitle) }</h2>
            <p class="muted">{ lang.t(Text::SimcseTrainNote) }</p>
            <div class="row">
                <button type="button" data-testid="simcse-two-views-run" onclick={on_two_views}
                        disabled={!ready || s.embedded.is_none() || running}>{ lang.t(Text::SimcseTwoViews) }</button>
                <span data-testid="simcse-two-views" data-state={s.two_views.attr()}
                      data-value={s.two_views_value.map(|v| v.to_string()).unwrap_or_default()}>
                    { s.two_views_value.map(|v| format!("{}: {v:.4}", lang.t(Text::SimcseTwoViewsResult))).unwrap_or_default() }
                </span>
            </div>
            <div class="controls">
                <label>{ lang.t(Text::Temperature) }
                    <select data-testid="simcse-tau" onchange={update(|s, v| s.core.temperature = v.parse().unwrap_or(0.05))}>
                        { for ["0.02", "0.05", "0.1", "0.2", "0.5", "1"].iter().map(|v| html! {
                            <option value={*v} selected={(v.parse::<f32>().unwrap_or(0.0) - cfg.core.temperature).abs() < 1e-6}>{ *v }</option>
                        }) }
                    </select>
                </label>
                <label>{ lang.t(Text::BatchSize) }
                    <input type="number" min="2" max="64" value={cfg.core.batch.to_string()} data-testid="simcse-batch"
                           onchange={update(|s, v| s.core.batch = v.parse::<usize>().unwrap_or(8).clamp(2, 64))} />
                </label>
                <label>{ lang.t(Text::LearningRate) }
                    <select data-testid="simcse-lr" onchange={update(|s, v| s.core.learning_rate = v.parse().unwrap_or(3e-5))}>
                        { for ["0.00001", "0.00003", "0.0001", "0.0003", "0.001"].iter().map(|v| html! {
                            <option value={*v} selected={(v.parse::<f64>().unwrap_or(0.0) - cfg.core.learning_rate).abs() < 1e-12}>{ *v }</option>
                        }) }
                    </select>
                </label>
                <label>{ lang.t(Text::StepBudget) }
                    <input type="number" min="1" max="2000" value={cfg.budget.to_string()} data-testid="simcse-steps"
                           onchange={update(|s, v| s.budget = v.parse::<usize>().unwrap_or(30).clamp(1, 2000))} />
                </label>
                <label>
                    <input type="checkbox" checked={cfg.on_mine} data-testid="simcse-train-on-mine"
                           onchange={update(|s, v| s.on_mine = v == "true")} />
                    { lang.t(Text::SimcseTrainOnMine) }
                </label>
            </div>
            <div class="row">
                <button type="button" data-testid="simcse-train-unsup" onclick={train(Objective::Unsupervised)} disabled={running || !ready}>{ lang.t(Text::SimcseTrainUnsup) }</button>
                <button type="button" data-testid="simcse-train-sup" onclick={train(Objective::Supervised)} disabled={running || !ready}>{ lang.t(Text::SimcseTrainSup) }</button>
                <button type="button" data-testid="simcse-pause" onclick={on_pause} disabled={!running}>{ lang.t(Text::Pause) }</button>
                <button type="button" data-testid="simcse-reset" onclick={on_reset} disabled={running}>{ lang.t(Text::Reset) }</button>
                <span data-testid="simcse-step" data-value={s.step.to_string()} data-state={s.train.attr()}
                      data-thread={if s.in_worker { "worker" } else { "page" }}
                      data-workers-started={training_workers_started().to_string()}>
                    { format!("{} {}", lang.t(Text::StepLabel), s.step) }
                </span>
                <span data-testid="simcse-steps-per-second">
                    { s.throughput.steps_per_second().map(|v| format!("{v:.2} {}", lang.t(Text::StepsPerSecond))).unwrap_or_default() }
                </span>
                <span data-testid="simcse-loss-last" data-value={last_loss.map(|v| v.to_string()).unwrap_or_default()}>
                    { last_loss.map(|v| format!("{} {v:.4}", lang.t(Text::LastLoss))).unwrap_or_default() }
                </span>
            </div>
            if let Some(e) = &s.train_error {
                <p class="error" role="alert" data-testid="simcse-error">{ e }</p>
            }
            <div class="panels">
                <div class="panel">
                    <LossPlot points={s.losses.clone()} testid="simcse-loss-plot" state={s.train.attr()} />
                </div>
                <div class="panel">
                    <AlignUniformPlot references={s.references.clone()} trajectory={s.trajectory.clone()}
                                      testid="simcse-align-uniform-plot" state={s.train.attr()} />
                    <p class="muted">{ lang.t(Text::SimcseAlignUniformCaption) }</p>
                </div>
            </div>
        </section>
    }
}

//! The BERT demo (/bert): fill-mask with top-5 bars, the token strip with
//! segment ids and each token's three input embeddings, the MLM 80/10/10
//! rule drawn live, next-sentence prediction, the attention maps, a model
//! picker (the bundled model, Hugging Face Hub presets, any URL), and a tiny
//! BERT that learns in the browser. The model and everything it computes are
//! `crate::model::{bert, bert_loader, fill_mask, mlm, bert_views,
//! bert_learn}`; the pure page logic is `bert_logic`; this file only wires
//! them to the page.

use std::cell::Cell;
use std::rc::Rc;

use burn::tensor::Device;
use yew::prelude::*;

use super::app::{query_param as query, set_query_param, ComputeCtx, ComputeStatus, LangCtx};
use super::bert_logic::{
    check_model_url, sample_documents, sample_pair, ClickedMasks, ModelChoice, HUB_PRESETS, MASK,
};
use super::charts::{diverging, Heatmap, LossPlot};
use super::i18n::Text;
use super::train_driver::{DriverEvent, Throughput, TrainDriver};
use super::widgets::{load_error_text, params_text, Latest, Phase};
use crate::model::bert::{BertConfig, BertForPreTraining};
use crate::model::bert_learn::{LiveBert, LiveBertSettings};
use crate::model::bert_loader::{
    load_fill_mask_model_yielding, parse_bert_config, LoadedBert, TokenizerFile,
};
use crate::model::bert_tokenizer::{BertTokenizer, Encoded, TokenizeError};
use crate::model::bert_views::{attention_maps, embedding_parts, EmbeddingParts};
use crate::model::fill_mask::{fill_mask_yielding, words};
use crate::model::mlm::{is_next_probability, Corruption, CorruptionTally, MlmRule};
use crate::model::rng::Rng;
use crate::runtime::assets::format_bytes;
use crate::runtime::event_loop::{now_ms, yield_now};
use crate::runtime::loader::{load_asset, load_url, LoadError, Progress};

const DEFAULT_TEXT: &str = "The capital of France is [MASK].";
const TOP_K: usize = 5;
/// "Updates as you type": this long after the last keystroke.
const DEBOUNCE_MS: i32 = 300;
const LEARN_PROBE: &str = "the cat sat on the [MASK].";
const LEARN_STEPS: usize = 300;
const LEARN_PREDICT_EVERY: usize = 10;

/// A checkpoint's files, kept so the model can be rebuilt on a new device
/// (backend switch, lost GPU) without downloading again.
struct ModelFiles {
    config: Vec<u8>,
    tokenizer: TokenizerBytes,
    weights: Vec<Vec<u8>>,
}

enum TokenizerBytes {
    Json(Vec<u8>),
    VocabTxt(String),
}

/// The model the page runs, on one device.
struct Active {
    choice: ModelChoice,
    files: Rc<ModelFiles>,
    config: BertConfig,
    model: BertForPreTraining,
    tokenizer: Rc<BertTokenizer>,
    generation: u32,
    serial: u64,
}

impl Active {
    fn new(
        choice: ModelChoice,
        files: Rc<ModelFiles>,
        loaded: LoadedBert,
        generation: u32,
        serial: u64,
    ) -> Rc<Self> {
        Rc::new(Active {
            choice,
            files,
            config: loaded.config,
            model: loaded.model,
            tokenizer: Rc::new(loaded.tokenizer),
            generation,
            serial,
        })
    }
}

/// Builds the model in pieces, yielding to the browser between them (the
/// synchronous build was one 270 ms task).
async fn build(files: &ModelFiles, device: &Device) -> Result<LoadedBert, String> {
    let weights: Vec<&[u8]> = files.weights.iter().map(|w| w.as_slice()).collect();
    let tokenizer = match &files.tokenizer {
        TokenizerBytes::Json(b) => TokenizerFile::Json(b),
        TokenizerBytes::VocabTxt(t) => TokenizerFile::VocabTxt(t),
    };
    load_fill_mask_model_yielding(&files.config, &weights, tokenizer, device, yield_now).await
}

/// Builds the model from its files on `device` and hands it to the page (a
/// first load, a new choice, or the same files on a new device).
async fn build_and_publish(
    choice: ModelChoice,
    files: Rc<ModelFiles>,
    device: &Device,
    generation: u32,
    serial: &Rc<std::cell::RefCell<u64>>,
    dispatch: &UseReducerDispatcher<PageState>,
    still_wanted: &dyn Fn() -> bool,
) {
    // Let "preparing" paint before the build.
    yield_now().await;
    let built = build(&files, device).await;
    if !still_wanted() {
        // A newer choice started while this one was building.
        return;
    }
    match built {
        Ok(bert) => {
            *serial.borrow_mut() += 1;
            let s = *serial.borrow();
            dispatch.dispatch(Action::ModelReady(Active::new(
                choice, files, bert, generation, s,
            )));
        }
        Err(e) => dispatch.dispatch(Action::ModelFailed(e)),
    }
}

/// Downloads (or reads from the cache) a checkpoint's files, with progress
/// per file as (file name, bytes done, bytes total).
async fn fetch_files(
    choice: &ModelChoice,
    lang: &LangCtx,
    report: &dyn Fn(String, Progress),
) -> Result<ModelFiles, String> {
    let failed = |what: &str, e: &LoadError| format!("{what}: {}", load_error_text(lang, e));
    match choice.folder() {
        None => {
            let get = |id: &'static str| async move {
                load_asset(id, &|p| report(id.to_string(), p))
                    .await
                    .map(|l| l.bytes)
                    .map_err(|e| failed(id, &e))
            };
            Ok(ModelFiles {
                config: get("minilm/config.json").await?,
                tokenizer: TokenizerBytes::Json(get("minilm/tokenizer.json").await?),
                weights: vec![
                    get("minilm/model.safetensors").await?,
                    get("bert/mlm.safetensors").await?,
                ],
            })
        }
        Some(folder) => {
            let get = |file: &'static str| {
                let url = format!("{folder}{file}");
                async move {
                    load_url(&url, &|p| report(file.to_string(), p))
                        .await
                        .map(|l| l.bytes)
                        .map_err(|e| (failed(&url, &e), e))
                }
            };
            let config = get("config.json").await.map_err(|(m, _)| m)?;
            // Not BERT: say so before downloading its weights.
            parse_bert_config(&config)?;
            let tokenizer = match get("tokenizer.json").await {
                Ok(bytes) => TokenizerBytes::Json(bytes),
                // Older checkpoints (google/bert_uncased_L-*) ship vocab.txt only.
                Err((_, LoadError::Http(404))) => {
                    let bytes = get("vocab.txt").await.map_err(|(m, _)| {
                        format!("{m} The folder has neither tokenizer.json nor vocab.txt.")
                    })?;
                    TokenizerBytes::VocabTxt(
                        String::from_utf8(bytes)
                            .map_err(|_| "vocab.txt is not UTF-8 text.".to_string())?,
                    )
                }
                Err((m, _)) => return Err(m),
            };
            let weights = match get("model.safetensors").await {
                Ok(bytes) => bytes,
                // Older checkpoints ship PyTorch's format only; the loader reads it too.
                Err((_, LoadError::Http(404))) => {
                    get("pytorch_model.bin").await.map_err(|(m, _)| {
                        format!(
                            "{m} The folder has neither model.safetensors nor pytorch_model.bin."
                        )
                    })?
                }
                Err((m, _)) => return Err(m),
            };
            Ok(ModelFiles {
                config,
                tokenizer,
                weights: vec![weights],
            })
        }
    }
}

/// Top-k candidates of one [MASK]: (word piece, probability).
type MaskPredictions = Vec<(String, f32)>;
/// `maps[layer][head]`, each t×t row-major.
type AttentionMaps = Vec<Vec<Vec<f32>>>;
/// One step of the tiny BERT: (step, loss, the probe's predictions when read).
type LearnReport = (usize, f32, Option<Result<MaskPredictions, String>>);

#[derive(Clone, PartialEq, Default)]
struct Predictions {
    phase: Phase,
    /// The text they were computed for.
    text: String,
    masks: Rc<Vec<MaskPredictions>>,
    ms: Option<f64>,
    error: Option<String>,
}

#[derive(Clone, PartialEq, Default)]
struct Nsp {
    phase: Phase,
    is_next: Option<f32>,
    error: Option<String>,
}

#[derive(Clone, PartialEq, Default)]
struct Attention {
    phase: Phase,
    tokens: Rc<Vec<String>>,
    /// maps[layer][head], t×t row-major.
    maps: Rc<AttentionMaps>,
    error: Option<String>,
}

#[derive(Clone, PartialEq, Default)]
struct Parts {
    phase: Phase,
    index: Option<usize>,
    token: String,
    parts: Option<Rc<EmbeddingParts>>,
    error: Option<String>,
}

/// One draw of the MLM rule over the current sentence.
#[derive(Clone, PartialEq)]
struct CorruptExample {
    shown: Vec<String>,
    original: Vec<String>,
    kinds: Vec<Corruption>,
}

#[derive(Clone, PartialEq, Default)]
struct Learn {
    phase: Phase,
    points: Rc<Vec<(usize, f32)>>,
    predictions: Rc<MaskPredictions>,
    predicted_at: usize,
    throughput: Throughput,
    params: usize,
    error: Option<String>,
}

#[derive(Clone, Default)]
struct PageState {
    model_phase: Phase,
    model_progress: Option<(String, Progress)>,
    model_error: Option<String>,
    active: Option<Rc<Active>>,
    predictions: Predictions,
    nsp: Nsp,
    attention: Attention,
    parts: Parts,
    corrupt: Option<CorruptExample>,
    tally: CorruptionTally,
    draws: usize,
    learn: Learn,
}

impl PartialEq for PageState {
    fn eq(&self, _: &Self) -> bool {
        false // every dispatch is a change worth rendering
    }
}

enum Action {
    ModelLoading,
    ModelProgress(String, Progress),
    ModelReady(Rc<Active>),
    ModelFailed(String),
    PredictionsRunning,
    Predicted(Predictions),
    PredictionsIdle,
    NspRunning,
    NspDone(Result<f32, String>),
    AttentionRunning,
    AttentionDone(Result<(Vec<String>, AttentionMaps), String>),
    PartsRunning(usize, String),
    PartsDone(Result<EmbeddingParts, String>),
    PartsClosed,
    Corrupted(CorruptExample, CorruptionTally, usize),
    LearnStarted(usize),
    LearnStep {
        step: usize,
        loss: f32,
        step_ms: f64,
        predictions: Option<Result<MaskPredictions, String>>,
    },
    LearnStopped,
    LearnFailed(String),
    LearnReset,
}

impl Reducible for PageState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = (*self).clone();
        match action {
            Action::ModelLoading => {
                s.model_phase = Phase::Running;
                s.model_error = None;
                s.model_progress = None;
            }
            Action::ModelProgress(file, p) => s.model_progress = Some((file, p)),
            Action::ModelReady(active) => {
                s.model_phase = Phase::Done;
                s.model_progress = None;
                s.active = Some(active);
                s.attention = Attention::default();
                s.parts = Parts::default();
            }
            Action::ModelFailed(e) => {
                // The previous model (if any) stays.
                s.model_phase = Phase::Error;
                s.model_error = Some(e);
                s.model_progress = None;
            }
            Action::PredictionsRunning => {
                s.predictions.phase = Phase::Running;
                s.predictions.error = None;
            }
            Action::Predicted(p) => s.predictions = p,
            Action::PredictionsIdle => {
                s.predictions = Predictions::default();
            }
            Action::NspRunning => {
                s.nsp.phase = Phase::Running;
                s.nsp.error = None;
            }
            Action::NspDone(r) => match r {
                Ok(p) => {
                    s.nsp = Nsp {
                        phase: Phase::Done,
                        is_next: Some(p),
                        error: None,
                    }
                }
                Err(e) => {
                    s.nsp = Nsp {
                        phase: Phase::Error,
                        is_next: None,
                        error: Some(e),
                    }
                }
            },
            Action::AttentionRunning => {
                s.attention.phase = Phase::Running;
                s.attention.error = None;
            }
            Action::AttentionDone(r) => match r {
                Ok((tokens, maps)) => {
                    s.attention = Attention {
                        phase: Phase::Done,
                        tokens: Rc::new(tokens),
                        maps: Rc::new(maps),
                        error: None,
                    }
                }
                Err(e) => {
                    s.attention.phase = Phase::Error;
                    s.attention.error = Some(e);
                }
            },
            Action::PartsRunning(i, token) => {
                s.parts = Parts {
                    phase: Phase::Running,
                    index: Some(i),
                    token,
                    parts: None,
                    error: None,
                }
            }
            Action::PartsDone(r) => match r {
                Ok(p) => {
                    s.parts.phase = Phase::Done;
                    s.parts.parts = Some(Rc::new(p));
                }
                Err(e) => {
                    s.parts.phase = Phase::Error;
                    s.parts.error = Some(e);
                }
            },
            Action::PartsClosed => s.parts = Parts::default(),
            Action::Corrupted(example, tally, draws) => {
                s.corrupt = Some(example);
                s.tally = tally;
                s.draws = draws;
            }
            Action::LearnStarted(params) => {
                s.learn.phase = Phase::Running;
                s.learn.error = None;
                s.learn.params = params;
            }
            Action::LearnStep {
                step,
                loss,
                step_ms,
                predictions,
            } => {
                let mut points = (*s.learn.points).clone();
                points.push((step, loss));
                s.learn.points = Rc::new(points);
                s.learn.throughput.record(step_ms);
                match predictions {
                    Some(Ok(p)) => {
                        s.learn.predictions = Rc::new(p);
                        s.learn.predicted_at = step;
                        s.learn.error = None;
                    }
                    Some(Err(e)) => s.learn.error = Some(e),
                    None => {}
                }
            }
            Action::LearnStopped => {
                if s.learn.phase == Phase::Running {
                    s.learn.phase = if s.learn.points.is_empty() {
                        Phase::Idle
                    } else {
                        Phase::Done
                    };
                }
            }
            Action::LearnFailed(e) => {
                s.learn.phase = Phase::Error;
                s.learn.error = Some(e);
            }
            Action::LearnReset => s.learn = Learn::default(),
        }
        Rc::new(s)
    }
}

fn input_value(e: &InputEvent) -> String {
    use wasm_bindgen::JsCast;
    e.target()
        .and_then(|t| {
            t.dyn_ref::<web_sys::HtmlTextAreaElement>()
                .map(|a| a.value())
                .or_else(|| t.dyn_ref::<web_sys::HtmlInputElement>().map(|i| i.value()))
        })
        .unwrap_or_default()
}

/// Which positions hold a special token ([CLS], [SEP], [PAD], [MASK]): not
/// words to click, never selected by the MLM rule.
fn special_flags(encoded: &Encoded, tokenizer: &BertTokenizer) -> Vec<bool> {
    encoded
        .ids
        .iter()
        .map(|&id| {
            id == tokenizer.cls_id
                || id == tokenizer.sep_id
                || id == tokenizer.pad_id
                || id == tokenizer.mask_id
        })
        .collect()
}

/// Predictions of one model run, as word pieces.
fn named(
    tokenizer: &BertTokenizer,
    rows: Vec<Vec<crate::model::fill_mask::Candidate>>,
) -> Vec<MaskPredictions> {
    rows.into_iter()
        .map(|row| {
            row.into_iter()
                .map(|c| (tokenizer.token(c.id), c.probability))
                .collect()
        })
        .collect()
}

#[component]
pub fn BertDemo() -> Html {
    let lang = use_context::<LangCtx>().expect("LangCtx");
    let compute = use_context::<ComputeCtx>().expect("ComputeCtx");
    let state = use_reducer(PageState::default);
    let text = use_state(|| query("text").unwrap_or_else(|| DEFAULT_TEXT.to_string()));
    let choice = use_state(|| ModelChoice::from_key(&query("model").unwrap_or_default()));
    let url_input = use_state(|| match &*choice {
        ModelChoice::Url(u) => u.clone(),
        _ => String::new(),
    });
    let picker_url = use_state(|| matches!(&*choice, ModelChoice::Url(_)));
    // The URL's pair, else a real pair from the sample text (made once, not per render).
    let nsp_pair = use_memo((), |_| {
        let (a, b) = sample_pair(&sample_documents(), true, &mut Rng::new(7));
        (query("a").unwrap_or(a), query("b").unwrap_or(b))
    });
    let nsp_a = use_state(|| nsp_pair.0.clone());
    let nsp_b = use_state(|| nsp_pair.1.clone());
    let show_attention = use_state(|| false);
    let layer_head = use_state(|| (0usize, 0usize));
    let clicks = use_mut_ref(ClickedMasks::default);
    let serial = use_mut_ref(|| 0u64);
    let load_runs = (*use_memo((), |_| Latest::default())).clone();
    let predict_runs = (*use_memo((), |_| Latest::default())).clone();
    let nsp_runs = (*use_memo((), |_| Latest::default())).clone();
    let attention_runs = (*use_memo((), |_| Latest::default())).clone();
    let corrupt_rng = use_mut_ref(|| Rng::new(2018));
    let learn_probe = use_state(|| LEARN_PROBE.to_string());
    let learner = use_mut_ref(|| None::<LiveBert>);
    let driver = use_memo((), |_| TrainDriver::default());
    // The bert-base-uncased tokenizer on its own (466 kB): the MLM rule and
    // the tiny BERT need no model, so they work before the weights arrive.
    let base_tokenizer = use_state(|| None::<Rc<BertTokenizer>>);

    let device: Option<Device> = match &*compute.status {
        ComputeStatus::Ready(backend) => Some(backend.device.clone()),
        ComputeStatus::Starting => None,
    };

    {
        let setter = base_tokenizer.setter();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(loaded) = load_asset("minilm/tokenizer.json", &|_| {}).await {
                    if let Ok(t) = BertTokenizer::from_bytes(&loaded.bytes, 512) {
                        setter.set(Some(Rc::new(t)));
                    }
                }
            });
        });
    }

    // Load the chosen model (download, then build it on the device). A newer
    // choice supersedes a load in progress; a failure keeps the old model.
    let start_load = {
        let (dispatch, serial, token) = (state.dispatcher(), serial.clone(), load_runs.clone());
        let (device, generation, lang) = (device.clone(), compute.generation, lang.clone());
        Callback::from(move |choice: ModelChoice| {
            let Some(device) = device.clone() else { return };
            let (dispatch, serial, token) = (dispatch.clone(), serial.clone(), token.clone());
            let lang = lang.clone();
            let job = token.start();
            dispatch.dispatch(Action::ModelLoading);
            wasm_bindgen_futures::spawn_local(async move {
                let last = Cell::new((String::new(), u64::MAX));
                let report = |file: String, p: Progress| {
                    let percent = (p.done * 100).checked_div(p.total).unwrap_or(0);
                    let seen = last.take();
                    if seen.0 != file || seen.1 != percent {
                        dispatch.dispatch(Action::ModelProgress(file.clone(), p));
                    }
                    last.set((file, percent));
                };
                let files = fetch_files(&choice, &lang, &report).await;
                if !token.is_current(job) {
                    return;
                }
                let files = match files {
                    Ok(f) => Rc::new(f),
                    Err(e) => return dispatch.dispatch(Action::ModelFailed(e)),
                };
                let still_wanted = || token.is_current(job);
                build_and_publish(
                    choice,
                    files,
                    &device,
                    generation,
                    &serial,
                    &dispatch,
                    &still_wanted,
                )
                .await;
            });
        })
    };

    // First load, and a rebuild from the kept files when the device changes.
    {
        let (start_load, choice, state) = (start_load.clone(), (*choice).clone(), state.clone());
        let (serial, device) = (serial.clone(), device.clone());
        use_effect_with(compute.generation, move |generation| {
            let generation = *generation;
            if let Some(device) = device {
                match state.active.clone() {
                    None => start_load.emit(choice),
                    Some(active) if active.generation != generation => {
                        let dispatch = state.dispatcher();
                        dispatch.dispatch(Action::ModelLoading);
                        wasm_bindgen_futures::spawn_local(async move {
                            let (choice, files) = (active.choice.clone(), active.files.clone());
                            build_and_publish(
                                choice,
                                files,
                                &device,
                                generation,
                                &serial,
                                &dispatch,
                                &|| true,
                            )
                            .await;
                        });
                    }
                    Some(_) => {}
                }
            }
        });
    }

    let active = state.active.clone();
    let active_serial = active.as_ref().map_or(0, |a| a.serial);
    let tokenizer: Option<Rc<BertTokenizer>> = match &active {
        Some(a) => Some(a.tokenizer.clone()),
        None => (*base_tokenizer).clone(),
    };
    let encoding: Option<Result<(Encoded, Option<usize>), TokenizeError>> =
        tokenizer.as_ref().map(|t| t.encode_truncating(&text, None));
    let encoded: Option<Encoded> = match &encoding {
        Some(Ok((e, _))) => Some(e.clone()),
        _ => None,
    };
    let mask_id = tokenizer.as_ref().map_or(103, |t| t.mask_id);
    let mask_positions: Vec<usize> = encoded
        .as_ref()
        .map(|e| e.positions_of(mask_id))
        .unwrap_or_default();

    // Fill-mask, debounced: only the newest edit's run may publish.
    {
        let (dispatch, token, device) = (state.dispatcher(), predict_runs.clone(), device.clone());
        let (active, encoded, positions, text_now) = (
            active.clone(),
            encoded.clone(),
            mask_positions.clone(),
            (*text).clone(),
        );
        use_effect_with(((*text).clone(), active_serial), move |_| {
            set_query_param("text", Some(&text_now));
            let job = token.start();
            if let (Some(active), Some(encoded), Some(device)) = (active, encoded, device) {
                if positions.is_empty() {
                    dispatch.dispatch(Action::PredictionsIdle);
                } else {
                    dispatch.dispatch(Action::PredictionsRunning);
                    wasm_bindgen_futures::spawn_local(async move {
                        if !token.settled(job, DEBOUNCE_MS).await {
                            return;
                        }
                        let t0 = now_ms();
                        let result = fill_mask_yielding(
                            &active.model,
                            &encoded,
                            &positions,
                            TOP_K,
                            &device,
                            yield_now,
                        )
                        .await;
                        if !token.is_current(job) {
                            return;
                        }
                        let ms = now_ms() - t0;
                        dispatch.dispatch(Action::Predicted(match result {
                            Ok(rows) => Predictions {
                                phase: Phase::Done,
                                text: text_now,
                                masks: Rc::new(named(&active.tokenizer, rows)),
                                ms: Some(ms),
                                error: None,
                            },
                            Err(e) => Predictions {
                                phase: Phase::Error,
                                text: text_now,
                                error: Some(e),
                                ..Default::default()
                            },
                        }));
                    });
                }
            }
        });
    }

    // Attention maps of the sentence, while the attention view is open.
    {
        let (dispatch, device, active, encoded, token) = (
            state.dispatcher(),
            device.clone(),
            active.clone(),
            encoded.clone(),
            attention_runs.clone(),
        );
        use_effect_with(
            ((*text).clone(), active_serial, *show_attention),
            move |(_, _, show)| {
                let job = token.start();
                if let (true, Some(active), Some(encoded), Some(device)) =
                    (*show, active, encoded, device)
                {
                    dispatch.dispatch(Action::AttentionRunning);
                    wasm_bindgen_futures::spawn_local(async move {
                        if !token.settled(job, DEBOUNCE_MS).await {
                            return;
                        }
                        let result = attention_maps(&active.model.bert, &encoded, &device).await;
                        if token.is_current(job) {
                            dispatch.dispatch(Action::AttentionDone(
                                result.map(|maps| (encoded.tokens.clone(), maps)),
                            ));
                        }
                    });
                }
            },
        );
    }

    // Next-sentence prediction, debounced like fill-mask.
    {
        let (dispatch, token, device, active) = (
            state.dispatcher(),
            nsp_runs.clone(),
            device.clone(),
            active.clone(),
        );
        let (a, b) = ((*nsp_a).clone(), (*nsp_b).clone());
        let empty_pair = lang.t(Text::BertNspEmpty);
        use_effect_with(
            ((*nsp_a).clone(), (*nsp_b).clone(), active_serial),
            move |_| {
                set_query_param("a", Some(&a));
                set_query_param("b", Some(&b));
                let job = token.start();
                if let (Some(active), Some(device)) = (active, device) {
                    let tokenizer = &active.tokenizer;
                    match tokenizer.encode_truncating(&a, Some(&b)) {
                        Err(TokenizeError::Empty) => {
                            dispatch.dispatch(Action::NspDone(Err(empty_pair.to_string())))
                        }
                        Err(e) => dispatch.dispatch(Action::NspDone(Err(e.to_string()))),
                        Ok((encoded, _)) => {
                            dispatch.dispatch(Action::NspRunning);
                            wasm_bindgen_futures::spawn_local(async move {
                                if !token.settled(job, DEBOUNCE_MS).await {
                                    return;
                                }
                                let p = is_next_probability(&active.model, &encoded, &device).await;
                                if token.is_current(job) {
                                    dispatch.dispatch(Action::NspDone(p));
                                }
                            });
                        }
                    }
                }
            },
        );
    }

    // Leaving the page ends the tiny BERT's training; a device change drops it.
    {
        let (driver, learner, dispatch) = (driver.clone(), learner.clone(), state.dispatcher());
        use_effect_with(compute.generation, move |_| {
            driver.stop();
            *learner.borrow_mut() = None;
            dispatch.dispatch(Action::LearnReset);
        });
    }
    {
        let driver = driver.clone();
        use_effect_with((), move |_| move || driver.stop());
    }

    // ---- callbacks -------------------------------------------------------

    let on_text = {
        let (text, clicks) = (text.clone(), clicks.clone());
        Callback::from(move |e: InputEvent| {
            clicks.borrow_mut().forget();
            text.set(input_value(&e));
        })
    };

    // Click a word: all its WordPieces become one [MASK]; click a [MASK] made
    // that way: the word comes back.
    let on_token = {
        let (text, clicks, encoded) = (text.clone(), clicks.clone(), encoded.clone());
        let predictions = state.predictions.clone();
        Callback::from(move |i: usize| {
            let Some(encoded) = &encoded else { return };
            if encoded.ids[i] == mask_id {
                let offset = encoded.offsets[i].0;
                let restored = clicks.borrow_mut().unmask(&text, offset);
                let new_text = restored.or_else(|| {
                    // A typed [MASK]: fill in the model's best guess.
                    let nth = encoded.ids[..i].iter().filter(|&&id| id == mask_id).count();
                    let best = predictions.masks.get(nth)?.first()?.0.clone();
                    let word = best.trim_start_matches("##").to_string();
                    Some(format!(
                        "{}{word}{}",
                        &text[..offset],
                        &text[offset + MASK.len()..]
                    ))
                });
                if let Some(t) = new_text {
                    text.set(t);
                }
                return;
            }
            let word = words(encoded, mask_id)
                .into_iter()
                .rev()
                .find(|(first, range)| *first <= i && encoded.offsets[i].1 <= range.end);
            if let Some((_, range)) = word {
                let t = clicks.borrow_mut().mask(&text, range);
                text.set(t);
            }
        })
    };

    let on_parts = {
        let (dispatch, device, active, encoded) = (
            state.dispatcher(),
            device.clone(),
            active.clone(),
            encoded.clone(),
        );
        let open = state.parts.index;
        Callback::from(move |i: usize| {
            if open == Some(i) {
                dispatch.dispatch(Action::PartsClosed);
                return;
            }
            let (Some(active), Some(encoded), Some(device)) =
                (active.clone(), encoded.clone(), device.clone())
            else {
                return;
            };
            dispatch.dispatch(Action::PartsRunning(i, encoded.tokens[i].clone()));
            let dispatch = dispatch.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let r = embedding_parts(&active.model.bert, &encoded, i, &device).await;
                dispatch.dispatch(Action::PartsDone(r));
            });
        })
    };

    let on_pick = {
        let (choice, picker_url, start_load, url_input) = (
            choice.clone(),
            picker_url.clone(),
            start_load.clone(),
            url_input.clone(),
        );
        Callback::from(move |e: Event| {
            use wasm_bindgen::JsCast;
            let Some(select) = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok())
            else {
                return;
            };
            let value = select.value();
            if value == "url" {
                picker_url.set(true);
                return;
            }
            picker_url.set(false);
            url_input.set(String::new());
            let c = ModelChoice::from_key(&value);
            set_query_param("model", Some(&c.key()));
            choice.set(c.clone());
            start_load.emit(c);
        })
    };
    let on_url_input = {
        let url_input = url_input.clone();
        Callback::from(move |e: InputEvent| url_input.set(input_value(&e)))
    };
    let on_url_load = {
        let (choice, start_load, url_input, dispatch) = (
            choice.clone(),
            start_load.clone(),
            url_input.clone(),
            state.dispatcher(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Err(m) = check_model_url(&url_input) {
                dispatch.dispatch(Action::ModelFailed(m));
                return;
            }
            let c = ModelChoice::Url(super::bert_logic::folder_url(&url_input));
            set_query_param("model", Some(&c.key()));
            choice.set(c.clone());
            start_load.emit(c);
        })
    };

    let on_corrupt = {
        let (dispatch, rng, tokenizer, encoded) = (
            state.dispatcher(),
            corrupt_rng.clone(),
            tokenizer.clone(),
            encoded.clone(),
        );
        let (tally, draws) = (state.tally.clone(), state.draws);
        Callback::from(move |many: usize| {
            let (Some(t), Some(e)) = (&tokenizer, &encoded) else {
                return;
            };
            let rule = MlmRule::for_tokenizer(t);
            let special = special_flags(e, t);
            let mut rng = rng.borrow_mut();
            let mut tally = tally.clone();
            let mut last = None;
            for _ in 0..many {
                let c = rule.corrupt(&e.ids, &special, &mut rng);
                tally.add(&c, &special);
                last = Some(c);
            }
            if let Some(c) = last {
                let example = CorruptExample {
                    shown: c.inputs.iter().map(|&id| t.token(id)).collect(),
                    original: e.tokens.clone(),
                    kinds: c.kinds.clone(),
                };
                dispatch.dispatch(Action::Corrupted(example, tally, draws + many));
            }
        })
    };

    let learn_start = {
        let (dispatch, driver, learner, device) = (
            state.dispatcher(),
            driver.clone(),
            learner.clone(),
            device.clone(),
        );
        let (tokenizer, probe) = ((*base_tokenizer).clone(), (*learn_probe).clone());
        let no_mask = lang.t(Text::BertLearnNoMask);
        Callback::from(move |_: MouseEvent| {
            if driver.is_running() {
                driver.pause();
                return;
            }
            let (Some(tokenizer), Some(device)) = (tokenizer.clone(), device.clone()) else {
                return;
            };
            let probe_encoded = match tokenizer.encode(&probe, None) {
                Ok(e) => e,
                Err(e) => return dispatch.dispatch(Action::LearnFailed(e.to_string())),
            };
            let Some(&probe_position) = probe_encoded.positions_of(tokenizer.mask_id).first()
            else {
                return dispatch.dispatch(Action::LearnFailed(no_mask.to_string()));
            };
            if learner.borrow().is_none() {
                let sentences: Result<Vec<Encoded>, _> = sample_documents()
                    .iter()
                    .flatten()
                    .map(|s| tokenizer.encode(&s.to_lowercase(), None))
                    .collect();
                let specials = [
                    tokenizer.pad_id,
                    tokenizer.cls_id,
                    tokenizer.sep_id,
                    tokenizer.mask_id,
                ];
                let made = sentences.map_err(|e| e.to_string()).and_then(|s| {
                    LiveBert::new(&s, specials, LiveBertSettings::default(), 1, &device)
                });
                match made {
                    Ok(l) => *learner.borrow_mut() = Some(l),
                    Err(e) => return dispatch.dispatch(Action::LearnFailed(e)),
                }
            }
            let params = learner.borrow().as_ref().map_or(0, |l| l.num_params());
            dispatch.dispatch(Action::LearnStarted(params));
            let step = {
                let (learner, probe_encoded, tokenizer) =
                    (learner.clone(), probe_encoded.clone(), tokenizer.clone());
                move || {
                    let (learner, probe_encoded, tokenizer) =
                        (learner.clone(), probe_encoded.clone(), tokenizer.clone());
                    async move {
                        let mut taken = learner
                            .borrow_mut()
                            .take()
                            .ok_or_else(|| "the model is busy".to_string())?;
                        let result = taken.step().await;
                        let step = taken.steps_done();
                        let predictions = match &result {
                            Ok(_) if step % LEARN_PREDICT_EVERY == 0 || step == 1 || step == 5 => {
                                yield_now().await;
                                Some(
                                    taken
                                        .predict(&probe_encoded, probe_position, TOP_K)
                                        .await
                                        .map(|top| {
                                            top.into_iter()
                                                .map(|c| (tokenizer.token(c.id), c.probability))
                                                .collect()
                                        }),
                                )
                            }
                            _ => None,
                        };
                        *learner.borrow_mut() = Some(taken);
                        result.map(|loss| (step, loss, predictions))
                    }
                }
            };
            let events = {
                let dispatch = dispatch.clone();
                Callback::from(move |event: DriverEvent<LearnReport>| match event {
                    DriverEvent::Step {
                        report: (step, loss, predictions),
                        step_ms,
                    } => dispatch.dispatch(Action::LearnStep {
                        step,
                        loss,
                        step_ms,
                        predictions,
                    }),
                    DriverEvent::Stopped => dispatch.dispatch(Action::LearnStopped),
                    DriverEvent::Failed(e) => dispatch.dispatch(Action::LearnFailed(e)),
                })
            };
            let done = learner.borrow().as_ref().map_or(0, |l| l.steps_done());
            driver.start(LEARN_STEPS.saturating_sub(done).max(1), step, events);
        })
    };
    let learn_reset = {
        let (driver, learner, dispatch) = (driver.clone(), learner.clone(), state.dispatcher());
        Callback::from(move |_: MouseEvent| {
            driver.stop();
            *learner.borrow_mut() = None;
            dispatch.dispatch(Action::LearnReset);
        })
    };
    let on_probe = {
        let learn_probe = learn_probe.clone();
        Callback::from(move |e: InputEvent| learn_probe.set(input_value(&e)))
    };

    // ---- view ------------------------------------------------------------

    let model_status = {
        let progress = match &state.model_progress {
            Some((file, p)) => html! {
                <div class="load-progress" data-testid="bert-model-progress">
                    <progress max={p.total.max(1).to_string()} value={p.done.to_string()} />
                    <span class="load-text">{ format!("{file}: {} / {}", format_bytes(p.done), if p.total > 0 { format_bytes(p.total) } else { "?".into() }) }</span>
                </div>
            },
            None if state.model_phase == Phase::Running => html! {
                <p class="hint">{ lang.t(Text::BertPreparing) }</p>
            },
            None => html! {},
        };
        let name = active.as_ref().map(|a| {
            let c = &a.config;
            format!(
                "{} · {} {}, {} {}, {} {} · {}",
                a.choice.label(),
                c.num_hidden_layers,
                lang.t(Text::BertLayers),
                c.hidden_size,
                lang.t(Text::BertWide),
                c.num_attention_heads,
                lang.t(Text::BertHeads),
                params_text(burn::module::Module::num_params(&a.model)),
            )
        });
        html! {
            <div class="bert-model" data-testid="bert-model-status" data-state={state.model_phase.attr()}
                 data-model={active.as_ref().map(|a| a.choice.key()).unwrap_or_default()}>
                { progress }
                if let Some(n) = name { <p class="hint" data-testid="bert-model-name">{ lang.t(Text::BertModelNow) }{ ": " }{ n }</p> }
                if active.as_ref().is_some_and(|a| a.choice == ModelChoice::Bundled) {
                    <p class="hint" data-testid="bert-model-note">{ lang.t(Text::BertBundledNote) }</p>
                }
                if let Some(e) = &state.model_error {
                    <p class="error" role="alert" data-testid="bert-model-error">{ e.clone() }
                        if active.is_some() { { " " }{ lang.t(Text::BertModelKept) } }
                    </p>
                }
            </div>
        }
    };

    let picker_value = if *picker_url {
        "url".to_string()
    } else {
        choice.key()
    };
    let picker = html! {
        <div class="controls">
            <label>{ lang.t(Text::BertModel) }{ " " }
                <select data-testid="bert-model-picker" onchange={on_pick} value={picker_value.clone()}>
                    <option value="bundled" selected={picker_value == "bundled"}>{ lang.t(Text::BertBundled) }</option>
                    { for HUB_PRESETS.iter().map(|(id, label)| {
                        let key = ModelChoice::Hub(id.to_string()).key();
                        html! { <option value={key.clone()} selected={picker_value == key}>{ format!("Hugging Face · {label}") }</option> }
                    }) }
                    <option value="url" selected={picker_value == "url"}>{ lang.t(Text::BertFromUrl) }</option>
                </select>
            </label>
            if *picker_url {
                <form class="inline" onsubmit={on_url_load}>
                    <input type="url" size="48" placeholder="https://…/my-bert/" data-testid="bert-model-url"
                        aria-label={lang.t(Text::BertUrlLabel)} value={(*url_input).clone()} oninput={on_url_input} />
                    <button type="submit" data-testid="bert-model-load">{ lang.t(Text::BertLoad) }</button>
                </form>
            }
        </div>
    };

    let notice = match &encoding {
        Some(Err(TokenizeError::Empty)) => Some(lang.t(Text::BertEmpty).to_string()),
        Some(Err(e)) => Some(e.to_string()),
        Some(Ok((_, Some(n)))) => Some(format!(
            "{} {n} {}",
            lang.t(Text::BertTruncated1),
            lang.t(Text::BertTruncated2)
        )),
        Some(Ok((_, None))) if mask_positions.is_empty() => {
            Some(lang.t(Text::BertNoMask).to_string())
        }
        _ => None,
    };

    let strip = match &encoded {
        Some(e) => {
            let special = tokenizer
                .as_ref()
                .map(|t| special_flags(e, t))
                .unwrap_or_default();
            html! {
                <div class="bert-strip" data-testid="bert-tokens" data-count={e.len().to_string()}>
                    { for e.tokens.iter().enumerate().map(|(i, tok)| {
                        let clickable = e.ids[i] == mask_id || !special[i];
                        let on_token = on_token.clone();
                        let on_parts = on_parts.clone();
                        let open = state.parts.index == Some(i);
                        html! {
                            <span class={classes!("bert-token", (e.ids[i] == mask_id).then_some("is-mask"), special[i].then_some("is-special"), (e.segments[i] == 1).then_some("seg-b"))}>
                                <button type="button" data-testid={format!("bert-token-{i}")} data-segment={e.segments[i].to_string()}
                                    disabled={!clickable} title={format!("{} {i} · {} {}", lang.t(Text::BertPosition), lang.t(Text::BertSegment), e.segments[i])}
                                    onclick={Callback::from(move |_| on_token.emit(i))}>{ tok.clone() }</button>
                                <button type="button" class="parts" data-testid={format!("bert-token-parts-{i}")} aria-expanded={open.to_string()}
                                    aria-label={format!("{} {tok}", lang.t(Text::BertShowParts))} disabled={active.is_none()}
                                    onclick={Callback::from(move |_| on_parts.emit(i))}>{ format!("{}", e.segments[i]) }</button>
                            </span>
                        }
                    }) }
                </div>
            }
        }
        None => html! {},
    };

    let parts_view = if let Some(i) = state.parts.index {
        let rows = state.parts.parts.as_ref().map(|p| {
            let scale = p
                .token
                .iter()
                .chain(&p.segment)
                .chain(&p.position)
                .fold(1e-6f32, |m, v| m.max(v.abs()));
            let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
            let row = |label: &str, v: &[f32]| {
                html! {
                    <div class="parts-row">
                        <span class="parts-label">{ format!("{label} (‖·‖ = {:.2})", norm(v)) }</span>
                        <span class="parts-cells">
                            { for v.iter().take(96).map(|x| {
                                let [r, g, b] = diverging(x / scale);
                                html! { <span class="cell" style={format!("background: rgb({r},{g},{b})")} /> }
                            }) }
                        </span>
                    </div>
                }
            };
            html! {
                <>
                    { row(lang.t(Text::BertTokenEmbedding), &p.token) }
                    { row(lang.t(Text::BertSegmentEmbedding), &p.segment) }
                    { row(lang.t(Text::BertPositionEmbedding), &p.position) }
                    <p class="hint">{ format!("{} {} {}", lang.t(Text::BertPartsHint), p.token.len(), lang.t(Text::BertDims)) }</p>
                </>
            }
        });
        html! {
            <div class="bert-parts" data-testid="bert-embedding" data-state={state.parts.phase.attr()} data-index={i.to_string()}>
                <p>{ format!("{} “{}” (#{i})", lang.t(Text::BertEmbeddingOf), state.parts.token) }</p>
                { rows.unwrap_or_default() }
                if let Some(e) = &state.parts.error { <p class="error" role="alert">{ e.clone() }</p> }
            </div>
        }
    } else {
        html! {}
    };

    let predictions = &state.predictions;
    let predictions_view = html! {
        <div class="bert-predictions" data-testid="bert-predictions" data-state={predictions.phase.attr()}
             data-text={predictions.text.clone()} data-masks={predictions.masks.len().to_string()}>
            { for predictions.masks.iter().enumerate().map(|(m, row)| html! {
                <div class="bert-mask-predictions" data-testid={format!("bert-mask-{m}")}>
                    <p class="hint">{ format!("[MASK] {}", m + 1) }</p>
                    { for row.iter().enumerate().map(|(rank, (token, p))| html! {
                        <div class="bar-row">
                            <span class="bert-word" data-testid={format!("bert-prediction-{m}-{rank}")} data-prob={format!("{p:.6}")}>{ token.clone() }</span>
                            <span class="bar" style={format!("width: {:.0}px", p * 220.0)} />
                            <span class="hint">{ format!("{:.1}%", p * 100.0) }</span>
                        </div>
                    }) }
                </div>
            }) }
            if let Some(ms) = predictions.ms { <p class="hint" data-testid="bert-latency">{ format!("{ms:.0} ms") }</p> }
            if let Some(e) = &predictions.error { <p class="error" role="alert">{ e.clone() }</p> }
        </div>
    };

    let corrupt_view = {
        let example = state.corrupt.as_ref().map(|c| {
            html! {
                <div class="bert-strip" data-testid="bert-corrupt-example">
                    { for c.shown.iter().enumerate().map(|(i, tok)| {
                        let (class, title) = match c.kinds[i] {
                            Corruption::NotSelected => ("", String::new()),
                            Corruption::Masked => ("corrupt-mask", format!("{} → [MASK]", c.original[i])),
                            Corruption::Randomized => ("corrupt-random", format!("{} → {tok}", c.original[i])),
                            Corruption::Unchanged => ("corrupt-same", format!("{} ({})", c.original[i], lang.t(Text::BertKeptSame))),
                        };
                        html! { <span class={classes!("bert-token", "plain", class)} title={title} data-kind={format!("{:?}", c.kinds[i])}>{ tok.clone() }</span> }
                    }) }
                </div>
            }
        });
        let t = &state.tally;
        let [m, r, u] = t.shares();
        let on_one = {
            let on = on_corrupt.clone();
            Callback::from(move |_: MouseEvent| on.emit(1))
        };
        let on_many = {
            let on = on_corrupt.clone();
            Callback::from(move |_: MouseEvent| on.emit(1000))
        };
        html! {
            <>
                <div class="controls">
                    <button data-testid="bert-corrupt" onclick={on_one} disabled={encoded.is_none()}>{ lang.t(Text::BertCorrupt) }</button>
                    <button data-testid="bert-corrupt-many" onclick={on_many} disabled={encoded.is_none()}>{ lang.t(Text::BertCorruptMany) }</button>
                </div>
                { example.unwrap_or_default() }
                <p class="legend"><span class="bert-token plain corrupt-mask">{ "[MASK] 80%" }</span>
                    <span class="bert-token plain corrupt-random">{ lang.t(Text::BertRandom10) }</span>
                    <span class="bert-token plain corrupt-same">{ lang.t(Text::BertSame10) }</span></p>
                <p data-testid="bert-corrupt-stats" data-draws={state.draws.to_string()} data-selected={t.selected().to_string()}
                   data-masked={t.masked.to_string()} data-random={t.randomized.to_string()} data-unchanged={t.unchanged.to_string()}
                   data-eligible={t.eligible.to_string()} aria-live="polite">
                    if state.draws == 0 { { lang.t(Text::BertCorruptNone) } } else {
                        { format!("{} {} · {} {:.1}% {} {} · [MASK] {:.1}% · {} {:.1}% · {} {:.1}%",
                            state.draws, lang.t(Text::BertDraws), lang.t(Text::BertSelected), t.selected_share() * 100.0,
                            lang.t(Text::BertOf), t.eligible, m * 100.0, lang.t(Text::BertRandom), r * 100.0, lang.t(Text::BertUnchanged), u * 100.0) }
                    }
                </p>
            </>
        }
    };

    let nsp_view = {
        let on_a = {
            let s = nsp_a.clone();
            Callback::from(move |e: InputEvent| s.set(input_value(&e)))
        };
        let on_b = {
            let s = nsp_b.clone();
            Callback::from(move |e: InputEvent| s.set(input_value(&e)))
        };
        let draw = |real: bool| {
            let (a, b) = (nsp_a.clone(), nsp_b.clone());
            Callback::from(move |_: MouseEvent| {
                let seed = (now_ms() * 1000.0) as u64;
                let (x, y) = sample_pair(&sample_documents(), real, &mut Rng::new(seed));
                a.set(x);
                b.set(y);
            })
        };
        let nsp = &state.nsp;
        html! {
            <>
                <div class="bert-nsp">
                    <label>{ "A " }<textarea rows="2" data-testid="bert-nsp-a" value={(*nsp_a).clone()} oninput={on_a} /></label>
                    <label>{ "B " }<textarea rows="2" data-testid="bert-nsp-b" value={(*nsp_b).clone()} oninput={on_b} /></label>
                </div>
                <div class="controls">
                    <button data-testid="bert-nsp-real" onclick={draw(true)}>{ lang.t(Text::BertNspReal) }</button>
                    <button data-testid="bert-nsp-random" onclick={draw(false)}>{ lang.t(Text::BertNspRandom) }</button>
                </div>
                <div data-testid="bert-nsp-result" data-state={nsp.phase.attr()}
                     data-isnext={nsp.is_next.map(|p| (p >= 0.5).to_string()).unwrap_or_default()}
                     data-prob={nsp.is_next.map(|p| format!("{p:.6}")).unwrap_or_default()} aria-live="polite">
                    if let Some(p) = nsp.is_next {
                        <div class="bar-row"><span class="bert-word">{ "IsNext" }</span><span class="bar" style={format!("width: {:.0}px", p * 220.0)} /><span>{ format!("{:.1}%", p * 100.0) }</span></div>
                        <div class="bar-row"><span class="bert-word">{ "NotNext" }</span><span class="bar" style={format!("width: {:.0}px", (1.0 - p) * 220.0)} /><span>{ format!("{:.1}%", (1.0 - p) * 100.0) }</span></div>
                    }
                    if let Some(e) = &nsp.error { <p class="error" role="alert">{ e.clone() }</p> }
                </div>
            </>
        }
    };

    let attention_view = {
        let on_toggle = {
            let show = show_attention.clone();
            Callback::from(move |e: Event| {
                use wasm_bindgen::JsCast;
                if let Some(d) = e
                    .target()
                    .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                {
                    show.set(d.has_attribute("open"));
                }
            })
        };
        let att = &state.attention;
        let layers = att.maps.len();
        let heads = att.maps.first().map_or(0, |l| l.len());
        let (layer, head) = (
            layer_head.0.min(layers.saturating_sub(1)),
            layer_head.1.min(heads.saturating_sub(1)),
        );
        let select = |n: usize,
                      current: usize,
                      testid: &'static str,
                      label: Text,
                      is_layer: bool| {
            let lh = layer_head.clone();
            let onchange = Callback::from(move |e: Event| {
                use wasm_bindgen::JsCast;
                if let Some(v) = e
                    .target()
                    .and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok())
                    .and_then(|s| s.value().parse::<usize>().ok())
                {
                    lh.set(if is_layer { (v, lh.1) } else { (lh.0, v) });
                }
            });
            html! {
                <label>{ lang.t(label) }{ " " }
                    <select data-testid={testid} {onchange}>
                        { for (0..n).map(|i| html! { <option value={i.to_string()} selected={i == current}>{ (i + 1).to_string() }</option> }) }
                    </select>
                </label>
            }
        };
        let map = att.maps.get(layer).and_then(|l| l.get(head)).cloned();
        let tokens = att.tokens.clone();
        let describe = Callback::from(move |(i, j, v): (usize, usize, f32)| {
            format!(
                "{} → {}: {:.3}",
                tokens.get(i).cloned().unwrap_or_default(),
                tokens.get(j).cloned().unwrap_or_default(),
                v
            )
        });
        html! {
            <details class="bert-attention" data-testid="bert-attention" data-state={att.phase.attr()}
                     data-layers={layers.to_string()} data-heads={heads.to_string()} ontoggle={on_toggle}>
                <summary>{ lang.t(Text::BertAttention) }</summary>
                <p class="hint">{ lang.t(Text::BertAttentionHint) }</p>
                <div class="controls">
                    { select(layers, layer, "bert-attention-layer", Text::BertLayer, true) }
                    { select(heads, head, "bert-attention-head", Text::BertHead, false) }
                </div>
                if let Some(m) = map {
                    <div class="bert-attention-grid">
                        <Heatmap values={Rc::new(m)} n={att.tokens.len()} testid="bert-attention-map" describe={describe} />
                        <ol class="bert-attention-tokens" start="0">
                            { for att.tokens.iter().map(|t| html! { <li>{ t.clone() }</li> }) }
                        </ol>
                    </div>
                }
                if let Some(e) = &att.error { <p class="error" role="alert">{ e.clone() }</p> }
            </details>
        }
    };

    let learn_view = {
        let learn = &state.learn;
        let running = learn.phase == Phase::Running;
        let plot_state: AttrValue = learn.phase.attr().into();
        html! {
            <>
                <p class="hint">{ lang.t(Text::BertLearnIntro) }</p>
                <div class="controls">
                    <label>{ lang.t(Text::BertLearnProbe) }{ " " }
                        <input type="text" size="32" data-testid="bert-learn-probe" value={(*learn_probe).clone()} oninput={on_probe} disabled={running} />
                    </label>
                    <button class="primary" data-testid="bert-learn-start" onclick={learn_start}
                        disabled={base_tokenizer.is_none() || device.is_none()}>
                        { if running { lang.t(Text::BertLearnPause) } else if learn.points.is_empty() { lang.t(Text::BertLearnStart) } else { lang.t(Text::BertLearnResume) } }
                    </button>
                    <button data-testid="bert-learn-reset" onclick={learn_reset}>{ lang.t(Text::BertLearnReset) }</button>
                    <span class="hint" data-testid="bert-learn-speed">
                        { format!("{} / {LEARN_STEPS} {}", learn.points.len(), lang.t(Text::BertSteps)) }
                        if let Some(sps) = learn.throughput.steps_per_second() { { format!(" · {sps:.1} {}", lang.t(Text::BertStepsPerSecond)) } }
                        if learn.params > 0 { { format!(" · {} {}", learn.params, lang.t(Text::BertParams)) } }
                    </span>
                </div>
                <div class="bert-learn">
                    <LossPlot points={learn.points.clone()} testid="bert-learn-plot" state={plot_state} />
                    <div data-testid="bert-learn-predictions" data-step={learn.predicted_at.to_string()}>
                        if !learn.predictions.is_empty() {
                            <p class="hint">{ format!("{} {}: {}", lang.t(Text::BertLearnAfter), learn.predicted_at, *learn_probe) }</p>
                        }
                        { for learn.predictions.iter().map(|(token, p)| html! {
                            <div class="bar-row">
                                <span class="bert-word">{ token.clone() }</span>
                                <span class="bar" style={format!("width: {:.0}px", p * 220.0)} />
                                <span class="hint">{ format!("{:.1}%", p * 100.0) }</span>
                            </div>
                        }) }
                    </div>
                </div>
                if let Some(e) = &learn.error { <p class="error" role="alert" data-testid="bert-learn-error">{ e.clone() }</p> }
            </>
        }
    };

    html! {
        <section class="page demo bert" data-testid="demo-bert">
            <h1>{ "BERT" }</h1>
            <p class="quadrant">{ format!("{} · {}", lang.t(Text::Generative), lang.t(Text::Language)) }</p>
            <p class="intro">{ lang.t(Text::BertIntro) }</p>
            { picker }
            { model_status }

            <h2>{ lang.t(Text::BertStep1) }</h2>
            <textarea class="bert-input" rows="2" data-testid="bert-input" aria-label={lang.t(Text::BertInputLabel)}
                value={(*text).clone()} oninput={on_text} />
            if let Some(n) = notice { <p class="notice" data-testid="bert-notice">{ n }</p> }
            <p class="hint">{ lang.t(Text::BertStripHint) }</p>
            { strip }
            { parts_view }
            { predictions_view }

            <h2>{ lang.t(Text::BertStep2) }</h2>
            <p class="hint">{ lang.t(Text::BertRuleHint) }</p>
            { corrupt_view }

            <h2>{ lang.t(Text::BertStep3) }</h2>
            <p class="hint">{ lang.t(Text::BertNspHint) }</p>
            { nsp_view }

            <h2>{ lang.t(Text::BertStep4) }</h2>
            { attention_view }

            <h2>{ lang.t(Text::BertStep5) }</h2>
            { learn_view }
        </section>
    }
}

//! SimCSE (Gao et al. 2021, "SimCSE: Simple Contrastive Learning of Sentence
//! Embeddings") on the BERT encoder of [`crate::model::bert`] — the same
//! module the fill-mask demo runs, so one implementation serves both.
//!
//! - Sentence embeddings: mean pooling over the real tokens (what
//!   all-MiniLM-L6-v2 / sentence-transformers use) or the last layer's [CLS]
//!   vector (§3, "we take the [CLS] representation"). During training with
//!   [CLS] pooling an MLP (dense + tanh) sits on top and is dropped at test
//!   time, as the paper does for unsupervised SimCSE (§3, "MLP during
//!   training only"); mean pooling trains without one (sentence-transformers).
//! - Unsupervised (§3, eq. 1): each sentence of the batch passes through the
//!   encoder twice; dropout (p = 0.1, burn applies it only on an autodiff
//!   device) makes the two embeddings differ, and they are each other's
//!   positive; the other sentences are negatives. The loss is the shared
//!   InfoNCE of [`crate::model::contrastive`].
//! - Supervised (§4, eq. 5): (premise, entailment, contradiction) triples; the
//!   entailment is the positive, every contradiction of the batch a (hard)
//!   negative.
//! - Evaluation: alignment and uniformity (Wang & Isola 2020, the paper's §5
//!   and Figure 2) on held-out positive pairs, and the Spearman correlation of
//!   cosine similarity with graded human scores (the STS protocol, §6.1).

use std::future::Future;

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::tensor::{Bool, Device, Tensor};
use serde::{Deserialize, Serialize};

use super::bert::{backward_by_layer, batch_length_for, BertInput, BertLayer, BertModel};
use super::bert_tokenizer::{BertTokenizer, Encoded, TokenizeError};
use super::checkpoint::run_ready;
use super::contrastive::{
    cosine_similarity_matrix, l2_normalize, simcse_supervised, simcse_unsupervised,
};
use super::rng::Rng;
use super::simclr::read_f32;
use super::simcse_data::{nli_triples, unlabelled_sentences};

/// How a sentence's token vectors become one vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    /// The average of the last layer over the real tokens (padding excluded).
    Mean,
    /// The last layer's vector at [CLS] (before BERT's pooler).
    Cls,
}

/// Tokenised sentences: each cut to `max_len` tokens when longer; `cut[i]`
/// holds sentence i's untruncated length when it was cut (for a notice).
pub struct Tokenized {
    pub encoded: Vec<Encoded>,
    pub cut: Vec<Option<usize>>,
}

/// Tokenises sentences, cutting each to at most `max_len` tokens ([CLS] and
/// [SEP] included; the model's own limit when `max_len` is larger).
pub fn tokenize(
    tokenizer: &BertTokenizer,
    sentences: &[&str],
    max_len: usize,
) -> Result<Tokenized, TokenizeError> {
    run_ready(tokenize_yielding(tokenizer, sentences, max_len, || {
        std::future::ready(())
    }))
}

/// Sentences tokenised between two pauses of [`tokenize_yielding`] (the STS
/// set's ~3,000 sentences took one 45 ms stretch in wasm).
pub const TOKENIZE_PAUSE_EVERY: usize = 64;

/// [`tokenize`], awaiting `pause()` after every [`TOKENIZE_PAUSE_EVERY`]
/// sentences, so a page can tokenise a long list without holding its thread.
pub async fn tokenize_yielding<F, Fut>(
    tokenizer: &BertTokenizer,
    sentences: &[&str],
    max_len: usize,
    mut pause: F,
) -> Result<Tokenized, TokenizeError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut encoded = Vec::with_capacity(sentences.len());
    let mut cut = Vec::with_capacity(sentences.len());
    for (i, s) in sentences.iter().enumerate() {
        if i > 0 && i % TOKENIZE_PAUSE_EVERY == 0 {
            pause().await;
        }
        let (mut e, mut was) = tokenizer.encode_truncating(s, None)?;
        if e.len() > max_len {
            was = was.or(Some(e.len()));
            truncate_single(&mut e, max_len);
        }
        encoded.push(e);
        cut.push(was);
    }
    Ok(Tokenized { encoded, cut })
}

/// Cuts `[CLS] a … [SEP]` to `max_len` tokens, keeping the final [SEP].
fn truncate_single(e: &mut Encoded, max_len: usize) {
    let max_len = max_len.max(2);
    if e.len() <= max_len {
        return;
    }
    let last = e.len() - 1;
    let sep = e.segments[last];
    e.segments.truncate(max_len - 1);
    e.segments.push(sep);
    let sep = e.ids[last];
    e.ids.truncate(max_len - 1);
    e.ids.push(sep);
    let sep = e.tokens[last].clone();
    e.tokens.truncate(max_len - 1);
    e.tokens.push(sep);
    let sep = e.offsets[last];
    e.offsets.truncate(max_len - 1);
    e.offsets.push(sep);
}

/// Pads single sentences into one batch (segment 0, padding masked).
pub fn sentence_batch(encoded: &[&Encoded], pad_id: u32, device: &Device) -> BertInput {
    let longest = encoded.iter().map(|e| e.len()).max().unwrap_or(0);
    BertInput::batch_of_length(encoded, pad_id, longest.max(1), device)
}

/// Pools the last layer `[b, t, d]` into `[b, d]` (not normalised).
pub fn pool(hidden: Tensor<3>, padding: Option<&Tensor<2, Bool>>, pooling: Pooling) -> Tensor<2> {
    let [b, t, d] = hidden.dims();
    match pooling {
        Pooling::Cls => hidden.narrow(1, 0, 1).reshape([b, d]),
        Pooling::Mean => {
            // Σ_t m_t h_t / Σ_t m_t, m = 1 on real tokens: padding never
            // changes a sentence's embedding (sentence-transformers' Pooling).
            let keep = match padding {
                Some(p) => p.clone().bool_not().float(),
                None => Tensor::ones([b, t], &hidden.device()),
            };
            let counts = keep.clone().sum_dim(1).clamp_min(1.0);
            let summed = (hidden * keep.reshape([b, t, 1]))
                .sum_dim(1)
                .reshape([b, d]);
            summed / counts
        }
    }
}

/// Sentence embeddings `[b, d]` of one padded batch (not normalised).
pub fn embed(encoder: &BertModel, input: &BertInput, pooling: Pooling) -> Tensor<2> {
    let out = encoder.forward(input);
    pool(out.hidden, input.padding.as_ref(), pooling)
}

/// Sentences per `embed_all` batch on `device` for an interactive caller.
/// The CPU backend computes each layer of a batch in one uninterrupted call:
/// 4 sentences of ~16 tokens per layer is ~25 ms in the browser (wasm SIMD,
/// 2 cores; `make bench`), so the page stays responsive; a GPU gets 32
/// (fewer dispatches, same answer).
pub fn embed_batch_for(device: &Device) -> usize {
    if *device == super::cpu_device() {
        4
    } else {
        32
    }
}

/// Rows of a training batch per call of `step_yielding` on `device`. On the
/// CPU backend, 4 sentences of up to 32 tokens keep every forward and
/// backward call of a layer under the 50 ms long-task line in the browser
/// (`make bench`: simcse_train_step's longest task; whole layers took up to
/// 125 ms). A GPU takes the whole batch at once (fewer dispatches, same step).
pub fn train_chunk_rows_for(device: &Device) -> usize {
    if *device == super::cpu_device() {
        4
    } else {
        usize::MAX
    }
}

/// Embeds sentences in batches of `batch` (sorted by length so little is
/// padding), L2-normalised, row-major `[n, d]`, read back without blocking.
/// `between(done)` runs after each layer of each batch, with the number of
/// sentences finished so far (the page yields to the browser there).
pub async fn embed_all<F, Fut>(
    encoder: &BertModel,
    encoded: &[Encoded],
    pad_id: u32,
    pooling: Pooling,
    batch: usize,
    mut between: F,
) -> Result<Vec<f32>, String>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let device = encoder.pooler.weight.device();
    let d = encoder.hidden_size();
    let mut order: Vec<usize> = (0..encoded.len()).collect();
    order.sort_by_key(|&i| encoded[i].len());
    let mut out = vec![0.0f32; encoded.len() * d];
    let mut done = 0;
    for chunk in order.chunks(batch.max(1)) {
        let rows: Vec<&Encoded> = chunk.iter().map(|&i| &encoded[i]).collect();
        let longest = rows.iter().map(|e| e.len()).max().unwrap_or(1);
        let t = batch_length_for(longest, encoder.max_positions(), &device);
        let input = BertInput::batch_of_length(&rows, pad_id, t, &device);
        // A pause after every layer too: on the CPU backend a batch of long
        // sentences is otherwise one long task on the page's thread.
        let hidden = encoder
            .forward_yielding(&input, || between(done))
            .await
            .hidden;
        let h = l2_normalize(pool(hidden, input.padding.as_ref(), pooling));
        let values = read_f32(h).await.map_err(|e| e.to_string())?;
        for (k, &i) in chunk.iter().enumerate() {
            out[i * d..(i + 1) * d].copy_from_slice(&values[k * d..(k + 1) * d]);
        }
        done += chunk.len();
        between(done).await;
    }
    Ok(out)
}

/// Which sentences each of `workers` parallel embedders takes (indices into
/// `lengths`, token counts), so that every share holds about as many tokens,
/// which is the work: longest first, each to the share with the fewest
/// tokens so far (Graham's LPT rule), which keeps any two shares within one
/// sentence's length of each other. Each embedder sorts its own share by
/// length for batching (`embed_all`). A share is empty when there are fewer
/// sentences than workers.
pub fn deal_by_length(lengths: &[usize], workers: usize) -> Vec<Vec<usize>> {
    let n = workers.max(1);
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(lengths[i]), i));
    let mut shares = vec![Vec::new(); n];
    let mut tokens = vec![0usize; n];
    for i in order {
        let lightest = (0..n).min_by_key(|&w| (tokens[w], w)).unwrap_or(0);
        shares[lightest].push(i);
        tokens[lightest] += lengths[i];
    }
    shares
}

/// The rows of the whole list from the rows of each share (`parts[w]` holds
/// `shares[w]`'s rows in that order, width `d`), in the list's order.
pub fn gather_shares(
    shares: &[Vec<usize>],
    parts: &[Vec<f32>],
    d: usize,
) -> Result<Vec<f32>, String> {
    if shares.len() != parts.len() {
        return Err(format!(
            "{} shares but {} answers",
            shares.len(),
            parts.len()
        ));
    }
    let n: usize = shares.iter().map(Vec::len).sum();
    let mut out = vec![0.0f32; n * d];
    let mut seen = vec![false; n];
    for (share, part) in shares.iter().zip(parts) {
        if part.len() != share.len() * d {
            return Err(format!(
                "a worker returned {} values for {} sentences of width {d}",
                part.len(),
                share.len()
            ));
        }
        for (k, &i) in share.iter().enumerate() {
            if i >= n || std::mem::replace(&mut seen[i], true) {
                return Err(format!("sentence {i} was dealt twice or is out of range"));
            }
            out[i * d..(i + 1) * d].copy_from_slice(&part[k * d..(k + 1) * d]);
        }
    }
    Ok(out)
}

/// Cosine similarity of unit rows `a[i]`, `b[j]` (row-major, width `d`).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The n×n cosine matrix of n unit rows (row-major).
pub fn similarity_matrix(unit_rows: &[f32], d: usize) -> Vec<f32> {
    let n = unit_rows.len() / d.max(1);
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in i..n {
            let c = cosine(
                &unit_rows[i * d..(i + 1) * d],
                &unit_rows[j * d..(j + 1) * d],
            );
            out[i * n + j] = c;
            out[j * n + i] = c;
        }
    }
    out
}

/// Indices of `candidates` ranked by cosine with `query` (most similar first).
pub fn rank(query: &[f32], unit_rows: &[f32], d: usize) -> Vec<(usize, f32)> {
    let n = unit_rows.len() / d.max(1);
    let mut scored: Vec<(usize, f32)> = (0..n)
        .map(|i| (i, cosine(query, &unit_rows[i * d..(i + 1) * d])))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored
}

/// Ranks with ties sharing their average rank (1-based), as Spearman needs.
fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman's rank correlation: Pearson's correlation of the (tie-averaged)
/// ranks. `None` when fewer than two pairs or a constant input.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    assert_eq!(x.len(), y.len());
    if x.len() < 2 {
        return None;
    }
    let (rx, ry) = (average_ranks(x), average_ranks(y));
    let n = x.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Alignment and uniformity (Wang & Isola 2020) of unit rows: `pairs` index
/// positive pairs into `rows`; uniformity is over all distinct rows.
pub fn align_uniform(rows: &[f32], d: usize, pairs: &[(usize, usize)]) -> (f64, f64) {
    let n = rows.len() / d;
    let row = |i: usize| &rows[i * d..(i + 1) * d];
    let dist2 = |a: &[f32], b: &[f32]| -> f64 {
        a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum()
    };
    let align = pairs
        .iter()
        .map(|&(a, b)| dist2(row(a), row(b)))
        .sum::<f64>()
        / pairs.len().max(1) as f64;
    let mut total = 0.0;
    let mut count = 0usize;
    for i in 0..n {
        for j in (i + 1)..n {
            total += (-2.0 * dist2(row(i), row(j))).exp();
            count += 1;
        }
    }
    (align, (total / count.max(1) as f64).ln())
}

/// The training objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Objective {
    /// Same sentence twice, dropout noise as the augmentation (eq. 1).
    Unsupervised,
    /// Entailment positive, contradiction hard negative (eq. 5).
    Supervised,
}

/// What a visitor can change between steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimCseSettings {
    pub objective: Objective,
    /// Sentences (unsupervised) or triples (supervised) per batch.
    pub batch: usize,
    /// τ: the paper's default is 0.05.
    pub temperature: f32,
    pub learning_rate: f64,
}

impl Default for SimCseSettings {
    fn default() -> Self {
        Self {
            objective: Objective::Unsupervised,
            batch: 8,
            temperature: 0.05,
            // The paper fine-tunes BERT-base at 3e-5 (unsup.) / 5e-5 (sup.)
            // for thousands of steps; a page run is tens of steps.
            learning_rate: 3e-5,
        }
    }
}

/// Why a step could not run, in words a visitor can act on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SimCseError {
    /// InfoNCE needs at least one negative.
    TooFewSentences {
        have: usize,
    },
    NonFinite {
        step: usize,
    },
    Device(String),
}

impl std::fmt::Display for SimCseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimCseError::TooFewSentences { have } => write!(
                f,
                "Contrastive training needs at least 2 sentences per batch (the other sentences are the negatives); there {}.",
                if *have == 1 { "is 1".to_string() } else { format!("are {have}") }
            ),
            SimCseError::NonFinite { step } => write!(
                f,
                "The loss became NaN or infinite at step {step}; training stopped and the weights from step {} were kept. Try a lower learning rate or a higher τ.",
                step.saturating_sub(1)
            ),
            SimCseError::Device(e) => write!(f, "The compute device failed: {e}"),
        }
    }
}

/// The encoder being trained and SimCSE's training-only MLP.
#[derive(Module, Debug)]
pub struct SimCseModel {
    pub encoder: BertModel,
    /// Dense + tanh on [CLS] during training (unused with mean pooling).
    pub mlp: Linear,
}

impl SimCseModel {
    /// What training puts on a pooled embedding `h`: the MLP for [CLS]
    /// pooling, nothing for mean pooling.
    fn head(&self, h: Tensor<2>, pooling: Pooling) -> Tensor<2> {
        match pooling {
            Pooling::Cls => self.mlp.forward(h).tanh(),
            Pooling::Mean => h,
        }
    }
}

/// One step's numbers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SimCseStep {
    pub step: usize,
    pub loss: f32,
}

/// SimCSE training one step at a time, on an autodiff device, with Adam.
/// The word embeddings and the lower layers are frozen so that a step fits in
/// a browser's budget; the top `train_layers` layers and the MLP learn.
pub struct SimCseTrainer {
    /// The autodiff device the trainer computes on, and the device under it.
    device: Device,
    base: Device,
    model: SimCseModel,
    optimizer: ModuleOptimizer,
    pooling: Pooling,
    /// How many of the encoder's top layers learn.
    train_layers: usize,
    /// Rows of the batch per forward or backward call (`step_yielding`).
    chunk_rows: usize,
    pad_id: u32,
    rng: Rng,
    step: usize,
}

/// Longest training sentence, in tokens: the paper uses 32.
pub const TRAIN_MAX_TOKENS: usize = 32;

impl SimCseTrainer {
    /// Starts from `encoder` (copied onto the autodiff device of its device).
    pub fn new(
        encoder: &BertModel,
        pooling: Pooling,
        train_layers: usize,
        pad_id: u32,
        seed: u64,
    ) -> Self {
        let train_layers = train_layers.min(encoder.layers.len());
        let base = encoder.pooler.weight.device();
        let device = base.clone().autodiff();
        let chunk_rows = train_chunk_rows_for(&base);
        let d = encoder.hidden_size();
        let mut encoder = encoder.clone().train();
        encoder = encoder.freeze_below(train_layers);
        let model = SimCseModel {
            encoder,
            mlp: LinearConfig::new(d, d).init(&device),
        };
        Self {
            device,
            base,
            model,
            optimizer: AdamConfig::new().init(),
            pooling,
            train_layers,
            chunk_rows,
            pad_id,
            rng: Rng::new(seed),
            step: 0,
        }
    }

    pub fn steps_done(&self) -> usize {
        self.step
    }

    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// The encoder as trained so far, for inference (no autodiff, no dropout).
    pub fn encoder(&self) -> BertModel {
        self.model.encoder.valid()
    }

    /// The layers that learn (the top `train_layers`), for inference: the
    /// rest of the encoder is frozen, so these and the encoder it started
    /// from are the whole trained encoder ([`with_trained_layers`]). A
    /// worker that trains sends these back, a fraction of the encoder.
    pub fn trained_layers(&self) -> Vec<BertLayer> {
        let layers = &self.model.encoder.layers;
        layers[layers.len() - self.train_layers..]
            .iter()
            .map(|layer| layer.valid())
            .collect()
    }

    /// One Adam step. Unsupervised: `sentences` (tokenised, ≤ 32 tokens);
    /// supervised: `triples`. On a non-finite loss the step is undone.
    pub async fn step(
        &mut self,
        settings: &SimCseSettings,
        sentences: &[Encoded],
        triples: &[[Encoded; 3]],
    ) -> Result<SimCseStep, SimCseError> {
        self.step_yielding(settings, sentences, triples, || async {})
            .await
    }

    /// `step`, with `between` awaited after the embeddings and after each
    /// forward and backward call on a chunk of a layer
    /// ([`BertModel::forward_cut`], [`backward_by_layer`]; the chunk's rows
    /// are [`train_chunk_rows_for`] the device). On the browser's CPU backend
    /// each of those is a task of tens of milliseconds, where a whole step is
    /// most of a second.
    pub async fn step_yielding<F, Fut>(
        &mut self,
        settings: &SimCseSettings,
        sentences: &[Encoded],
        triples: &[[Encoded; 3]],
        mut between: F,
    ) -> Result<SimCseStep, SimCseError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let available = match settings.objective {
            Objective::Unsupervised => sentences.len(),
            Objective::Supervised => triples.len(),
        };
        let n = settings.batch.min(available);
        if n < 2 {
            return Err(SimCseError::TooFewSentences { have: n });
        }
        let chosen = self.rng.choose_distinct(available, n);
        let before = self.model.valid();
        let rows: Vec<&Encoded> = match settings.objective {
            // One forward pass over the batch twice over: each copy gets its
            // own dropout masks (the paper's implementation does the same).
            Objective::Unsupervised => chosen
                .iter()
                .chain(chosen.iter())
                .map(|&i| &sentences[i])
                .collect(),
            Objective::Supervised => (0..3)
                .flat_map(|k| chosen.iter().map(move |&i| (i, k)))
                .map(|(i, k)| &triples[i][k])
                .collect(),
        };
        let longest = rows.iter().map(|e| e.len()).max().unwrap_or(1);
        let t = batch_length_for(longest, self.model.encoder.max_positions(), &self.base);
        let input = BertInput::batch_of_length(&rows, self.pad_id, t, &self.device);
        let first_trained = self.model.encoder.layers.len() - self.train_layers;
        let cut = self
            .model
            .encoder
            .forward_cut(&input, first_trained, self.chunk_rows, &mut between)
            .await;
        let z = self.model.head(
            pool(cut.hidden.clone(), input.padding.as_ref(), self.pooling),
            self.pooling,
        );
        let loss = match settings.objective {
            Objective::Unsupervised => simcse_unsupervised(
                z.clone().narrow(0, 0, n),
                z.narrow(0, n, n),
                settings.temperature,
            ),
            Objective::Supervised => simcse_supervised(
                z.clone().narrow(0, 0, n),
                z.clone().narrow(0, n, n),
                z.narrow(0, 2 * n, n),
                settings.temperature,
            ),
        };
        // A layer's gradient is the sum over its chunks; Adam keeps its
        // moments per parameter, so one update per layer is the same step as
        // one update with every layer's gradients.
        let (model, optimizer) = (&mut self.model, &mut self.optimizer);
        let mut layer_grads = GradientsAccumulator::<SimCseModel>::new();
        let apply = |mut grads, layer_done| {
            layer_grads.accumulate(&*model, GradientsParams::from_module(&mut grads, &*model));
            if layer_done {
                *model = optimizer.step(settings.learning_rate, model.clone(), layer_grads.grads());
            }
        };
        backward_by_layer(loss.clone(), cut, apply, &mut between).await;
        self.step += 1;
        let value = read_f32(loss.inner())
            .await
            .map_err(|e| SimCseError::Device(e.to_string()))?[0];
        if !value.is_finite() {
            // `train` keeps the freezing `valid` recorded.
            self.model = before.train();
            self.optimizer = AdamConfig::new().init();
            self.step -= 1;
            return Err(SimCseError::NonFinite {
                step: self.step + 1,
            });
        }
        Ok(SimCseStep {
            step: self.step,
            loss: value,
        })
    }
}

/// `base` with its top layers replaced by `trained` (from
/// [`SimCseTrainer::trained_layers`] of a trainer that started from `base`).
pub fn with_trained_layers(base: &BertModel, trained: Vec<BertLayer>) -> BertModel {
    let mut model = base.clone();
    let first = model.layers.len().saturating_sub(trained.len());
    model.layers.truncate(first);
    model.layers.extend(trained);
    model
}

/// The training set of the SimCSE page: the unlabelled sentences (unsupervised
/// SimCSE) and the NLI triples (supervised), tokenised to at most
/// [`TRAIN_MAX_TOKENS`].
pub struct TrainData {
    pub sentences: Vec<Encoded>,
    pub triples: Vec<[Encoded; 3]>,
}

pub fn train_data(tokenizer: &BertTokenizer) -> Result<TrainData, String> {
    let sentences = tokenize(tokenizer, &unlabelled_sentences(), TRAIN_MAX_TOKENS)
        .map_err(|e| e.to_string())?
        .encoded;
    let (train, _) = nli_triples();
    let mut triples = Vec::with_capacity(train.len());
    for t in &train {
        let mut e = tokenize(
            tokenizer,
            &[t.premise, t.entailment, t.contradiction],
            TRAIN_MAX_TOKENS,
        )
        .map_err(|e| e.to_string())?
        .encoded
        .into_iter();
        if let (Some(p), Some(q), Some(r)) = (e.next(), e.next(), e.next()) {
            triples.push([p, q, r]);
        }
    }
    Ok(TrainData { sentences, triples })
}

/// Encodes one sentence twice on an autodiff copy of `encoder` (dropout on)
/// and returns the cosine of the two embeddings (< 1: dropout made them
/// differ). On a device without autodiff the same call gives exactly 1.
pub async fn two_dropout_views(
    encoder: &BertModel,
    sentence: &Encoded,
    pad_id: u32,
    pooling: Pooling,
) -> Result<f32, SimCseError> {
    let device = encoder.pooler.weight.device();
    let input = sentence_batch(&[sentence, sentence], pad_id, &device);
    let z = embed(encoder, &input, pooling);
    let c = cosine_similarity_matrix(z.clone().narrow(0, 0, 1), z.narrow(0, 1, 1));
    Ok(read_f32(c.inner())
        .await
        .map_err(|e| SimCseError::Device(e.to_string()))?[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::contrastive::{alignment, uniformity};
    use burn::tensor::TensorData;

    /// Alignment/uniformity on tensors, to check the f64 host version against.
    fn align_uniform_tensors(x: Tensor<2>, x_pos: Tensor<2>) -> (Tensor<1>, Tensor<1>) {
        let all = Tensor::cat(vec![x.clone(), x_pos.clone()], 0);
        (alignment(x, x_pos), uniformity(all))
    }
    use crate::model::bert::BertConfig;
    use crate::model::test_devices;

    fn tiny_encoder(device: &Device) -> (BertModel, BertTokenizer) {
        let tokenizer = crate::model::bert_tokenizer::tests::minilm_tokenizer();
        let config = BertConfig {
            vocab_size: tokenizer.vocab_size(),
            hidden_size: 16,
            num_hidden_layers: 2,
            num_attention_heads: 2,
            intermediate_size: 32,
            max_position_embeddings: 64,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            hidden_act: "gelu".into(),
            pad_token_id: 0,
        };
        (config.init_encoder(device), tokenizer)
    }

    #[test]
    fn spearman_matches_known_examples() {
        // Wikipedia's worked example (IQ vs hours of TV): ρ = −29/165.
        let iq = [106., 100., 86., 101., 99., 103., 97., 113., 112., 110.];
        let tv = [7., 27., 2., 50., 28., 29., 20., 12., 6., 17.];
        let rho = spearman(&iq, &tv).unwrap();
        assert!((rho - (-29.0 / 165.0)).abs() < 1e-12, "{rho}");
        // Ties take their average rank: x ranks 1, 2.5, 2.5, 4 against y
        // ranks 1..4 gives ρ = 4.5 / sqrt(4.5 · 5) = 0.9487.
        let rho = spearman(&[1., 2., 2., 3.], &[10., 20., 30., 40.]).unwrap();
        assert!((rho - 4.5 / (4.5f64 * 5.0).sqrt()).abs() < 1e-12, "{rho}");
        assert_eq!(spearman(&[1., 1.], &[1., 2.]), None);
        assert!((spearman(&[1., 2., 3.], &[30., 20., 10.]).unwrap() + 1.0).abs() < 1e-12);
    }

    #[test]
    fn host_alignment_and_uniformity_match_hand_computed_values_and_the_tensor_version() {
        // Rows [1,0], [0,1], [-1,0]; pair (0,1): ||·||² = 2 → align 2.
        // Distinct pairs: (0,1) d²=2, (0,2) d²=4, (1,2) d²=2 →
        // uniform = ln((2e⁻⁴ + e⁻⁸)/3).
        let rows = [1.0, 0.0, 0.0, 1.0, -1.0, 0.0];
        let (align, uniform) = align_uniform(&rows, 2, &[(0, 1)]);
        assert!((align - 2.0).abs() < 1e-12);
        let expected = ((2.0 * (-4.0f64).exp() + (-8.0f64).exp()) / 3.0).ln();
        assert!((uniform - expected).abs() < 1e-9, "{uniform} vs {expected}");

        let d = test_devices::cpu();
        let x = Tensor::<2>::from_data(TensorData::new(vec![0.6f32, 0.8], [1, 2]), &d);
        let y = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.0], [1, 2]), &d);
        let (a, u) = align_uniform_tensors(x, y);
        let (ha, hu) = align_uniform(&[0.6, 0.8, 1.0, 0.0], 2, &[(0, 1)]);
        let a = a.into_data().try_to_vec::<f32>().unwrap()[0] as f64;
        let u = u.into_data().try_to_vec::<f32>().unwrap()[0] as f64;
        assert!(
            (a - ha).abs() < 1e-6 && (u - hu).abs() < 1e-5,
            "{a} {ha} {u} {hu}"
        );
    }

    #[test]
    fn dealing_by_length_gives_every_sentence_once_and_balances_tokens() {
        let lengths = [9, 3, 14, 5, 5, 30, 7, 12, 4];
        for workers in 1..=4 {
            let shares = deal_by_length(&lengths, workers);
            assert_eq!(shares.len(), workers);
            let mut all: Vec<usize> = shares.concat();
            all.sort_unstable();
            assert_eq!(
                all,
                (0..lengths.len()).collect::<Vec<_>>(),
                "{workers} workers"
            );
            let tokens: Vec<usize> = shares
                .iter()
                .map(|s| s.iter().map(|&i| lengths[i]).sum())
                .collect();
            let (lo, hi) = (tokens.iter().min().unwrap(), tokens.iter().max().unwrap());
            // Within the longest sentence (30 tokens) of each other.
            assert!(hi - lo <= 30, "{workers} workers: {tokens:?}");
        }
        // Longest first (30, 14, 12, 9, 7, 5, 5, 4, 3), each to the lighter
        // share, by hand: 30 | 14+12+9 | +7 | +5 | +5 | +4 | +3 → 45 and 44 tokens.
        assert_eq!(
            deal_by_length(&lengths, 2),
            vec![vec![5, 6, 4, 1], vec![2, 7, 0, 3, 8]]
        );
        assert_eq!(deal_by_length(&[4], 3), vec![vec![0], vec![], vec![]]);
        assert_eq!(deal_by_length(&[], 2), vec![Vec::<usize>::new(), vec![]]);
    }

    #[test]
    fn embedding_dealt_shares_and_gathering_them_matches_the_whole_list() {
        let device = test_devices::cpu();
        let (encoder, tokenizer) = tiny_encoder(&device);
        let sentences = [
            "a cat sat.",
            "a somewhat longer sentence than that one.",
            "dogs bark.",
            "the quick brown fox jumps over the lazy dog.",
            "rain.",
        ];
        let t = tokenize(&tokenizer, &sentences, 64).unwrap();
        let embed_list = |encoded: &[Encoded], batch| {
            pollster::block_on(embed_all(
                &encoder,
                encoded,
                tokenizer.pad_id,
                Pooling::Mean,
                batch,
                |_| async {},
            ))
            .unwrap()
        };
        let whole = embed_list(&t.encoded, 4);
        let lengths: Vec<usize> = t.encoded.iter().map(Encoded::len).collect();
        let shares = deal_by_length(&lengths, 2);
        let parts: Vec<Vec<f32>> = shares
            .iter()
            .map(|s| {
                let mine: Vec<Encoded> = s.iter().map(|&i| t.encoded[i].clone()).collect();
                embed_list(&mine, 16)
            })
            .collect();
        let d = encoder.hidden_size();
        let gathered = gather_shares(&shares, &parts, d).unwrap();
        assert_eq!(gathered.len(), whole.len());
        let diff = gathered
            .iter()
            .zip(&whole)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-5, "the gathered rows differ by {diff}");
        let short = vec![parts[0].clone(), parts[1][..d].to_vec()];
        assert!(gather_shares(&shares, &short, d).is_err());
        assert!(gather_shares(&shares, &parts[..1], d).is_err());
    }

    #[test]
    fn mean_pooling_ignores_padding() {
        for (name, device) in test_devices::all() {
            let (encoder, tokenizer) = tiny_encoder(&device);
            let t = tokenize(
                &tokenizer,
                &[
                    "a cat.",
                    "a much longer sentence with many more words in it.",
                ],
                64,
            )
            .unwrap();
            let alone = embed(
                &encoder,
                &sentence_batch(&[&t.encoded[0]], tokenizer.pad_id, &device),
                Pooling::Mean,
            );
            let padded = embed(
                &encoder,
                &sentence_batch(&[&t.encoded[0], &t.encoded[1]], tokenizer.pad_id, &device),
                Pooling::Mean,
            )
            .narrow(0, 0, 1);
            let diff = test_devices::max_abs_diff(alone, padded);
            assert!(
                diff < 1e-5,
                "{name}: padding changed the embedding by {diff}"
            );
        }
    }

    #[test]
    fn padding_a_batch_to_a_power_of_two_changes_no_embedding() {
        for (name, device) in test_devices::all() {
            let (encoder, tokenizer) = tiny_encoder(&device);
            let t = tokenize(
                &tokenizer,
                &["a cat sat.", "a somewhat longer sentence than that."],
                64,
            )
            .unwrap();
            let rows: Vec<&Encoded> = t.encoded.iter().collect();
            let longest = rows.iter().map(|e| e.len()).max().unwrap();
            let padded_len = (longest + 1).next_power_of_two();
            for pooling in [Pooling::Cls, Pooling::Mean] {
                let tight = embed(
                    &encoder,
                    &sentence_batch(&rows, tokenizer.pad_id, &device),
                    pooling,
                );
                let padded = embed(
                    &encoder,
                    &BertInput::batch_of_length(&rows, tokenizer.pad_id, padded_len, &device),
                    pooling,
                );
                let diff = test_devices::max_abs_diff(tight, padded);
                assert!(
                    diff < 1e-5,
                    "{name}, {pooling:?}: {longest} → {padded_len} tokens changed an embedding by {diff}"
                );
            }
        }
    }

    #[test]
    fn dropout_changes_embeddings_only_when_training() {
        for (name, device) in test_devices::all() {
            let (encoder, tokenizer) = tiny_encoder(&device);
            let t = tokenize(&tokenizer, &["dropout is the only noise here."], 64).unwrap();
            let still = pollster::block_on(two_dropout_views(
                &encoder,
                &t.encoded[0],
                tokenizer.pad_id,
                Pooling::Cls,
            ))
            .unwrap();
            assert!(
                (still - 1.0).abs() < 1e-5,
                "{name}: inference is deterministic, got {still}"
            );
            let training = encoder.clone().train();
            let noisy = pollster::block_on(two_dropout_views(
                &training,
                &t.encoded[0],
                tokenizer.pad_id,
                Pooling::Cls,
            ))
            .unwrap();
            assert!(
                noisy < 0.9999,
                "{name}: dropout should make the two views differ, cosine {noisy}"
            );
            assert!(
                noisy > 0.0,
                "{name}: the two views are still the same sentence, cosine {noisy}"
            );
        }
    }

    #[test]
    fn over_long_sentences_are_cut_keeping_sep() {
        let tokenizer = crate::model::bert_tokenizer::tests::minilm_tokenizer();
        let long = "word ".repeat(1000);
        let t = tokenize(&tokenizer, &[long.as_str(), "short."], 32).unwrap();
        assert_eq!(t.encoded[0].len(), 32);
        assert_eq!(t.encoded[0].tokens.last().unwrap(), "[SEP]");
        assert_eq!(t.encoded[0].tokens[0], "[CLS]");
        assert!(t.cut[0].unwrap() > 1000);
        assert_eq!(t.cut[1], None);
        // Non-Latin text tokenises ([UNK] where the vocabulary has nothing).
        let t = tokenize(&tokenizer, &["Ḁ 𝔘 日本語のテキスト ☃"], 512).unwrap();
        assert!(t.encoded[0].len() > 2);
    }

    /// What a training worker sends back at the end of a run (the trained
    /// layers, as a safetensors file) spliced into the encoder the run
    /// started from is the trained encoder: the same embeddings, exactly.
    /// Its step's settings and answer cross as JSON unchanged.
    #[test]
    fn the_trained_layers_spliced_into_the_base_are_the_trained_encoder() {
        use crate::model::checkpoint::{same_names, Checkpoint};
        use crate::model::export::{named_tensors, safetensors_bytes};
        let device = test_devices::cpu();
        let (encoder, tokenizer) = tiny_encoder(&device);
        let t = tokenize(
            &tokenizer,
            &["the cat sat.", "stocks fell.", "she sings."],
            TRAIN_MAX_TOKENS,
        )
        .unwrap();
        let mut trainer = SimCseTrainer::new(&encoder, Pooling::Mean, 1, tokenizer.pad_id, 5);
        let settings = SimCseSettings {
            batch: 3,
            learning_rate: 1e-2,
            ..SimCseSettings::default()
        };
        let settings_json = serde_json::to_string(&settings).unwrap();
        assert_eq!(
            serde_json::from_str::<SimCseSettings>(&settings_json).unwrap(),
            settings
        );
        let report = pollster::block_on(trainer.step(&settings, &t.encoded, &[])).unwrap();
        let answer: Result<SimCseStep, SimCseError> = Ok(report.clone());
        let back: Result<SimCseStep, SimCseError> =
            serde_json::from_str(&serde_json::to_string(&answer).unwrap()).unwrap();
        assert_eq!(back.unwrap().loss, report.loss);

        let layers = trainer.trained_layers();
        assert_eq!(layers.len(), 1);
        let file = safetensors_bytes(&pollster::block_on(named_tensors(&layers)).unwrap());
        let template = encoder.layers[1..].to_vec();
        let loaded = Checkpoint::parse(&file)
            .unwrap()
            .load_into(template, &same_names, &device)
            .unwrap();
        let spliced = with_trained_layers(&encoder, loaded);
        let refs: Vec<&Encoded> = t.encoded.iter().collect();
        let input = sentence_batch(&refs, tokenizer.pad_id, &device);
        let rows = |model: &BertModel| {
            embed(model, &input, Pooling::Mean)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        };
        let trained = rows(&trainer.encoder());
        assert_eq!(rows(&spliced), trained);
        assert_ne!(rows(&encoder), trained, "the step changed the encoder");
    }

    #[test]
    fn both_objectives_train_with_finite_losses_and_change_the_encoder() {
        for (name, device) in test_devices::all() {
            let (encoder, tokenizer) = tiny_encoder(&device);
            let sentences: Vec<&str> = vec![
                "the cat sat on the mat.",
                "stocks fell sharply today.",
                "she plays the violin.",
                "rain is expected tomorrow.",
            ];
            let t = tokenize(&tokenizer, &sentences, TRAIN_MAX_TOKENS).unwrap();
            let triple = |p: &str, e: &str, c: &str| {
                let t = tokenize(&tokenizer, &[p, e, c], TRAIN_MAX_TOKENS).unwrap();
                let mut it = t.encoded.into_iter();
                [it.next().unwrap(), it.next().unwrap(), it.next().unwrap()]
            };
            let triples = vec![
                triple(
                    "a man is cooking.",
                    "someone makes food.",
                    "a man is sleeping.",
                ),
                triple(
                    "two dogs run.",
                    "animals are moving.",
                    "the dogs sit still.",
                ),
                triple("it is snowing.", "the weather is cold.", "it is a hot day."),
            ];
            let mut trainer = SimCseTrainer::new(&encoder, Pooling::Cls, 1, tokenizer.pad_id, 3);
            for objective in [Objective::Unsupervised, Objective::Supervised] {
                let settings = SimCseSettings {
                    objective,
                    batch: 3,
                    learning_rate: 1e-3,
                    ..SimCseSettings::default()
                };
                for _ in 0..2 {
                    let s =
                        pollster::block_on(trainer.step(&settings, &t.encoded, &triples)).unwrap();
                    assert!(
                        s.loss.is_finite() && s.loss > 0.0,
                        "{name}: {objective:?} {}",
                        s.loss
                    );
                }
            }
            assert_eq!(trainer.steps_done(), 4);
            // The lower layer was frozen, the top one learned.
            let after = trainer.encoder();
            let diff = |a: Tensor<2>, b: Tensor<2>| {
                (a - b).abs().max().into_data().try_to_vec::<f32>().unwrap()[0]
            };
            assert_eq!(
                diff(
                    after.layers[0].intermediate.weight.val(),
                    encoder.layers[0].intermediate.weight.val()
                ),
                0.0,
                "{name}: layer 0 is frozen"
            );
            assert!(
                diff(
                    after.layers[1].intermediate.weight.val(),
                    encoder.layers[1].intermediate.weight.val()
                ) > 0.0,
                "{name}: layer 1 learns"
            );
            let one = SimCseSettings {
                batch: 1,
                ..SimCseSettings::default()
            };
            assert_eq!(
                pollster::block_on(trainer.step(&one, &t.encoded, &triples)).unwrap_err(),
                SimCseError::TooFewSentences { have: 1 }
            );
        }
    }
}

//! BERT (Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional
//! Transformers for Language Understanding"), in the layout of Hugging Face's
//! `BertForPreTraining`, so any BERT-family checkpoint loads (see
//! [`crate::model::bert_loader`]).
//!
//! - Input (§3, Figure 2): `[CLS] A [SEP] (B [SEP])`; each token's input
//!   embedding is the sum of its token, segment (A = 0, B = 1) and position
//!   embeddings, then LayerNorm and dropout.
//! - Encoder: post-LayerNorm transformer layers (Vaswani et al. 2017):
//!   h = LN(x + Attn(x)); out = LN(h + W₂ GELU(W₁ h)). The attention is
//!   [`SelfAttention`], the same module iGPT uses, here bidirectional with the
//!   padding masked.
//! - Heads (§3.1, Appendix A.1): the masked-LM head (dense + GELU + LayerNorm,
//!   then a decoder whose weight is tied to the word embeddings, plus a bias)
//!   and the next-sentence head, a binary classifier on the pooled [CLS]
//!   output C = tanh(W h_[CLS]).

use burn::module::{Module, Param};
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear,
    LinearConfig,
};
use burn::tensor::activation::{gelu, gelu_approximate};
use burn::tensor::{Bool, Device, Gradients, Int, Tensor, TensorData};

use crate::model::attention::{AttentionMask, SelfAttention, SelfAttentionConfig};

/// The fields of a Hugging Face BERT `config.json` that shape the model;
/// other fields in the file are ignored, and absent optional ones take
/// BERT's defaults (as transformers' `BertConfig` does).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "defaults::max_position_embeddings")]
    pub max_position_embeddings: usize,
    #[serde(default = "defaults::type_vocab_size")]
    pub type_vocab_size: usize,
    #[serde(default = "defaults::layer_norm_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "defaults::dropout")]
    pub hidden_dropout_prob: f64,
    #[serde(default = "defaults::dropout")]
    pub attention_probs_dropout_prob: f64,
    /// "gelu" (exact, erf) as in BERT, or "gelu_new" / "gelu_pytorch_tanh"
    /// (the tanh approximation).
    #[serde(default = "defaults::hidden_act")]
    pub hidden_act: String,
    #[serde(default)]
    pub pad_token_id: usize,
}

mod defaults {
    pub fn max_position_embeddings() -> usize {
        512
    }
    pub fn type_vocab_size() -> usize {
        2
    }
    pub fn layer_norm_eps() -> f64 {
        1e-12
    }
    pub fn dropout() -> f64 {
        0.1
    }
    pub fn hidden_act() -> String {
        "gelu".into()
    }
}

impl BertConfig {
    /// Reads a Hugging Face `config.json`, with a message naming what is wrong.
    pub fn from_hf_json(text: &str) -> Result<Self, String> {
        let config: BertConfig =
            serde_json::from_str(text).map_err(|e| format!("config.json: {e}"))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.hidden_size == 0 || self.num_attention_heads == 0 {
            return Err("config.json: hidden_size and num_attention_heads must be positive".into());
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(format!(
                "config.json: hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        Activation::parse(&self.hidden_act)?;
        Ok(())
    }

    pub fn init_encoder(&self, device: &Device) -> BertModel {
        let d = self.hidden_size;
        let norm = || {
            LayerNormConfig::new(d)
                .with_epsilon(self.layer_norm_eps)
                .init(device)
        };
        let dropout = || DropoutConfig::new(self.hidden_dropout_prob).init();
        BertModel {
            embeddings: BertEmbeddings {
                word_embeddings: EmbeddingConfig::new(self.vocab_size, d).init(device),
                position_embeddings: EmbeddingConfig::new(self.max_position_embeddings, d)
                    .init(device),
                token_type_embeddings: EmbeddingConfig::new(self.type_vocab_size, d).init(device),
                norm: norm(),
                dropout: dropout(),
            },
            layers: (0..self.num_hidden_layers)
                .map(|_| BertLayer {
                    attention: SelfAttentionConfig::new(d, self.num_attention_heads)
                        .with_dropout(self.attention_probs_dropout_prob)
                        .init(device),
                    attention_norm: norm(),
                    intermediate: LinearConfig::new(d, self.intermediate_size).init(device),
                    output: LinearConfig::new(self.intermediate_size, d).init(device),
                    output_norm: norm(),
                    dropout: dropout(),
                    activation: Activation::parse(&self.hidden_act).unwrap_or(Activation::Gelu),
                })
                .collect(),
            pooler: LinearConfig::new(d, d).init(device),
        }
    }

    pub fn init(&self, device: &Device) -> BertForPreTraining {
        let d = self.hidden_size;
        BertForPreTraining {
            bert: self.init_encoder(device),
            mlm: MlmHead {
                transform: LinearConfig::new(d, d).init(device),
                norm: LayerNormConfig::new(d)
                    .with_epsilon(self.layer_norm_eps)
                    .init(device),
                bias: Param::from_tensor(Tensor::zeros([self.vocab_size], device)),
                activation: Activation::parse(&self.hidden_act).unwrap_or(Activation::Gelu),
            },
            nsp: LinearConfig::new(d, 2).init(device),
        }
    }
}

/// The hidden activation, by its Hugging Face name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// x Φ(x), exact (BERT's "gelu").
    Gelu,
    /// The tanh approximation ("gelu_new", "gelu_pytorch_tanh").
    GeluTanh,
}

impl Activation {
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "gelu" => Ok(Activation::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" => Ok(Activation::GeluTanh),
            other => Err(format!(
                "config.json: hidden_act \"{other}\" is not supported (gelu, gelu_new)"
            )),
        }
    }

    fn apply<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Gelu => gelu(x),
            Activation::GeluTanh => gelu_approximate(x),
        }
    }
}

#[derive(Module, Debug)]
pub struct BertEmbeddings {
    pub word_embeddings: Embedding,
    pub position_embeddings: Embedding,
    pub token_type_embeddings: Embedding,
    pub norm: LayerNorm,
    dropout: Dropout,
}

/// One post-LayerNorm encoder layer.
#[derive(Module, Debug)]
pub struct BertLayer {
    pub attention: SelfAttention,
    pub attention_norm: LayerNorm,
    pub intermediate: Linear,
    pub output: Linear,
    pub output_norm: LayerNorm,
    dropout: Dropout,
    #[module(skip)]
    activation: Activation,
}

impl BertLayer {
    fn forward(&self, x: Tensor<3>, mask: &AttentionMask) -> (Tensor<3>, Tensor<4>) {
        let (attended, weights) = self.attention.forward_with_weights(x.clone(), mask);
        let h = self
            .attention_norm
            .forward(x + self.dropout.forward(attended));
        let mlp = self
            .output
            .forward(self.activation.apply(self.intermediate.forward(h.clone())));
        (
            self.output_norm.forward(h + self.dropout.forward(mlp)),
            weights,
        )
    }
}

/// The encoder (HF `BertModel`): embeddings, layers, pooler.
#[derive(Module, Debug)]
pub struct BertModel {
    pub embeddings: BertEmbeddings,
    pub layers: Vec<BertLayer>,
    /// C = tanh(W h_[CLS] + b), the input of the next-sentence head.
    pub pooler: Linear,
}

/// One tokenised batch: ids, segment ids and which positions are padding.
#[derive(Debug, Clone)]
pub struct BertInput {
    /// [batch, t] token ids.
    pub tokens: Tensor<2, Int>,
    /// [batch, t] segment ids: 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`.
    pub segments: Tensor<2, Int>,
    /// [batch, t], true where the position is padding (never attended to).
    pub padding: Option<Tensor<2, Bool>>,
}

impl BertInput {
    /// One tokenised sentence or pair as a batch of one, no padding.
    pub fn single(encoded: &crate::model::bert_tokenizer::Encoded, device: &Device) -> Self {
        let t = encoded.len();
        let ids: Vec<i64> = encoded.ids.iter().map(|&v| v as i64).collect();
        let segments: Vec<i64> = encoded.segments.iter().map(|&v| v as i64).collect();
        BertInput {
            tokens: Tensor::from_data(TensorData::new(ids, [1, t]), device),
            segments: Tensor::from_data(TensorData::new(segments, [1, t]), device),
            padding: None,
        }
    }

    /// `single` for the BERT page (fill-mask, next-sentence prediction,
    /// attention maps), padded to `batch_length_for(encoded.len(), cap,
    /// device)` tokens: on a GPU a visitor's edits then run a few shapes
    /// (8, 16, 32 … tokens) instead of one per sentence length, each of which
    /// compiled new kernels on the page's thread. The sentence's outputs are
    /// rows `0..encoded.len()`; the rest are padding, masked out of every
    /// attention, for the caller to drop.
    pub fn single_padded(
        encoded: &crate::model::bert_tokenizer::Encoded,
        cap: usize,
        device: &Device,
    ) -> Self {
        Self::single_of_length(
            encoded,
            batch_length_for(encoded.len(), cap, device),
            device,
        )
    }

    /// `single` padded to exactly `t` tokens (no padding mask when `t` is the
    /// sentence's own length). The padded positions hold token id 0 and
    /// segment 0: no query attends to them and their outputs are dropped, so
    /// any row of the tables would do.
    pub fn single_of_length(
        encoded: &crate::model::bert_tokenizer::Encoded,
        t: usize,
        device: &Device,
    ) -> Self {
        if encoded.len() == t {
            return Self::single(encoded, device);
        }
        Self::batch_of_length(&[encoded], 0, t, device)
    }

    /// Sentences (or pairs) as one batch of exactly `t` tokens per row, at
    /// least the longest: each row's ids and segment ids, then `pad_id` and
    /// segment 0 up to `t`, masked as padding. A fixed `t` is a fixed shape:
    /// see `batch_length_for`.
    pub fn batch_of_length(
        encoded: &[&crate::model::bert_tokenizer::Encoded],
        pad_id: u32,
        t: usize,
        device: &Device,
    ) -> Self {
        let b = encoded.len();
        let mut tokens = vec![pad_id as i64; b * t];
        let mut segments = vec![0i64; b * t];
        let mut padding = vec![true; b * t];
        for (row, e) in encoded.iter().enumerate() {
            let n = e.len();
            assert!(n <= t, "a sentence of {n} tokens does not fit in {t}");
            for j in 0..n {
                tokens[row * t + j] = e.ids[j] as i64;
                segments[row * t + j] = e.segments[j] as i64;
                padding[row * t + j] = false;
            }
        }
        BertInput {
            tokens: Tensor::from_data(TensorData::new(tokens, [b, t]), device),
            segments: Tensor::from_data(TensorData::new(segments, [b, t]), device),
            padding: Some(Tensor::from_data(TensorData::new(padding, [b, t]), device)),
        }
    }
}

/// Tokens per row of a batch whose longest sentence has `longest` tokens, on
/// `device`, at most `cap` (the model's positions). The CPU backend pads to
/// the longest sentence. A GPU pads to the next power of two: cubecl compiles
/// (and autotunes) kernels for each new problem size inside the tensor op, on
/// the page's thread, so SimCSE's training batches of 13, 17, 22 … tokens
/// kept compiling new matmuls (`make bench`, WebGPU SimCSE step: one step
/// took 325 s instead of ~35 s, and the longest task was 5.7 s; padded, no
/// step over 36 s and no task over 50 ms). Powers of two are also the sizes
/// cubek's matmul tune keys round up to (`cubek-matmul` tune_key.rs,
/// "anchor"). Padding changes no output: attention and mean pooling skip
/// padded tokens.
pub fn batch_length_for(longest: usize, cap: usize, device: &Device) -> usize {
    let longest = longest.max(1);
    if *device == crate::model::cpu_device() {
        longest
    } else {
        longest.next_power_of_two().min(cap.max(longest))
    }
}

/// What the encoder computed.
#[derive(Debug, Clone)]
pub struct BertOutput {
    /// [batch, t, hidden]: the last layer's hidden states.
    pub hidden: Tensor<3>,
    /// [batch, hidden]: the pooled [CLS] output C.
    pub pooled: Tensor<2>,
    /// Per layer, [batch, heads, t, t]: attention probabilities (only when asked).
    pub attentions: Vec<Tensor<4>>,
}

impl BertModel {
    pub fn hidden_size(&self) -> usize {
        self.pooler.weight.dims()[0]
    }

    pub fn max_positions(&self) -> usize {
        self.embeddings.position_embeddings.weight.dims()[0]
    }

    /// One sentence or pair as the BERT page runs it:
    /// [`BertInput::single_padded`] up to this model's positions.
    pub fn padded_single(
        &self,
        encoded: &crate::model::bert_tokenizer::Encoded,
        device: &Device,
    ) -> BertInput {
        BertInput::single_padded(encoded, self.max_positions(), device)
    }

    pub fn vocab_size(&self) -> usize {
        self.embeddings.word_embeddings.weight.dims()[0]
    }

    /// Freezes the embeddings and all but the top `train_layers` layers: what
    /// fine-tuning on these CPUs can afford (the fill-mask training command
    /// and SimCSE both train only the top of the encoder).
    pub fn freeze_below(mut self, train_layers: usize) -> Self {
        self.embeddings = self.embeddings.no_grad();
        let n = self.layers.len();
        self.layers = self
            .layers
            .into_iter()
            .enumerate()
            .map(|(i, layer)| {
                if i + train_layers < n {
                    layer.no_grad()
                } else {
                    layer
                }
            })
            .collect();
        self
    }

    /// The three input embeddings of §3 (Figure 2), each [batch, t, hidden]:
    /// token, segment and position. Their sum, normalised, is the encoder's input.
    pub fn embedding_parts(&self, input: &BertInput) -> [Tensor<3>; 3] {
        let [b, t] = input.tokens.dims();
        let device = input.tokens.device();
        let positions = Tensor::<1, Int>::arange(0..t as i64, &device)
            .reshape([1, t])
            .expand([b, t]);
        let e = &self.embeddings;
        [
            e.word_embeddings.forward(input.tokens.clone()),
            e.token_type_embeddings.forward(input.segments.clone()),
            e.position_embeddings.forward(positions),
        ]
    }

    /// The summed input embeddings (token + segment + position), normalised.
    pub fn embed(&self, input: &BertInput) -> Tensor<3> {
        let [token, segment, position] = self.embedding_parts(input);
        let e = &self.embeddings;
        e.dropout
            .forward(e.norm.forward(token + segment + position))
    }

    pub fn forward(&self, input: &BertInput) -> BertOutput {
        self.run(input, false)
    }

    /// Also keeps every layer's attention probabilities.
    pub fn forward_with_attentions(&self, input: &BertInput) -> BertOutput {
        self.run(input, true)
    }

    /// `forward`, with `between` awaited after the embeddings and after each
    /// layer. On an eager CPU backend every layer computes when it is called,
    /// so a caller on the browser's main thread gets the thread back between
    /// layers (a few ms each) instead of once per forward pass; on WebGPU the
    /// pauses only interleave command submission. Same output as `forward`.
    pub async fn forward_yielding<F, Fut>(&self, input: &BertInput, mut between: F) -> BertOutput
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let mask = Self::mask(input);
        let mut x = self.embed(input);
        between().await;
        for layer in &self.layers {
            x = layer.forward(x, &mask).0;
            between().await;
        }
        self.output(x, Vec::new())
    }

    /// `forward_yielding` for training layers `first_trained..` on an
    /// autodiff device, in pieces small enough for the browser's main thread:
    /// every layer runs on `chunk_rows` rows of the batch per call, and the
    /// graph is cut between the trained layers (each reads detached copies of
    /// the rows below, marked as requiring a gradient) and above the last one.
    /// [`backward_by_layer`] then backpropagates one layer's chunk per call.
    /// The layers below `first_trained` and the embeddings must be frozen
    /// ([`Self::freeze_below`]): their graph would be shared between pieces.
    /// The values are `forward`'s.
    pub async fn forward_cut<F, Fut>(
        &self,
        input: &BertInput,
        first_trained: usize,
        chunk_rows: usize,
        mut between: F,
    ) -> EncoderCut
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let [b, _] = input.tokens.dims();
        let chunk_rows = chunk_rows.max(1);
        let chunks: Vec<(usize, usize, AttentionMask)> = (0..b)
            .step_by(chunk_rows)
            .map(|start| {
                let rows = chunk_rows.min(b - start);
                let mask = match &input.padding {
                    Some(p) => AttentionMask::Padding(Box::new(p.clone().narrow(0, start, rows))),
                    None => AttentionMask::Bidirectional,
                };
                (start, rows, mask)
            })
            .collect();
        let mut x = self.embed(input);
        between().await;
        let mut layers = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
            for (start, rows, mask) in &chunks {
                let part = x.clone().narrow(0, *start, *rows);
                let leaf = (i > first_trained).then(|| part.clone().detach().require_grad());
                outputs.push(layer.forward(leaf.clone().unwrap_or(part), mask).0);
                inputs.push(leaf);
                between().await;
            }
            x = Tensor::cat(outputs.clone(), 0);
            if i >= first_trained {
                layers.push(LayerCut { inputs, outputs });
            }
        }
        EncoderCut {
            hidden: x.detach().require_grad(),
            layers,
        }
    }

    fn mask(input: &BertInput) -> AttentionMask {
        match &input.padding {
            Some(p) => AttentionMask::Padding(Box::new(p.clone())),
            None => AttentionMask::Bidirectional,
        }
    }

    fn output(&self, x: Tensor<3>, attentions: Vec<Tensor<4>>) -> BertOutput {
        let [b, _, d] = x.dims();
        let cls = x.clone().narrow(1, 0, 1).reshape([b, d]);
        let pooled = self.pooler.forward(cls).tanh();
        BertOutput {
            hidden: x,
            pooled,
            attentions,
        }
    }

    fn run(&self, input: &BertInput, keep_attentions: bool) -> BertOutput {
        let mask = Self::mask(input);
        let mut x = self.embed(input);
        let mut attentions = Vec::new();
        for layer in &self.layers {
            let (out, weights) = layer.forward(x, &mask);
            x = out;
            if keep_attentions {
                attentions.push(weights);
            }
        }
        self.output(x, attentions)
    }
}

/// An encoder's forward pass cut into pieces by [`BertModel::forward_cut`].
pub struct EncoderCut {
    /// The last hidden states [batch, t, hidden], detached, as a leaf that
    /// requires a gradient: what the loss is computed from.
    pub hidden: Tensor<3>,
    /// The trained layers, bottom up.
    pub layers: Vec<LayerCut>,
}

/// One trained layer of an [`EncoderCut`], per chunk of rows.
pub struct LayerCut {
    /// Each chunk's input as a leaf that requires a gradient; `None` for the
    /// lowest trained layer, below which nothing needs one.
    pub inputs: Vec<Option<Tensor<3>>>,
    /// Each chunk's output.
    pub outputs: Vec<Tensor<3>>,
}

/// Backpropagates `loss`, computed from `cut.hidden`, through the pieces of
/// an [`EncoderCut`], one `backward()` per call: first the loss itself (its
/// gradients hold whatever sits on top of the encoder), then each trained
/// layer's chunks, top layer first. `apply` gets each piece's gradients and
/// whether it completes a layer (the head counts as one); then `between` is
/// awaited. Below the loss the chain rule is applied by hand: with
/// g = ∂loss/∂y for a chunk's output y, taken from the leaf above, the
/// chunk's parameter gradients are those of the scalar ⟨y, g⟩ with g held
/// constant (a vector–Jacobian product, gᵀ ∂y/∂θ). Summed over a layer's
/// chunks they are exactly the gradients of one `loss.backward()`.
pub async fn backward_by_layer<A, F, Fut>(
    loss: Tensor<1>,
    cut: EncoderCut,
    mut apply: A,
    mut between: F,
) where
    A: FnMut(Gradients, bool),
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let EncoderCut { hidden, mut layers } = cut;
    let grads = loss.backward();
    let upstream = hidden.grad(&grads);
    apply(grads, true);
    between().await;
    let (Some(top), Some(g)) = (layers.last(), upstream) else {
        return;
    };
    // ∂loss/∂hidden, split like the top layer's chunks.
    let mut start = 0;
    let mut chunk_grads: Vec<Tensor<3>> = Vec::new();
    for output in &top.outputs {
        let rows = output.dims()[0];
        chunk_grads.push(Tensor::from_inner(g.clone().narrow(0, start, rows)));
        start += rows;
    }
    while let Some(LayerCut { inputs, outputs }) = layers.pop() {
        let last = outputs.len() - 1;
        let mut below = Vec::new();
        for (k, ((output, input), g)) in
            outputs.into_iter().zip(inputs).zip(chunk_grads).enumerate()
        {
            let grads = (output * g).sum().backward();
            below.push(input.and_then(|x| x.grad(&grads)).map(Tensor::from_inner));
            apply(grads, k == last);
            between().await;
        }
        // `None` below the lowest trained layer: nothing further down learns.
        match below.into_iter().collect::<Option<Vec<_>>>() {
            Some(next) => chunk_grads = next,
            None => return,
        }
    }
}

/// The masked-LM head: transform (dense + activation + LayerNorm), then the
/// decoder, tied to the word embeddings (Appendix A.1; Press & Wolf 2017).
#[derive(Module, Debug)]
pub struct MlmHead {
    pub transform: Linear,
    pub norm: LayerNorm,
    pub bias: Param<Tensor<1>>,
    #[module(skip)]
    activation: Activation,
}

/// BERT with both pretraining heads (HF `BertForPreTraining`).
#[derive(Module, Debug)]
pub struct BertForPreTraining {
    pub bert: BertModel,
    pub mlm: MlmHead,
    /// Next-sentence classifier on C: logit 0 = IsNext, 1 = NotNext (HF order).
    pub nsp: Linear,
}

impl BertForPreTraining {
    /// MLM logits [batch, t, vocab] from hidden states [batch, t, hidden].
    pub fn mlm_logits(&self, hidden: Tensor<3>) -> Tensor<3> {
        let h = self.mlm.norm.forward(
            self.mlm
                .activation
                .apply(self.mlm.transform.forward(hidden)),
        );
        let [b, t, d] = h.dims();
        // Tied decoder: logits = h Eᵀ + bias, E = the word embeddings [vocab, d].
        // Computed as (E hᵀ)ᵀ: E stays in its stored layout and only the small
        // [vocab, rows] result is transposed. `h.matmul(E.transpose())` made the
        // CPU backend relayout all of E (11.7 M numbers for MiniLM) on every
        // call: 120 ms of a 150 ms fill-mask (examples/bench_fill_mask.rs).
        let words = self.bert.embeddings.word_embeddings.weight.val();
        let vocab = words.dims()[0];
        let logits = words.matmul(h.reshape([b * t, d]).transpose()).transpose();
        (logits + self.mlm.bias.val().reshape([1, vocab])).reshape([b, t, vocab])
    }

    /// MLM logits for a few positions only: [rows, vocab] for hidden rows [rows, hidden].
    /// The fill-mask page asks for one or two [MASK] positions; projecting every
    /// position onto 30k words would be wasted work.
    pub fn mlm_logits_rows(&self, rows: Tensor<2>) -> Tensor<2> {
        let [n, d] = rows.dims();
        self.mlm_logits(rows.reshape([1, n, d]))
            .reshape([n, self.bert.vocab_size()])
    }

    /// NSP logits [batch, 2] from the pooled output.
    pub fn nsp_logits(&self, pooled: Tensor<2>) -> Tensor<2> {
        self.nsp.forward(pooled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_devices;
    use burn::optim::{GradientsAccumulator, GradientsParams};

    /// A BERT small enough for exact comparisons, dropout off so two passes agree.
    fn tiny_config(layers: usize) -> BertConfig {
        BertConfig {
            vocab_size: 30,
            hidden_size: 8,
            num_hidden_layers: layers,
            num_attention_heads: 2,
            intermediate_size: 16,
            max_position_embeddings: 16,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            hidden_dropout_prob: 0.0,
            attention_probs_dropout_prob: 0.0,
            hidden_act: "gelu".into(),
            pad_token_id: 0,
        }
    }

    #[test]
    fn gpu_batches_are_padded_to_a_power_of_two_within_the_cap() {
        let cpu = test_devices::cpu();
        let gpu = test_devices::wgpu();
        for longest in [1, 7, 13, 16, 17, 32] {
            assert_eq!(batch_length_for(longest, 512, &cpu), longest);
        }
        assert_eq!(batch_length_for(0, 512, &cpu), 1);
        let cases = [
            (0, 512, 1),
            (7, 512, 8),
            (13, 512, 16),
            (16, 512, 16),
            (17, 512, 32),
        ];
        for (longest, cap, want) in cases {
            assert_eq!(
                batch_length_for(longest, cap, &gpu),
                want,
                "longest {longest}"
            );
        }
        // The cap is the model's positions, never less than the sentence.
        assert_eq!(batch_length_for(300, 514, &gpu), 512);
        assert_eq!(batch_length_for(300, 400, &gpu), 400);
        assert_eq!(batch_length_for(520, 514, &gpu), 520);
    }

    /// The BERT page's padded sentence gives the unpadded one's outputs: its
    /// hidden rows, the pooled [CLS] (NSP's input) and the attention maps
    /// cropped to its tokens. A pair, so segment ids are padded too.
    #[test]
    fn padding_one_sentence_changes_none_of_its_outputs() {
        let config = tiny_config(2);
        let encoded = crate::model::bert_tokenizer::Encoded {
            ids: vec![2, 7, 11, 3, 9, 4, 3],
            segments: vec![0, 0, 0, 0, 1, 1, 1],
            tokens: vec!["t".into(); 7],
            offsets: vec![(0, 0); 7],
        };
        let n = encoded.len();
        for (name, device) in test_devices::all() {
            let model = config.init_encoder(&device);
            let tight = model.forward_with_attentions(&BertInput::single(&encoded, &device));
            let padded =
                model.forward_with_attentions(&BertInput::single_of_length(&encoded, 16, &device));
            let diff = test_devices::max_abs_diff(tight.hidden, padded.hidden.narrow(1, 0, n));
            assert!(diff < 1e-5, "{name}: hidden rows differ by {diff}");
            let diff = test_devices::max_abs_diff(tight.pooled, padded.pooled);
            assert!(diff < 1e-5, "{name}: pooled differs by {diff}");
            for (a, b) in tight.attentions.into_iter().zip(padded.attentions) {
                let diff = test_devices::max_abs_diff(a, b.narrow(2, 0, n).narrow(3, 0, n));
                assert!(diff < 1e-5, "{name}: attention differs by {diff}");
            }
        }
        // On the CPU backend the page's sentence is not padded at all.
        let cpu = test_devices::cpu();
        assert!(BertInput::single_padded(&encoded, 16, &cpu)
            .padding
            .is_none());
        let gpu = test_devices::wgpu();
        assert_eq!(
            BertInput::single_padded(&encoded, 16, &gpu).tokens.dims(),
            [1, 8]
        );
    }

    /// `backward_by_layer` over `forward_cut` gives the gradients of one
    /// `loss.backward()` through the uncut graph. Three layers, the top two
    /// trained (one cut between them), three rows in chunks of two (so one
    /// chunk is short), padding in one row, dropout off so both passes agree.
    #[test]
    fn backpropagating_one_layer_chunk_at_a_time_gives_the_full_gradients() {
        let config = tiny_config(3);
        for (name, device) in test_devices::all() {
            let ad = device.autodiff();
            let model = config.init_encoder(&ad).freeze_below(2);
            let ids = [2i64, 7, 11, 5, 3, 2, 9, 9, 4, 3, 2, 6, 3, 0, 0];
            let padding: Vec<bool> = ids.iter().map(|&t| t == 0).collect();
            let input = BertInput {
                tokens: Tensor::from_data(TensorData::new(ids.to_vec(), [3, 5]), &ad),
                segments: Tensor::from_data(TensorData::new(vec![0i64; 15], [3, 5]), &ad),
                padding: Some(Tensor::from_data(TensorData::new(padding, [3, 5]), &ad)),
            };
            let weights = Tensor::<3>::from_data(
                TensorData::new(
                    (0..120)
                        .map(|i| ((i * 37 % 17) as f32 - 8.0) / 8.0)
                        .collect(),
                    [3, 5, 8],
                ),
                &ad,
            );
            let loss_of = |hidden: Tensor<3>| (hidden.tanh() * weights.clone()).sum();
            let mut ids = Vec::new();
            for (k, l) in model.layers.iter().enumerate() {
                for (part, id) in [
                    ("query", l.attention.query.weight.id),
                    ("intermediate", l.intermediate.weight.id),
                    ("output", l.output.weight.id),
                ] {
                    ids.push((k, part, id));
                }
            }

            let mut whole = GradientsParams::from_grads(
                loss_of(model.forward(&input).hidden).backward(),
                &model,
            );

            let cut = pollster::block_on(model.forward_cut(&input, 1, 2, || async {}));
            assert_eq!(cut.layers.len(), 2, "{name}: layers 1 and 2 are trained");
            assert_eq!(cut.layers[1].outputs.len(), 2, "{name}: rows 0-1 and 2");
            assert!(cut.layers[0].inputs.iter().all(Option::is_none), "{name}");
            assert!(cut.layers[1].inputs.iter().all(Option::is_some), "{name}");
            let hidden = cut.hidden.clone();
            let mut summed = GradientsAccumulator::<BertModel>::new();
            let mut calls = Vec::new();
            let apply = |mut grads, layer_done| {
                calls.push(layer_done);
                summed.accumulate(&model, GradientsParams::from_module(&mut grads, &model));
            };
            pollster::block_on(backward_by_layer(loss_of(hidden), cut, apply, || async {}));
            let mut pieces = summed.grads();
            // The loss, then two chunks of layer 2, then two of layer 1.
            assert_eq!(calls, [true, false, true, false, true], "{name}");

            for &(layer, part, id) in &ids {
                let want = whole.remove::<2>(id);
                let got = pieces.remove::<2>(id);
                if layer == 0 {
                    assert!(want.is_none() && got.is_none(), "{name}: layer 0 is frozen");
                    continue;
                }
                let want = want
                    .expect("tracked")
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap();
                let got =
                    got.unwrap_or_else(|| panic!("{name}: layer {layer} {part}: no gradient"));
                let got = got.into_data().try_to_vec::<f32>().unwrap();
                let scale = want.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
                let worst = want
                    .iter()
                    .zip(&got)
                    .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
                assert!(
                    worst <= 1e-4 * scale,
                    "{name}: layer {layer} {part}: off by {worst} (largest {scale})"
                );
            }
        }
    }

    /// Φ(x) and φ(x) of the standard normal, in f64.
    fn phi_cdf_pdf(x: f64) -> (f64, f64) {
        let cdf = 0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2));
        let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
        (cdf, pdf)
    }

    /// BERT's exact GELU, x Φ(x) (Hendrycks & Gimpel 2016), and its derivative
    /// Φ(x) + x φ(x), on every device against f64. The CPU backend computes Φ
    /// with a vectorisable approximation (vendor/PATCHES.md, burn-flex), so
    /// this is its accuracy contract: within 5e-7 · max(1, |value|) of the
    /// exact function, f32 rounding included, from -30 to 30 (tails too).
    /// The wgpu values meet the same bound; its gradient is cubecl's own kernel,
    /// which approximates more loosely (measured: 8.7e-4 off near x = -2), so
    /// its slopes are held to 1e-3.
    #[test]
    fn exact_gelu_and_its_gradient_match_x_phi_x_in_f64() {
        let xs: Vec<f32> = (-3000..=3000)
            .map(|i| i as f32 / 100.0)
            .chain([-30.0, -13.7, -9.2, 9.2, 13.7, 30.0, 1e-6, -1e-6])
            .collect();
        let close = |got: f32, want: f64, tolerance: f64| {
            (got as f64 - want).abs() <= tolerance * want.abs().max(1.0)
        };
        for (name, device) in test_devices::all() {
            let slope_tolerance = if name == "wgpu" { 1e-3 } else { 5e-7 };
            let ad = device.autodiff();
            let x =
                Tensor::<1>::from_data(TensorData::new(xs.clone(), [xs.len()]), &ad).require_grad();
            let y = Activation::Gelu.apply(x.clone());
            let values = y.clone().into_data().try_to_vec::<f32>().unwrap();
            let grads = y.sum().backward();
            let slopes = x.grad(&grads).expect("x is tracked");
            let slopes = slopes.into_data().try_to_vec::<f32>().unwrap();
            for ((&x, &got), &slope) in xs.iter().zip(&values).zip(&slopes) {
                let (cdf, pdf) = phi_cdf_pdf(x as f64);
                let (want, want_slope) = (x as f64 * cdf, cdf + x as f64 * pdf);
                assert!(
                    close(got, want, 5e-7),
                    "{name}: gelu({x}) = {got}, exact {want}"
                );
                assert!(
                    close(slope, want_slope, slope_tolerance),
                    "{name}: gelu'({x}) = {slope}, exact {want_slope}"
                );
            }
        }
    }
}

//! iGPT (Chen et al. 2020, "Generative Pretraining from Pixels"), small: a
//! GPT-2-style transformer over palette indices read in raster order.
//!
//! - Pre-LayerNorm blocks (x + attn(LN(x)); x + mlp(LN(x))), learned position
//!   embeddings, a linear head over the palette — the paper's §3.2 architecture.
//! - Two objectives with the same code (§3.1): next-pixel prediction
//!   (autoregressive, causal mask; the input is the sequence shifted right
//!   behind a start token) and masked-pixel prediction (BERT objective, no
//!   causal mask; 15% of pixels replaced by a mask token, predict them).
//! - The attention is [`SelfAttention`], the same module BERT uses.
//!
//! Losses are in nats per predicted pixel; divide by ln 2 for bits per
//! dimension, the unit the paper reports.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{gelu, log_softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::model::attention::{AttentionMask, KvCache, SelfAttention, SelfAttentionConfig};
use crate::model::checkpoint::{same_names, Checkpoint};
use crate::model::palette::GreyPalette;
use crate::model::rng::Rng;

#[derive(Config, Debug, PartialEq)]
pub struct IgptConfig {
    /// Palette size K: tokens 0..K are colours, token K is the start token
    /// (next-pixel model) or the mask token (masked-pixel model).
    #[config(default = 8)]
    pub palette_size: usize,
    /// Image side; the sequence has side² positions.
    #[config(default = 14)]
    pub side: usize,
    #[config(default = 64)]
    pub d_model: usize,
    #[config(default = 4)]
    pub n_layers: usize,
    #[config(default = 4)]
    pub n_heads: usize,
    /// true: next-pixel (GPT) model; false: masked-pixel (BERT-objective) model.
    #[config(default = true)]
    pub causal: bool,
}

impl IgptConfig {
    pub fn seq_len(&self) -> usize {
        self.side * self.side
    }

    /// The start (causal) or mask (bidirectional) token.
    pub fn special_token(&self) -> usize {
        self.palette_size
    }

    pub fn init(&self, device: &Device) -> Igpt {
        let d = self.d_model;
        Igpt {
            token_embedding: EmbeddingConfig::new(self.palette_size + 1, d).init(device),
            position_embedding: EmbeddingConfig::new(self.seq_len(), d).init(device),
            blocks: (0..self.n_layers)
                .map(|_| Block {
                    attention_norm: LayerNormConfig::new(d).init(device),
                    attention: SelfAttentionConfig::new(d, self.n_heads).init(device),
                    mlp_norm: LayerNormConfig::new(d).init(device),
                    mlp_in: LinearConfig::new(d, 4 * d).init(device),
                    mlp_out: LinearConfig::new(4 * d, d).init(device),
                })
                .collect(),
            final_norm: LayerNormConfig::new(d).init(device),
            head: LinearConfig::new(d, self.palette_size).init(device),
            causal: self.causal,
        }
    }
}

/// One pre-LayerNorm transformer block.
#[derive(Module, Debug)]
pub struct Block {
    attention_norm: LayerNorm,
    attention: SelfAttention,
    mlp_norm: LayerNorm,
    mlp_in: Linear,
    mlp_out: Linear,
}

impl Block {
    fn mlp(&self, x: Tensor<3>) -> Tensor<3> {
        self.mlp_out
            .forward(gelu(self.mlp_in.forward(self.mlp_norm.forward(x))))
    }

    fn forward(&self, x: Tensor<3>, mask: &AttentionMask) -> Tensor<3> {
        let x = x.clone() + self.attention.forward(self.attention_norm.forward(x), mask);
        x.clone() + self.mlp(x)
    }

    fn forward_cached(&self, x: Tensor<3>, cache: &mut KvCache) -> Tensor<3> {
        let x = x.clone()
            + self
                .attention
                .forward_cached(self.attention_norm.forward(x), cache);
        x.clone() + self.mlp(x)
    }
}

#[derive(Module, Debug)]
pub struct Igpt {
    token_embedding: Embedding,
    position_embedding: Embedding,
    blocks: Vec<Block>,
    final_norm: LayerNorm,
    head: Linear,
    causal: bool,
}

impl Igpt {
    pub fn n_layers(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_causal(&self) -> bool {
        self.causal
    }

    fn mask(&self) -> AttentionMask {
        if self.causal {
            AttentionMask::Causal
        } else {
            AttentionMask::Bidirectional
        }
    }

    /// Token + position embeddings for inputs at positions start..start+t.
    fn embed(&self, inputs: Tensor<2, Int>, start: usize) -> Tensor<3> {
        let [b, t] = inputs.dims();
        let device = inputs.device();
        let positions = Tensor::<1, Int>::arange(start as i64..(start + t) as i64, &device)
            .reshape([1, t])
            .expand([b, t]);
        self.token_embedding.forward(inputs) + self.position_embedding.forward(positions)
    }

    /// inputs [batch, t] (t ≤ side²) → logits [batch, t, palette].
    pub fn forward(&self, inputs: Tensor<2, Int>) -> Tensor<3> {
        let mask = self.mask();
        let mut x = self.embed(inputs, 0);
        for block in &self.blocks {
            x = block.forward(x, &mask);
        }
        self.head.forward(self.final_norm.forward(x))
    }

    /// The hidden state after `layers` blocks, mean-pooled over positions:
    /// [batch, d_model] — the features a linear probe reads (§3.4).
    pub fn pooled_features(&self, inputs: Tensor<2, Int>, layers: usize) -> Tensor<2> {
        let mask = self.mask();
        let mut x = self.embed(inputs, 0);
        for block in self.blocks.iter().take(layers) {
            x = block.forward(x, &mask);
        }
        if layers >= self.blocks.len() {
            x = self.final_norm.forward(x);
        }
        x.mean_dim(1).squeeze_dim(1)
    }

    /// The hidden state after each block, mean-pooled over positions: one
    /// [batch, d_model] tensor per layer, from a single forward pass.
    pub fn pooled_features_per_layer(&self, inputs: Tensor<2, Int>) -> Vec<Tensor<2>> {
        let mask = self.mask();
        let mut x = self.embed(inputs, 0);
        let mut out = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            x = block.forward(x, &mask);
            out.push(x.clone().mean_dim(1).squeeze_dim(1));
        }
        out
    }

    /// Causal incremental decoding: inputs at positions start..start+t, given
    /// the caches of positions 0..start (one cache per block) → logits [batch, t, palette].
    pub fn forward_cached(
        &self,
        inputs: Tensor<2, Int>,
        start: usize,
        caches: &mut [KvCache],
    ) -> Tensor<3> {
        assert!(self.causal, "a KV cache only applies to the causal model");
        assert_eq!(caches.len(), self.blocks.len());
        let mut x = self.embed(inputs, start);
        for (block, cache) in self.blocks.iter().zip(caches.iter_mut()) {
            x = block.forward_cached(x, cache);
        }
        self.head.forward(self.final_norm.forward(x))
    }
}

/// A trained model as the training command writes it: weights, config and
/// palette in one safetensors file (config and palette in its metadata).
pub struct LoadedIgpt {
    pub model: Igpt,
    pub config: IgptConfig,
    pub palette: GreyPalette,
    /// Training steps the weights had.
    pub step: usize,
}

/// Loads a checkpoint written by `examples/train_igpt.rs`.
pub fn load_igpt(bytes: &[u8], device: &Device) -> Result<LoadedIgpt, String> {
    let checkpoint = Checkpoint::parse(bytes).map_err(|e| e.to_string())?;
    let meta = |key: &str| {
        checkpoint
            .metadata
            .get(key)
            .ok_or_else(|| format!("the checkpoint has no {key} in its metadata"))
    };
    let config: IgptConfig =
        serde_json::from_str(meta("igpt_config")?).map_err(|e| format!("igpt_config: {e}"))?;
    let levels: Vec<f32> =
        serde_json::from_str(meta("palette")?).map_err(|e| format!("palette: {e}"))?;
    if levels.len() != config.palette_size {
        return Err(format!(
            "palette has {} levels, the config says {}",
            levels.len(),
            config.palette_size
        ));
    }
    let step = meta("step")?.parse().unwrap_or(0);
    let model = checkpoint
        .load_into(config.init(device), &same_names, device)
        .map_err(|e| e.to_string())?;
    Ok(LoadedIgpt {
        model,
        config,
        palette: GreyPalette { levels },
        step,
    })
}

/// Token ids as a [rows, len / rows] tensor.
pub fn token_tensor(values: Vec<i64>, rows: usize, device: &Device) -> Tensor<2, Int> {
    let cols = values.len() / rows;
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// A tiny model configuration (4×4 pixels, 5 colours, 2 layers) for tests.
#[cfg(test)]
pub(crate) fn tiny_config(causal: bool) -> IgptConfig {
    IgptConfig::new()
        .with_side(4)
        .with_palette_size(5)
        .with_d_model(16)
        .with_n_layers(2)
        .with_n_heads(2)
        .with_causal(causal)
}

/// The next-pixel model's input: the sequence shifted right behind the start
/// token, so the output at position t predicts pixel t from pixels < t.
pub fn shifted_inputs(tokens: &[u8], start_token: usize) -> Vec<i64> {
    std::iter::once(start_token as i64)
        .chain(tokens[..tokens.len() - 1].iter().map(|&t| t as i64))
        .collect()
}

/// Mean cross-entropy (nats) of logits [batch, t, K] against targets [batch, t],
/// counting only positions whose weight is 1 (all, if `weights` is None).
pub fn cross_entropy(
    logits: Tensor<3>,
    targets: Tensor<2, Int>,
    weights: Option<Tensor<2>>,
) -> Tensor<1> {
    let [b, t, k] = logits.dims();
    let log_probs = log_softmax(logits.reshape([b * t, k]), 1);
    let picked = log_probs
        .gather(1, targets.reshape([b * t, 1]))
        .reshape([b, t]);
    match weights {
        None => -picked.mean(),
        Some(w) => {
            let count = w.clone().sum().clamp_min(1.0);
            -(picked * w).sum() / count
        }
    }
}

/// A training batch for either objective, built on the CPU from palette indices.
pub struct Batch {
    pub inputs: Tensor<2, Int>,
    pub targets: Tensor<2, Int>,
    /// 1 where the loss counts (masked-pixel model: the masked positions).
    pub weights: Option<Tensor<2>>,
}

/// The masked-pixel objective's corruption (iGPT §3.1, after BERT): each pixel
/// is masked independently with probability `rate` (at least one per image) and
/// replaced by the mask token. Returns (inputs, which positions were masked).
pub fn mask_pixels(
    tokens: &[u8],
    rate: f32,
    mask_token: usize,
    rng: &mut Rng,
) -> (Vec<i64>, Vec<bool>) {
    let mut masked: Vec<bool> = tokens.iter().map(|_| rng.chance(rate)).collect();
    if !masked.iter().any(|&m| m) {
        let i = rng.below(tokens.len());
        masked[i] = true;
    }
    let inputs = tokens
        .iter()
        .zip(&masked)
        .map(|(&t, &m)| if m { mask_token as i64 } else { t as i64 })
        .collect();
    (inputs, masked)
}

/// Builds the batch for `images` (palette indices, side² each).
pub fn make_batch(
    config: &IgptConfig,
    images: &[&[u8]],
    mask_rate: f32,
    rng: &mut Rng,
    device: &Device,
) -> Batch {
    let t = config.seq_len();
    let b = images.len();
    let mut inputs = Vec::with_capacity(b * t);
    let mut targets = Vec::with_capacity(b * t);
    let mut weights = Vec::with_capacity(b * t);
    for image in images {
        assert_eq!(image.len(), t);
        targets.extend(image.iter().map(|&p| p as i64));
        if config.causal {
            inputs.extend(shifted_inputs(image, config.special_token()));
        } else {
            let (x, masked) = mask_pixels(image, mask_rate, config.special_token(), rng);
            inputs.extend(x);
            weights.extend(masked.iter().map(|&m| if m { 1.0f32 } else { 0.0 }));
        }
    }
    Batch {
        inputs: Tensor::from_data(TensorData::new(inputs, [b, t]), device),
        targets: Tensor::from_data(TensorData::new(targets, [b, t]), device),
        weights: (!config.causal)
            .then(|| Tensor::from_data(TensorData::new(weights, [b, t]), device)),
    }
}

/// The mean loss of a batch (nats per predicted pixel).
pub fn batch_loss(model: &Igpt, batch: Batch) -> Tensor<1> {
    let logits = model.forward(batch.inputs);
    cross_entropy(logits, batch.targets, batch.weights)
}

/// Softmax of `logits / temperature` over the `top_k` largest logits (all if
/// 0), the rest 0: the distribution a sampler draws from.
pub fn sampling_distribution(logits: &[f32], temperature: f32, top_k: usize) -> Vec<f32> {
    let t = temperature.max(1e-3);
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    let keep = if top_k == 0 {
        logits.len()
    } else {
        top_k.min(logits.len())
    };
    let max = logits[order[0]];
    let mut probs = vec![0.0f32; logits.len()];
    let mut sum = 0.0f32;
    for &i in &order[..keep] {
        let e = ((logits[i] - max) / t).exp();
        probs[i] = e;
        sum += e;
    }
    for p in &mut probs {
        *p /= sum;
    }
    probs
}

/// Draws an index from a distribution.
pub fn draw(probs: &[f32], rng: &mut Rng) -> usize {
    let mut target = rng.next_f32() * probs.iter().sum::<f32>();
    for (i, &p) in probs.iter().enumerate() {
        target -= p;
        if target < 0.0 {
            return i;
        }
    }
    probs.iter().rposition(|&p| p > 0.0).unwrap_or(0)
}

/// Softmax (temperature 1) of one row of logits.
pub fn softmax_row(logits: &[f32]) -> Vec<f32> {
    sampling_distribution(logits, 1.0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_devices::{self, max_abs_diff};

    #[test]
    fn next_pixel_model_output_at_t_ignores_later_pixels() {
        for (name, device) in test_devices::all() {
            device.seed(1);
            let model = tiny_config(true).init(&device);
            let a: Vec<i64> = (0..16).map(|i| i % 5).collect();
            let mut b = a.clone();
            b[10] = 4 - b[10];
            b[15] = 4 - b[15];
            let la = model.forward(token_tensor(a, 1, &device));
            let lb = model.forward(token_tensor(b, 1, &device));
            let early = max_abs_diff(la.clone().narrow(1, 0, 10), lb.clone().narrow(1, 0, 10));
            assert!(early < 1e-5, "{name}: {early}");
            assert!(max_abs_diff(la.narrow(1, 10, 6), lb.narrow(1, 10, 6)) > 1e-4);
        }
    }

    #[test]
    fn masked_pixel_model_sees_both_sides() {
        let device = test_devices::cpu();
        device.seed(2);
        let model = tiny_config(false).init(&device);
        let a: Vec<i64> = (0..16).map(|i| i % 5).collect();
        let mut b = a.clone();
        b[15] = 5; // the mask token at the last position
        let la = model.forward(token_tensor(a, 1, &device));
        let lb = model.forward(token_tensor(b, 1, &device));
        // The first position's prediction changes with the last pixel.
        assert!(max_abs_diff(la.narrow(1, 0, 1), lb.narrow(1, 0, 1)) > 1e-4);
    }

    #[test]
    fn kv_cache_decoding_equals_full_recompute() {
        for (name, device) in test_devices::all() {
            device.seed(3);
            let model = tiny_config(true).init(&device);
            let tokens: Vec<i64> = vec![5, 1, 2, 3, 0, 4, 4, 1, 2, 0, 0, 3, 1, 2, 3, 4];
            let full = model.forward(token_tensor(tokens.clone(), 1, &device));
            let mut caches = vec![KvCache::default(); 2];
            let mut parts = vec![model.forward_cached(
                token_tensor(tokens[..5].to_vec(), 1, &device),
                0,
                &mut caches,
            )];
            for (t, &token) in tokens.iter().enumerate().skip(5) {
                parts.push(model.forward_cached(
                    token_tensor(vec![token], 1, &device),
                    t,
                    &mut caches,
                ));
            }
            let diff = max_abs_diff(full, Tensor::cat(parts, 1));
            assert!(diff < 1e-4, "{name}: {diff}");
        }
    }

    /// The committed models (weights/, trained by `make train-igpt`) load, and
    /// predict held-out Fashion-MNIST pixels better than the palette's
    /// frequencies alone: they learned something about images.
    #[test]
    fn the_committed_models_beat_the_frequency_baseline() {
        let root = env!("CARGO_MANIFEST_DIR");
        let images = std::fs::read(format!(
            "{root}/.assets/www/igpt/fashion-mnist-test-1000.u8"
        ))
        .expect("the Fashion-MNIST test sample (run `make setup`)");
        let device = test_devices::cpu();
        for (file, causal) in [("igpt-next", true), ("igpt-masked", false)] {
            let bytes = std::fs::read(format!("{root}/weights/{file}.safetensors")).unwrap();
            let loaded = load_igpt(&bytes, &device).unwrap();
            assert_eq!(loaded.config.causal, causal, "{file}");
            let side = loaded.config.side;
            let tokens: Vec<Vec<u8>> = images
                .chunks_exact(28 * 28)
                .take(64)
                .map(|img| {
                    loaded
                        .palette
                        .quantize(&crate::model::palette::downsample(img, 28, 28 / side))
                })
                .collect();
            // Entropy of the palette frequencies (bits/pixel): what a model that
            // ignores all context could reach at best.
            let mut counts = vec![0f64; loaded.config.palette_size];
            tokens
                .iter()
                .flatten()
                .for_each(|&t| counts[t as usize] += 1.0);
            let total: f64 = counts.iter().sum();
            let entropy: f64 = counts
                .iter()
                .filter(|&&c| c > 0.0)
                .map(|&c| -(c / total) * (c / total).log2())
                .sum();
            let refs: Vec<&[u8]> = tokens.iter().map(|t| t.as_slice()).collect();
            let batch = make_batch(&loaded.config, &refs, 0.15, &mut Rng::new(1), &device);
            let bits = batch_loss(&loaded.model, batch).into_scalar::<f32>() as f64
                / std::f64::consts::LN_2;
            assert!(
                bits < 0.8 * entropy,
                "{file}: {bits:.3} bits/dim vs frequency entropy {entropy:.3}"
            );
        }
    }

    #[test]
    fn shifted_inputs_start_with_the_start_token() {
        assert_eq!(shifted_inputs(&[3, 1, 2], 8), vec![8, 3, 1]);
    }

    #[test]
    fn masking_replaces_about_the_rate_and_at_least_one() {
        let mut rng = Rng::new(9);
        let tokens = vec![2u8; 196];
        let mut total = 0;
        for _ in 0..200 {
            let (inputs, masked) = mask_pixels(&tokens, 0.15, 8, &mut rng);
            assert!(masked.iter().any(|&m| m));
            for (x, m) in inputs.iter().zip(&masked) {
                assert_eq!(*x, if *m { 8 } else { 2 });
            }
            total += masked.iter().filter(|&&m| m).count();
        }
        let rate = total as f32 / (200.0 * 196.0);
        assert!((rate - 0.15).abs() < 0.01, "{rate}");
        let (_, masked) = mask_pixels(&[1, 1], 0.0, 8, &mut rng);
        assert_eq!(masked.iter().filter(|&&m| m).count(), 1);
    }

    #[test]
    fn cross_entropy_matches_a_hand_computed_value() {
        let device = test_devices::cpu();
        // Logits (0, ln 3) over 2 classes: p = (1/4, 3/4).
        let logits = Tensor::<3>::from_data(
            TensorData::new(vec![0.0f32, 3f32.ln(), 0.0, 3f32.ln()], [1, 2, 2]),
            &device,
        );
        let targets = token_tensor(vec![1, 0], 1, &device);
        let both: f32 = cross_entropy(logits.clone(), targets.clone(), None).into_scalar();
        let want = (-(0.75f32.ln()) - 0.25f32.ln()) / 2.0;
        assert!((both - want).abs() < 1e-5);
        let weights = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 1.0], [1, 2]), &device);
        let second: f32 = cross_entropy(logits, targets, Some(weights)).into_scalar();
        assert!((second + 0.25f32.ln()).abs() < 1e-5);
    }

    #[test]
    fn sampling_distribution_applies_temperature_and_top_k() {
        let logits = [2.0f32, 1.0, 0.0, -1.0];
        let p = sampling_distribution(&logits, 1.0, 0);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((p[0] / p[1] - 1f32.exp()).abs() < 1e-4);
        let cold = sampling_distribution(&logits, 0.5, 0);
        assert!((cold[0] / cold[1] - 2f32.exp()).abs() < 1e-3);
        let top2 = sampling_distribution(&logits, 1.0, 2);
        assert_eq!(&top2[2..], &[0.0, 0.0]);
        assert!((top2[0] + top2[1] - 1.0).abs() < 1e-6);
        let mut rng = Rng::new(1);
        let draws: Vec<usize> = (0..1000).map(|_| draw(&top2, &mut rng)).collect();
        assert!(draws.iter().all(|&d| d < 2));
        let zeros = draws.iter().filter(|&&d| d == 0).count() as f32 / 1000.0;
        assert!((zeros - top2[0]).abs() < 0.05, "{zeros} vs {}", top2[0]);
    }
}

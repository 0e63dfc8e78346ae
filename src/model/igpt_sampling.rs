//! Completing an image with iGPT's two models, one step at a time, so a page
//! can draw each pixel as it appears and stop at any step.
//!
//! - [`Completion`]: the next-pixel model generates the masked pixels in
//!   raster order, each from every pixel before it (given or generated).
//!   With a KV cache each new pixel costs one position's forward pass; without
//!   it (kept for the benchmark) the whole prefix is recomputed every time.
//! - [`MaskedFill`]: the masked-pixel model fills the masked pixels in rounds,
//!   most confident first (as in MaskGIT, Chang et al. 2022): each round
//!   predicts every masked pixel from everything visible, on both sides, and
//!   commits the ones it is surest of.
//!
//! Logits are read back asynchronously (WebGPU cannot read synchronously in
//! wasm) and sampled on the CPU: temperature, top-k.

use burn::tensor::Device;

use crate::model::attention::KvCache;
use crate::model::igpt::{draw, sampling_distribution, token_tensor, Igpt};
use crate::model::rng::Rng;
use crate::model::simclr::read_f32;

/// How samples are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingSettings {
    pub samples: usize,
    pub temperature: f32,
    /// Keep only the k most likely colours (0: all).
    pub top_k: usize,
    pub seed: u64,
}

/// What one step decided: for each sample, the positions it filled.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutcome {
    pub positions: Vec<usize>,
}

/// Autoregressive completion with the next-pixel model.
pub struct Completion {
    model: Igpt,
    device: Device,
    settings: SamplingSettings,
    masked: Vec<bool>,
    /// Per sample: the sequence so far (given pixels, then generated ones).
    pub tokens: Vec<Vec<u8>>,
    /// Per sample, per position: the distribution a generated pixel was drawn from.
    pub distributions: Vec<Vec<Option<Vec<f32>>>>,
    use_cache: bool,
    caches: Vec<KvCache>,
    /// Next position to decide, and the logits [samples × K] predicting it.
    position: usize,
    logits: Option<Vec<f32>>,
    rng: Rng,
    start_token: i64,
    palette: usize,
}

impl Completion {
    /// `image`: the palette indices of the whole image (masked ones are
    /// ignored); `masked`: which pixels to generate.
    pub fn new(
        model: &Igpt,
        image: &[u8],
        masked: &[bool],
        settings: SamplingSettings,
        palette: usize,
        use_cache: bool,
        device: &Device,
    ) -> Self {
        assert!(model.is_causal(), "completion needs the next-pixel model");
        assert_eq!(image.len(), masked.len());
        let position = masked.iter().position(|&m| m).unwrap_or(image.len());
        Self {
            model: model.clone(),
            device: device.clone(),
            settings,
            masked: masked.to_vec(),
            tokens: vec![image.to_vec(); settings.samples],
            distributions: vec![vec![None; image.len()]; settings.samples],
            use_cache,
            caches: vec![KvCache::default(); model.n_layers()],
            position,
            logits: None,
            rng: Rng::new(settings.seed),
            start_token: palette as i64,
            palette,
        }
    }

    pub fn is_done(&self) -> bool {
        self.position >= self.masked.len()
    }

    /// The next position to be generated.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Inputs for positions `from..to` (the sequence shifted behind the start token).
    fn inputs(&self, from: usize, to: usize) -> Vec<i64> {
        let mut out = Vec::with_capacity(self.settings.samples * (to - from));
        for tokens in &self.tokens {
            for p in from..to {
                out.push(if p == 0 {
                    self.start_token
                } else {
                    tokens[p - 1] as i64
                });
            }
        }
        out
    }

    /// Logits [samples × K] for the pixel at `target` (every earlier token known).
    async fn logits_for(&mut self, target: usize) -> Result<Vec<f32>, String> {
        let b = self.settings.samples;
        let k = self.palette;
        let logits = if self.use_cache {
            let from = self.caches[0].len();
            let inputs = token_tensor(self.inputs(from, target + 1), b, &self.device);
            let out = self.model.forward_cached(inputs, from, &mut self.caches);
            let t = out.dims()[1];
            out.narrow(1, t - 1, 1)
        } else {
            let inputs = token_tensor(self.inputs(0, target + 1), b, &self.device);
            self.model.forward(inputs).narrow(1, target, 1)
        };
        let values = read_f32(logits.reshape([b, k]))
            .await
            .map_err(|e| e.to_string())?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err("the model produced a non-finite logit".into());
        }
        Ok(values)
    }

    /// Generates the next masked pixel of every sample. Returns the position
    /// filled, or None when the image is complete.
    pub async fn step(&mut self) -> Result<Option<usize>, String> {
        if self.is_done() {
            return Ok(None);
        }
        let p = self.position;
        let logits = match self.logits.take() {
            Some(l) => l,
            None => self.logits_for(p).await?,
        };
        let k = self.palette;
        for s in 0..self.settings.samples {
            let probs = sampling_distribution(
                &logits[s * k..(s + 1) * k],
                self.settings.temperature,
                self.settings.top_k,
            );
            self.tokens[s][p] = draw(&probs, &mut self.rng) as u8;
            self.distributions[s][p] = Some(probs);
        }
        // Feed everything up to the next masked pixel (given pixels are context).
        let next = (p + 1..self.masked.len())
            .find(|&q| self.masked[q])
            .unwrap_or(self.masked.len());
        self.position = next;
        if next < self.masked.len() {
            self.logits = Some(self.logits_for(next).await?);
        }
        Ok(Some(p))
    }
}

/// Iterative filling with the masked-pixel model, most confident first.
pub struct MaskedFill {
    model: Igpt,
    device: Device,
    settings: SamplingSettings,
    pub tokens: Vec<Vec<u8>>,
    pub distributions: Vec<Vec<Option<Vec<f32>>>>,
    remaining: Vec<Vec<usize>>,
    rounds_left: usize,
    rng: Rng,
    mask_token: u8,
    palette: usize,
}

impl MaskedFill {
    pub fn new(
        model: &Igpt,
        image: &[u8],
        masked: &[bool],
        settings: SamplingSettings,
        palette: usize,
        rounds: usize,
        device: &Device,
    ) -> Self {
        assert!(
            !model.is_causal(),
            "masked filling needs the masked-pixel model"
        );
        let positions: Vec<usize> = (0..masked.len()).filter(|&p| masked[p]).collect();
        let mut image = image.to_vec();
        for &p in &positions {
            image[p] = palette as u8;
        }
        Self {
            model: model.clone(),
            device: device.clone(),
            settings,
            tokens: vec![image; settings.samples],
            distributions: vec![vec![None; masked.len()]; settings.samples],
            remaining: vec![positions; settings.samples],
            rounds_left: rounds.max(1),
            rng: Rng::new(settings.seed ^ 0x5eed),
            mask_token: palette as u8,
            palette,
        }
    }

    pub fn is_done(&self) -> bool {
        self.remaining.iter().all(|r| r.is_empty())
    }

    /// Tokens still masked in sample `s` show as the mask token.
    pub fn is_masked(&self, s: usize, p: usize) -> bool {
        self.tokens[s][p] == self.mask_token
    }

    /// One round: predict every masked pixel, commit the most confident share.
    pub async fn step(&mut self) -> Result<StepOutcome, String> {
        let b = self.settings.samples;
        let t = self.tokens[0].len();
        let k = self.palette;
        let inputs: Vec<i64> = self.tokens.iter().flatten().map(|&x| x as i64).collect();
        let logits = self.model.forward(token_tensor(inputs, b, &self.device));
        let values = read_f32(logits.reshape([b * t * k]))
            .await
            .map_err(|e| e.to_string())?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err("the model produced a non-finite logit".into());
        }
        let mut filled = Vec::new();
        for s in 0..b {
            let remaining = std::mem::take(&mut self.remaining[s]);
            if remaining.is_empty() {
                continue;
            }
            let take = remaining.len().div_ceil(self.rounds_left);
            let mut scored: Vec<(usize, Vec<f32>, f32)> = remaining
                .iter()
                .map(|&p| {
                    let row = &values[(s * t + p) * k..(s * t + p + 1) * k];
                    let probs =
                        sampling_distribution(row, self.settings.temperature, self.settings.top_k);
                    let confidence = probs.iter().cloned().fold(0.0f32, f32::max);
                    (p, probs, confidence)
                })
                .collect();
            scored.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
            for (i, (p, probs, _)) in scored.into_iter().enumerate() {
                if i < take {
                    self.tokens[s][p] = draw(&probs, &mut self.rng) as u8;
                    self.distributions[s][p] = Some(probs);
                    filled.push(p);
                } else {
                    self.remaining[s].push(p);
                }
            }
        }
        self.rounds_left = self.rounds_left.saturating_sub(1).max(1);
        Ok(StepOutcome { positions: filled })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::igpt::tiny_config;
    use crate::model::test_devices;

    fn settings() -> SamplingSettings {
        SamplingSettings {
            samples: 3,
            temperature: 1.0,
            top_k: 0,
            seed: 7,
        }
    }

    #[test]
    fn completion_keeps_given_pixels_and_fills_the_masked_ones() {
        let device = test_devices::cpu();
        device.seed(1);
        let model = tiny_config(true).init(&device);
        let image: Vec<u8> = (0..16).map(|i| (i % 5) as u8).collect();
        // A brush mask: positions 5, 6 and 12..16.
        let masked: Vec<bool> = (0..16).map(|p| p == 5 || p == 6 || p >= 12).collect();
        let mut cached = Completion::new(&model, &image, &masked, settings(), 5, true, &device);
        let mut full = Completion::new(&model, &image, &masked, settings(), 5, false, &device);
        let mut order = Vec::new();
        while let Some(p) = pollster::block_on(cached.step()).unwrap() {
            order.push(p);
            assert_eq!(pollster::block_on(full.step()).unwrap(), Some(p));
        }
        assert_eq!(order, vec![5, 6, 12, 13, 14, 15]);
        for s in 0..3 {
            for p in 0..16 {
                if !masked[p] {
                    assert_eq!(cached.tokens[s][p], image[p], "a given pixel changed");
                    assert!(cached.distributions[s][p].is_none());
                } else {
                    assert!(cached.tokens[s][p] < 5);
                    let probs = cached.distributions[s][p].as_ref().unwrap();
                    assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-5);
                }
            }
        }
        // The KV cache changes the cost, not the samples.
        assert_eq!(cached.tokens, full.tokens);
    }

    #[test]
    fn completion_of_a_fully_masked_image_is_unconditional_and_of_an_unmasked_one_is_empty() {
        let device = test_devices::cpu();
        let model = tiny_config(true).init(&device);
        let mut all = Completion::new(&model, &[0; 16], &[true; 16], settings(), 5, true, &device);
        let mut steps = 0;
        while pollster::block_on(all.step()).unwrap().is_some() {
            steps += 1;
        }
        assert_eq!(steps, 16);
        let mut none =
            Completion::new(&model, &[0; 16], &[false; 16], settings(), 5, true, &device);
        assert!(none.is_done());
        assert_eq!(pollster::block_on(none.step()).unwrap(), None);
    }

    #[test]
    fn masked_fill_commits_every_masked_pixel_within_the_rounds() {
        let device = test_devices::cpu();
        device.seed(2);
        let model = tiny_config(false).init(&device);
        let image: Vec<u8> = (0..16).map(|i| (i % 5) as u8).collect();
        let masked: Vec<bool> = (0..16).map(|p| p >= 8).collect();
        let mut fill = MaskedFill::new(&model, &image, &masked, settings(), 5, 3, &device);
        assert!(fill.is_masked(0, 9));
        let mut rounds = 0;
        while !fill.is_done() {
            let outcome = pollster::block_on(fill.step()).unwrap();
            assert!(!outcome.positions.is_empty());
            rounds += 1;
        }
        assert_eq!(rounds, 3);
        for s in 0..3 {
            assert_eq!(&fill.tokens[s][..8], &image[..8]);
            assert!(fill.tokens[s][8..].iter().all(|&t| t < 5));
        }
    }
}

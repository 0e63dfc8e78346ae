//! "Watch BERT learn": a tiny BERT (2 layers) trained from scratch with the
//! masked-LM objective on a short text, one step at a time so the page can
//! plot the loss and re-ask a probe sentence between steps. Early on it
//! guesses the most frequent words; later, words that fit the context.
//!
//! The vocabulary is compact: only the WordPieces the text uses (through the
//! real tokenizer), renumbered after the four special tokens, so the model is
//! small enough to train in a browser tab. The same code trains natively in
//! `cargo test`.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Device;

use crate::model::bert::{BertConfig, BertForPreTraining};
use crate::model::bert_tokenizer::Encoded;
use crate::model::fill_mask::{fill_mask, Candidate};
use crate::model::mlm::{
    pretraining_losses, MlmRule, NextSentence, PretrainingBatch, PretrainingExample, SELECT_RATE,
};
use crate::model::rng::Rng;
use crate::model::simclr::read_f32;

/// Compact ids of the special tokens; words follow from [`FIRST_WORD`].
pub const PAD: u32 = 0;
pub const CLS: u32 = 1;
pub const SEP: u32 = 2;
pub const MASK: u32 = 3;
pub const FIRST_WORD: u32 = 4;

/// The text's own vocabulary: compact id ↔ the tokenizer's id.
#[derive(Debug, Clone)]
pub struct CompactVocab {
    /// Tokenizer id of each compact id (specials first).
    pub to_full: Vec<u32>,
    from_full: BTreeMap<u32, u32>,
}

impl CompactVocab {
    /// `specials`: the tokenizer's [PAD], [CLS], [SEP], [MASK] ids.
    pub fn new(specials: [u32; 4], sentences: &[Encoded]) -> Self {
        let mut to_full = specials.to_vec();
        let mut from_full: BTreeMap<u32, u32> = specials
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i as u32))
            .collect();
        for e in sentences {
            for &id in &e.ids {
                from_full.entry(id).or_insert_with(|| {
                    to_full.push(id);
                    (to_full.len() - 1) as u32
                });
            }
        }
        CompactVocab { to_full, from_full }
    }

    pub fn len(&self) -> usize {
        self.to_full.len()
    }

    pub fn is_empty(&self) -> bool {
        self.to_full.is_empty()
    }

    /// The compact id of a tokenizer id, if the text has that word piece.
    pub fn compact(&self, full: u32) -> Option<u32> {
        self.from_full.get(&full).copied()
    }
}

/// The tiny model's shape and training settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveBertSettings {
    pub layers: usize,
    pub hidden: usize,
    pub heads: usize,
    /// Sentences per step.
    pub batch: usize,
    pub learning_rate: f64,
}

impl Default for LiveBertSettings {
    fn default() -> Self {
        LiveBertSettings {
            layers: 2,
            hidden: 64,
            heads: 4,
            batch: 16,
            learning_rate: 2e-3,
        }
    }
}

pub struct LiveBert {
    device: Device,
    model: BertForPreTraining,
    optimizer: ModuleOptimizer,
    vocab: CompactVocab,
    sentences: Vec<Vec<u32>>,
    rule: MlmRule,
    rng: Rng,
    settings: LiveBertSettings,
    step: usize,
}

impl LiveBert {
    /// `sentences`: the text, tokenised (`[CLS] sentence [SEP]` each);
    /// `specials`: the tokenizer's [PAD], [CLS], [SEP], [MASK] ids.
    pub fn new(
        sentences: &[Encoded],
        specials: [u32; 4],
        settings: LiveBertSettings,
        seed: u64,
        device: &Device,
    ) -> Result<Self, String> {
        if sentences.len() < 2 {
            return Err("The text needs at least two sentences to learn from.".into());
        }
        let vocab = CompactVocab::new(specials, sentences);
        let max_len = sentences.iter().map(|e| e.len()).max().unwrap_or(0).max(8);
        let config = BertConfig {
            vocab_size: vocab.len(),
            hidden_size: settings.hidden,
            num_hidden_layers: settings.layers,
            num_attention_heads: settings.heads,
            intermediate_size: 4 * settings.hidden,
            max_position_embeddings: max_len,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            hidden_dropout_prob: 0.0,
            attention_probs_dropout_prob: 0.0,
            hidden_act: "gelu".into(),
            pad_token_id: PAD as usize,
        };
        config.validate()?;
        let device = device.clone().autodiff();
        device.seed(seed);
        let compact: Vec<Vec<u32>> = sentences
            .iter()
            .map(|e| e.ids.iter().map(|&id| vocab.compact(id).unwrap()).collect())
            .collect();
        Ok(LiveBert {
            model: config.init(&device),
            optimizer: AdamConfig::new().init(),
            rule: MlmRule {
                mask_id: MASK,
                random_ids: FIRST_WORD..vocab.len().max(FIRST_WORD as usize + 1) as u32,
                select_rate: SELECT_RATE,
            },
            vocab,
            sentences: compact,
            rng: Rng::new(seed),
            settings,
            step: 0,
            device,
        })
    }

    pub fn steps_done(&self) -> usize {
        self.step
    }

    pub fn vocab(&self) -> &CompactVocab {
        &self.vocab
    }

    pub fn num_params(&self) -> usize {
        self.model.num_params()
    }

    /// One Adam step on the MLM loss of a random batch; returns the loss
    /// (nats per predicted token). A non-finite loss is reported, not trained on.
    pub async fn step(&mut self) -> Result<f32, String> {
        let examples: Vec<PretrainingExample> = (0..self.settings.batch)
            .map(|_| {
                let ids = &self.sentences[self.rng.below(self.sentences.len())];
                let special: Vec<bool> = ids.iter().map(|&id| id < FIRST_WORD).collect();
                let corrupted = self.rule.corrupt(ids, &special, &mut self.rng);
                let targets = corrupted.target_slots(ids);
                PretrainingExample {
                    inputs: corrupted.inputs,
                    segments: vec![0; ids.len()],
                    targets,
                    next: NextSentence::IsNext,
                }
            })
            .collect();
        let batch = PretrainingBatch::new(&examples, PAD, &self.device);
        let loss = pretraining_losses(&self.model, &batch).mlm;
        let value = read_f32(loss.clone().inner())
            .await
            .map_err(|e| e.to_string())?[0];
        if !value.is_finite() {
            return Err(format!(
                "The loss became {value} at step {}; training stopped. Lower the learning rate and reset.",
                self.step + 1
            ));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self
            .optimizer
            .step(self.settings.learning_rate, self.model.clone(), grads);
        self.step += 1;
        Ok(value)
    }

    /// The model's top-`k` words (tokenizer ids) at `position` of `probe`
    /// (a sentence tokenised by the same tokenizer, its word pieces mapped to
    /// the text's vocabulary; pieces the text never uses cannot be read).
    pub async fn predict(
        &self,
        probe: &Encoded,
        position: usize,
        k: usize,
    ) -> Result<Vec<Candidate>, String> {
        let ids = probe
            .ids
            .iter()
            .zip(&probe.tokens)
            .map(|(&id, token)| {
                self.vocab
                    .compact(id)
                    .ok_or_else(|| format!("\"{token}\" does not occur in the training text"))
            })
            .collect::<Result<Vec<u32>, String>>()?;
        let compact = Encoded {
            ids,
            segments: probe.segments.clone(),
            tokens: probe.tokens.clone(),
            offsets: probe.offsets.clone(),
        };
        let device = self.device.clone().inner();
        let model = self.model.valid();
        let mut top = fill_mask(&model, &compact, &[position], k, &device)
            .await?
            .pop()
            .unwrap_or_default();
        for c in &mut top {
            c.id = self.vocab.to_full[c.id as usize];
        }
        Ok(top)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::bert_tokenizer::tests::minilm_tokenizer;
    use crate::model::test_devices;

    const TEXT: &[&str] = &[
        "the cat sat on the mat.",
        "the dog sat on the rug.",
        "a cat likes milk.",
        "a dog likes bones.",
        "the cat sleeps on the mat.",
        "the dog sleeps on the rug.",
    ];

    #[test]
    fn the_compact_vocabulary_keeps_specials_first_and_maps_both_ways() {
        let t = minilm_tokenizer();
        let sentences: Vec<Encoded> = TEXT.iter().map(|s| t.encode(s, None).unwrap()).collect();
        let vocab = CompactVocab::new([t.pad_id, t.cls_id, t.sep_id, t.mask_id], &sentences);
        assert_eq!(vocab.to_full[..4], [0, 101, 102, 103]);
        let cat = t.id("cat").unwrap();
        let compact = vocab.compact(cat).unwrap();
        assert!(compact >= FIRST_WORD);
        assert_eq!(vocab.to_full[compact as usize], cat);
        assert_eq!(vocab.compact(t.id("banana").unwrap()), None);
        // [PAD] CLS SEP MASK + the, cat, sat, on, mat, ., dog, rug, a, likes, milk, bones, sleeps
        assert_eq!(vocab.len(), 4 + 13);
    }

    #[test]
    fn a_tiny_bert_learns_the_text_and_its_guesses_fit_the_context() {
        let t = minilm_tokenizer();
        let sentences: Vec<Encoded> = TEXT.iter().map(|s| t.encode(s, None).unwrap()).collect();
        let device = test_devices::cpu();
        let mut live = LiveBert::new(
            &sentences,
            [t.pad_id, t.cls_id, t.sep_id, t.mask_id],
            LiveBertSettings::default(),
            1,
            &device,
        )
        .unwrap();
        let mut losses = Vec::new();
        for _ in 0..150 {
            losses.push(pollster::block_on(live.step()).unwrap());
        }
        let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len() as f32;
        let (first, last) = (mean(&losses[..10]), mean(&losses[140..]));
        // From about ln(17) = 2.8 nats to well below it.
        assert!(first > 2.0 && last < 0.6 * first, "{first} → {last}");
        let probe = t.encode("a cat likes [MASK].", None).unwrap();
        let top = pollster::block_on(live.predict(&probe, 4, 3)).unwrap();
        let words: Vec<String> = top.iter().map(|c| t.token(c.id)).collect();
        assert!(words.contains(&"milk".to_string()), "{words:?}");
        // A word the text never uses cannot be asked about.
        let unknown = t.encode("a banana likes [MASK].", None).unwrap();
        assert!(pollster::block_on(live.predict(&unknown, 4, 3))
            .unwrap_err()
            .contains("banana"));
    }

    #[test]
    fn one_sentence_is_not_enough_text() {
        let t = minilm_tokenizer();
        let one = [t.encode("just one.", None).unwrap()];
        let specials = [t.pad_id, t.cls_id, t.sep_id, t.mask_id];
        let device = test_devices::cpu();
        assert!(LiveBert::new(&one, specials, LiveBertSettings::default(), 0, &device).is_err());
    }
}

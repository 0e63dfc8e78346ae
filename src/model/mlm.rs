//! BERT's two pretraining tasks (Devlin et al. 2019, §3.1 and Appendix A.1):
//!
//! - Masked LM: select 15% of the (non-special) tokens at random; of the
//!   selected, replace 80% with [MASK], 10% with a random token and leave 10%
//!   unchanged; predict the original token at every selected position. The
//!   random and unchanged cases keep the model from learning that only
//!   [MASK] positions matter, since [MASK] never appears at fine-tuning time.
//! - Next-sentence prediction: for a pair (A, B), 50% of the time B is the
//!   sentence that follows A (IsNext), 50% a random sentence (NotNext).
//!
//! Pure functions over token ids, used by the training command and shown
//! step by step on the BERT page; the loss runs on any burn device.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use crate::model::bert::{BertForPreTraining, BertInput};
use crate::model::rng::Rng;
use crate::model::simclr::read_f32;

/// The paper's rates.
pub const SELECT_RATE: f32 = 0.15;
pub const MASK_SHARE: f32 = 0.8;
pub const RANDOM_SHARE: f32 = 0.1;

/// What the rule did to one position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corruption {
    /// Not selected: no prediction here.
    NotSelected,
    /// Selected, replaced by [MASK] (80%).
    Masked,
    /// Selected, replaced by a random token (10%).
    Randomized,
    /// Selected, left as it is (10%) — still predicted.
    Unchanged,
}

/// The rule's settings for one tokenizer.
#[derive(Debug, Clone)]
pub struct MlmRule {
    pub mask_id: u32,
    /// Random replacements are drawn uniformly from this id range (for
    /// bert-base-uncased the ordinary word pieces, 999..30522, skipping the
    /// special and [unusedN] ids).
    pub random_ids: std::ops::Range<u32>,
    pub select_rate: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Corrupted {
    pub inputs: Vec<u32>,
    pub kinds: Vec<Corruption>,
}

impl Corrupted {
    /// The original id at each selected position (the MLM targets).
    pub fn targets<'a>(&'a self, original: &'a [u32]) -> impl Iterator<Item = (usize, u32)> + 'a {
        self.kinds
            .iter()
            .enumerate()
            .filter(|(_, k)| **k != Corruption::NotSelected)
            .map(move |(i, _)| (i, original[i]))
    }

    /// The MLM target of every position: the original id where selected,
    /// None elsewhere (the shape a [`PretrainingExample`] takes).
    pub fn target_slots(&self, original: &[u32]) -> Vec<Option<u32>> {
        let mut slots = vec![None; original.len()];
        for (position, id) in self.targets(original) {
            slots[position] = Some(id);
        }
        slots
    }
}

/// bert-base-uncased ids below this are [PAD], [unusedN], [CLS], [SEP],
/// [MASK]…: never drawn as the random replacement.
pub const BERT_FIRST_WORD_ID: u32 = 999;

impl MlmRule {
    /// The paper's rule for a tokenizer: random replacements are drawn from
    /// its words only. For bert-base-uncased's vocabulary they start at
    /// [`BERT_FIRST_WORD_ID`]; a small vocabulary's start after its special tokens.
    pub fn for_tokenizer(tokenizer: &crate::model::bert_tokenizer::BertTokenizer) -> Self {
        let vocab = tokenizer.vocab_size() as u32;
        let first = if vocab > BERT_FIRST_WORD_ID {
            BERT_FIRST_WORD_ID
        } else {
            [
                tokenizer.cls_id,
                tokenizer.sep_id,
                tokenizer.mask_id,
                tokenizer.pad_id,
            ]
            .into_iter()
            .max()
            .unwrap_or(0)
                + 1
        };
        MlmRule {
            mask_id: tokenizer.mask_id,
            random_ids: first.min(vocab.saturating_sub(1))..vocab,
            select_rate: SELECT_RATE,
        }
    }

    /// Applies the rule to `ids`; positions where `special` is true ([CLS],
    /// [SEP], padding) are never selected. Like the paper's reference code
    /// (`create_pretraining_data.py`), exactly round(15% of the eligible
    /// positions), at least one, are selected, at random: every sequence
    /// teaches something, and the counter on the page converges to 15%.
    pub fn corrupt(&self, ids: &[u32], special: &[bool], rng: &mut Rng) -> Corrupted {
        let eligible: Vec<usize> = (0..ids.len()).filter(|&i| !special[i]).collect();
        let mut selected: Vec<bool> = vec![false; ids.len()];
        if !eligible.is_empty() {
            let k = ((eligible.len() as f32 * self.select_rate).round() as usize)
                .clamp(1, eligible.len());
            for pick in rng.choose_distinct(eligible.len(), k) {
                selected[eligible[pick]] = true;
            }
        }
        let mut inputs = ids.to_vec();
        let mut kinds = vec![Corruption::NotSelected; ids.len()];
        for i in 0..ids.len() {
            if !selected[i] {
                continue;
            }
            let u = rng.next_f32();
            kinds[i] = if u < MASK_SHARE {
                inputs[i] = self.mask_id;
                Corruption::Masked
            } else if u < MASK_SHARE + RANDOM_SHARE {
                let span = (self.random_ids.end - self.random_ids.start) as usize;
                inputs[i] = self.random_ids.start + rng.below(span) as u32;
                Corruption::Randomized
            } else {
                Corruption::Unchanged
            };
        }
        Corrupted { inputs, kinds }
    }
}

/// What the rule did over many draws: the page's counter, converging to
/// 15% selected and 80/10/10 of those.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CorruptionTally {
    /// Positions the rule could select (not [CLS]/[SEP]/padding).
    pub eligible: usize,
    pub masked: usize,
    pub randomized: usize,
    pub unchanged: usize,
}

impl CorruptionTally {
    pub fn add(&mut self, corrupted: &Corrupted, special: &[bool]) {
        self.eligible += special.iter().filter(|&&s| !s).count();
        for kind in &corrupted.kinds {
            match kind {
                Corruption::Masked => self.masked += 1,
                Corruption::Randomized => self.randomized += 1,
                Corruption::Unchanged => self.unchanged += 1,
                Corruption::NotSelected => {}
            }
        }
    }

    pub fn selected(&self) -> usize {
        self.masked + self.randomized + self.unchanged
    }

    /// Selected / eligible.
    pub fn selected_share(&self) -> f64 {
        self.selected() as f64 / self.eligible.max(1) as f64
    }

    /// Shares of the selected that were masked, randomised, left unchanged.
    pub fn shares(&self) -> [f64; 3] {
        let n = self.selected().max(1) as f64;
        [
            self.masked as f64 / n,
            self.randomized as f64 / n,
            self.unchanged as f64 / n,
        ]
    }
}

/// Whether B follows A in the pair (the NSP label; HF's index order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextSentence {
    IsNext = 0,
    NotNext = 1,
}

/// Picks the B of a pair for sentence `i` of `document`: with probability ½
/// the next sentence of the same document (IsNext), otherwise a random
/// sentence of another document (NotNext). Returns (document, sentence, label).
/// Needs at least two documents, and `i` must not be a document's last sentence.
pub fn pick_second(
    documents: &[Vec<String>],
    document: usize,
    i: usize,
    rng: &mut Rng,
) -> (usize, usize, NextSentence) {
    assert!(
        i + 1 < documents[document].len(),
        "sentence {i} has no next one"
    );
    assert!(documents.len() >= 2, "NotNext needs a second document");
    if rng.chance(0.5) {
        return (document, i + 1, NextSentence::IsNext);
    }
    let other = loop {
        let d = rng.below(documents.len());
        if d != document && !documents[d].is_empty() {
            break d;
        }
    };
    (
        other,
        rng.below(documents[other].len()),
        NextSentence::NotNext,
    )
}

/// Splits prose into sentences: after '.', '!' or '?' (and any closing quote
/// or bracket) followed by white space and an upper-case letter, a digit or an
/// opening quote. Common abbreviations (Mr., Dr., U.S., ...) do not end a
/// sentence. Good enough for the training corpus, not a linguistic claim.
pub fn split_sentences(text: &str) -> Vec<String> {
    const ABBREVIATIONS: &[&str] = &[
        "mr.", "mrs.", "ms.", "dr.", "st.", "gen.", "gov.", "sen.", "rep.", "hon.", "jr.", "sr.",
        "u.s.", "u.k.", "no.", "vs.", "etc.", "i.e.", "e.g.", "jan.", "feb.", "aug.", "sept.",
        "oct.", "nov.", "dec.",
    ];
    let chars: Vec<char> = text.chars().collect();
    let mut sentences = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        if matches!(chars[i], '.' | '!' | '?') {
            let mut end = i + 1;
            while end < chars.len() && matches!(chars[end], '"' | '\'' | ')' | '”' | '’') {
                end += 1;
            }
            let mut next = end;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let boundary = next > end
                && next < chars.len()
                && (chars[next].is_uppercase()
                    || chars[next].is_ascii_digit()
                    || matches!(chars[next], '"' | '“' | '\''));
            let word_start = chars[start..=i]
                .iter()
                .rposition(|c| c.is_whitespace())
                .map_or(start, |p| start + p + 1);
            let word: String = chars[word_start..=i]
                .iter()
                .collect::<String>()
                .to_lowercase();
            if boundary && !ABBREVIATIONS.contains(&word.as_str()) {
                let sentence: String = chars[start..end].iter().collect();
                let sentence = sentence.split_whitespace().collect::<Vec<_>>().join(" ");
                if !sentence.is_empty() {
                    sentences.push(sentence);
                }
                start = next;
                i = next;
                continue;
            }
        }
        i += 1;
    }
    let rest: String = chars[start.min(chars.len())..].iter().collect();
    let rest = rest.split_whitespace().collect::<Vec<_>>().join(" ");
    if !rest.is_empty() {
        sentences.push(rest);
    }
    sentences
}

/// P(IsNext) for one encoded pair `[CLS] A [SEP] B [SEP]`: the softmax of the
/// NSP head on C, read back asynchronously.
pub async fn is_next_probability(
    model: &BertForPreTraining,
    encoded: &crate::model::bert_tokenizer::Encoded,
    device: &Device,
) -> Result<f32, String> {
    // Padded on a GPU like fill-mask's sentence; [CLS] never attends to padding.
    let input = model.bert.padded_single(encoded, device);
    let pooled = model.bert.forward(&input).pooled;
    let probabilities = burn::tensor::activation::softmax(model.nsp_logits(pooled), 1);
    let values = read_f32(probabilities)
        .await
        .map_err(|e| format!("reading the NSP result back failed: {e}"))?;
    Ok(values[NextSentence::IsNext as usize])
}

/// One training batch, already padded: inputs, segment ids, padding, the
/// MLM targets (-1 where nothing is predicted) and the NSP labels.
#[derive(Debug, Clone)]
pub struct PretrainingBatch {
    pub input: BertInput,
    /// Flat indices (row · t + position) of the selected positions, kept on
    /// the host: the loss needs them to gather rows, and reading a device
    /// tensor back synchronously is not allowed in the browser.
    pub mlm_positions: Vec<i64>,
    /// The original id at each of `mlm_positions`.
    pub mlm_targets: Vec<i64>,
    /// [batch]: 0 IsNext, 1 NotNext.
    pub nsp_labels: Tensor<1, Int>,
}

/// One example before batching.
#[derive(Debug, Clone)]
pub struct PretrainingExample {
    pub inputs: Vec<u32>,
    pub segments: Vec<u32>,
    /// The original id at selected positions, None elsewhere.
    pub targets: Vec<Option<u32>>,
    pub next: NextSentence,
}

impl PretrainingBatch {
    pub fn new(examples: &[PretrainingExample], pad_id: u32, device: &Device) -> Self {
        let b = examples.len();
        let t = examples.iter().map(|e| e.inputs.len()).max().unwrap_or(0);
        let mut tokens = vec![pad_id as i64; b * t];
        let mut segments = vec![0i64; b * t];
        let mut padding = vec![true; b * t];
        let mut positions = Vec::new();
        let mut targets = Vec::new();
        for (row, e) in examples.iter().enumerate() {
            for (j, &id) in e.inputs.iter().enumerate() {
                tokens[row * t + j] = id as i64;
                segments[row * t + j] = e.segments[j] as i64;
                padding[row * t + j] = false;
                if let Some(target) = e.targets[j] {
                    positions.push((row * t + j) as i64);
                    targets.push(target as i64);
                }
            }
        }
        let labels: Vec<i64> = examples.iter().map(|e| e.next as i64).collect();
        PretrainingBatch {
            input: BertInput {
                tokens: Tensor::from_data(TensorData::new(tokens, [b, t]), device),
                segments: Tensor::from_data(TensorData::new(segments, [b, t]), device),
                padding: Some(Tensor::<2, Bool>::from_data(
                    TensorData::new(padding, [b, t]),
                    device,
                )),
            },
            mlm_positions: positions,
            mlm_targets: targets,
            nsp_labels: Tensor::from_data(TensorData::new(labels, [b]), device),
        }
    }
}

/// The two losses of one batch, in nats: MLM cross-entropy averaged over the
/// selected positions, NSP cross-entropy averaged over the pairs; BERT
/// minimises their sum (Appendix A.2), and the accuracies for the logs.
pub struct PretrainingLosses {
    pub mlm: Tensor<1>,
    pub nsp: Tensor<1>,
    /// [1]: correct MLM predictions (argmax) at selected positions.
    pub mlm_correct: Tensor<1>,
    /// Selected positions.
    pub mlm_count: usize,
    /// [1]: correct NSP predictions.
    pub nsp_correct: Tensor<1>,
}

pub fn pretraining_losses(
    model: &BertForPreTraining,
    batch: &PretrainingBatch,
) -> PretrainingLosses {
    let out = model.bert.forward(&batch.input);
    let [b, t, d] = out.hidden.dims();
    let device = out.hidden.device();
    // Only the selected rows go through the vocabulary projection.
    let n = batch.mlm_positions.len();
    let row_index =
        Tensor::<1, Int>::from_data(TensorData::new(batch.mlm_positions.clone(), [n]), &device);
    let selected = out.hidden.reshape([b * t, d]).select(0, row_index);
    let logits = model.mlm_logits_rows(selected);
    let wanted =
        Tensor::<1, Int>::from_data(TensorData::new(batch.mlm_targets.clone(), [n]), &device);
    let log_probs = log_softmax(logits.clone(), 1);
    let picked = log_probs.gather(1, wanted.clone().reshape([n, 1]));
    let mlm = picked.sum().neg() / n.max(1) as f64;
    let mlm_correct = logits
        .argmax(1)
        .reshape([n])
        .equal(wanted)
        .int()
        .sum()
        .float();

    let nsp_logits = model.nsp_logits(out.pooled);
    let labels = batch.nsp_labels.clone();
    let nsp_log_probs = log_softmax(nsp_logits.clone(), 1);
    let nsp = nsp_log_probs
        .gather(1, labels.clone().reshape([b, 1]))
        .sum()
        .neg()
        / b as f64;
    let nsp_correct = nsp_logits
        .argmax(1)
        .reshape([b])
        .equal(labels)
        .int()
        .sum()
        .float();
    PretrainingLosses {
        mlm,
        nsp,
        mlm_correct,
        mlm_count: n,
        nsp_correct,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_for_bert_base_vocabulary_draws_words_only() {
        let t = crate::model::bert_tokenizer::tests::minilm_tokenizer();
        let rule = MlmRule::for_tokenizer(&t);
        assert_eq!(rule.random_ids, BERT_FIRST_WORD_ID..30522);
        assert_eq!(rule.mask_id, t.mask_id);
        assert_eq!(rule.select_rate, SELECT_RATE);
    }

    fn rule() -> MlmRule {
        MlmRule {
            mask_id: 103,
            random_ids: 999..30522,
            select_rate: SELECT_RATE,
        }
    }

    #[test]
    fn the_80_10_10_rule_holds_over_many_tokens() {
        let mut rng = Rng::new(7);
        let ids: Vec<u32> = (0..200_000).map(|i| 2000 + (i % 5000)).collect();
        let special = vec![false; ids.len()];
        let c = rule().corrupt(&ids, &special, &mut rng);
        let mut tally = CorruptionTally::default();
        tally.add(&c, &special);
        let selected = tally.selected() as f64;
        // 15% ± 0.3% selected; of those 80/10/10 ± 1%.
        assert!((tally.selected_share() - 0.15).abs() < 0.003, "{tally:?}");
        let [masked, random, unchanged] = tally.shares();
        assert!((masked - 0.8).abs() < 0.01, "{tally:?}");
        assert!((random - 0.1).abs() < 0.01, "{tally:?}");
        assert!((unchanged - 0.1).abs() < 0.01, "{tally:?}");
        for (i, kind) in c.kinds.iter().enumerate() {
            match kind {
                Corruption::Masked => assert_eq!(c.inputs[i], 103),
                Corruption::Randomized => assert!((999..30522).contains(&c.inputs[i])),
                Corruption::Unchanged | Corruption::NotSelected => assert_eq!(c.inputs[i], ids[i]),
            }
        }
        // Targets are the originals at exactly the selected positions.
        let targets: Vec<(usize, u32)> = c.targets(&ids).collect();
        assert_eq!(targets.len() as f64, selected);
        assert!(targets.iter().all(|&(i, id)| id == ids[i]));
    }

    #[test]
    fn the_counter_over_many_draws_of_one_sentence_converges_to_80_10_10() {
        // [CLS] w1 … w12 [SEP]: 12 eligible, round(1.8) = 2 selected per draw.
        let ids: Vec<u32> = std::iter::once(101)
            .chain(2000..2012)
            .chain(std::iter::once(102))
            .collect();
        let special: Vec<bool> = (0..ids.len())
            .map(|i| i == 0 || i == ids.len() - 1)
            .collect();
        let mut rng = Rng::new(11);
        let mut tally = CorruptionTally::default();
        for _ in 0..5000 {
            tally.add(&rule().corrupt(&ids, &special, &mut rng), &special);
        }
        assert_eq!((tally.eligible, tally.selected()), (60_000, 10_000));
        let [masked, random, unchanged] = tally.shares();
        assert!((masked - 0.8).abs() < 0.02, "{tally:?}");
        assert!((random - 0.1).abs() < 0.015, "{tally:?}");
        assert!((unchanged - 0.1).abs() < 0.015, "{tally:?}");
    }

    #[test]
    fn special_tokens_are_never_selected_and_one_token_always_is() {
        let ids = [101, 2023, 2003, 102];
        let special = [true, false, false, true];
        let quiet = MlmRule {
            select_rate: 0.0,
            ..rule()
        };
        for seed in 0..50 {
            let c = quiet.corrupt(&ids, &special, &mut Rng::new(seed));
            assert_eq!(c.kinds[0], Corruption::NotSelected);
            assert_eq!(c.kinds[3], Corruption::NotSelected);
            let n = c
                .kinds
                .iter()
                .filter(|&&k| k != Corruption::NotSelected)
                .count();
            assert_eq!(n, 1, "exactly the one forced selection");
        }
        // Nothing eligible: nothing selected, no panic.
        let c = rule().corrupt(&[101, 102], &[true, true], &mut Rng::new(1));
        assert!(c.kinds.iter().all(|&k| k == Corruption::NotSelected));
    }

    #[test]
    fn prose_splits_into_sentences_but_not_at_abbreviations() {
        let text = "Mr. Smith went to Washington. He said: \"We will!\" Then, in 1790, the \
                    U.S. Congress met.  Was it cold? 2 votes were cast";
        assert_eq!(
            split_sentences(text),
            [
                "Mr. Smith went to Washington.",
                "He said: \"We will!\"",
                "Then, in 1790, the U.S. Congress met.",
                "Was it cold?",
                "2 votes were cast",
            ]
        );
        assert!(split_sentences("   ").is_empty());
    }

    #[test]
    fn half_the_pairs_are_next_and_the_rest_come_from_other_documents() {
        let documents: Vec<Vec<String>> = (0..5)
            .map(|d| (0..10).map(|s| format!("{d}-{s}")).collect())
            .collect();
        let mut rng = Rng::new(3);
        let mut is_next = 0;
        for _ in 0..4000 {
            let (d, s, label) = pick_second(&documents, 2, 4, &mut rng);
            match label {
                NextSentence::IsNext => {
                    is_next += 1;
                    assert_eq!((d, s), (2, 5));
                }
                NextSentence::NotNext => assert_ne!(d, 2),
            }
        }
        assert!((is_next as f64 / 4000.0 - 0.5).abs() < 0.03, "{is_next}");
    }
}

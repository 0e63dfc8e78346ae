//! Fill-mask: the masked-LM head's top-k words at each [MASK] of a sentence,
//! and the word-level masking the BERT page offers (click a word: all of its
//! WordPieces become one [MASK]).
//!
//! Only the masked rows go through the 30k-word decoder, and only their
//! probabilities are read back, asynchronously (a synchronous readback, or
//! burn's sort/top-k, would block or panic on WebGPU in the browser); the
//! ranking is done here on the CPU. On a GPU the sentence is padded to a
//! power of two (`BertInput::single_padded`), so editing it does not compile
//! new kernels for every new length.

use std::ops::Range;

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::model::bert::BertForPreTraining;
use crate::model::bert_tokenizer::Encoded;
use crate::model::simclr::read_f32;

/// One candidate for a [MASK].
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: u32,
    pub probability: f32,
}

/// The `k` most probable entries of `probabilities`, most probable first
/// (ties: the lower id first, so the order is stable).
pub fn top_k(probabilities: &[f32], k: usize) -> Vec<Candidate> {
    let mut order: Vec<usize> = (0..probabilities.len()).collect();
    let k = k.min(order.len());
    if k == 0 {
        return Vec::new();
    }
    let by_probability = |a: &usize, b: &usize| {
        probabilities[*b]
            .total_cmp(&probabilities[*a])
            .then(a.cmp(b))
    };
    order.select_nth_unstable_by(k - 1, by_probability);
    order.truncate(k);
    order.sort_by(by_probability);
    order
        .into_iter()
        .map(|i| Candidate {
            id: i as u32,
            probability: probabilities[i],
        })
        .collect()
}

/// The model's top-`k` candidates at each of `positions` of `encoded`.
pub async fn fill_mask(
    model: &BertForPreTraining,
    encoded: &Encoded,
    positions: &[usize],
    k: usize,
    device: &Device,
) -> Result<Vec<Vec<Candidate>>, String> {
    fill_mask_yielding(model, encoded, positions, k, device, || async {}).await
}

/// `fill_mask`, awaiting `between` after each encoder layer (see
/// `BertModel::forward_yielding`): the page's thread is free between layers.
pub async fn fill_mask_yielding<F, Fut>(
    model: &BertForPreTraining,
    encoded: &Encoded,
    positions: &[usize],
    k: usize,
    device: &Device,
    between: F,
) -> Result<Vec<Vec<Candidate>>, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if positions.is_empty() {
        return Ok(Vec::new());
    }
    let t = encoded.len();
    if let Some(&p) = positions.iter().find(|&&p| p >= t) {
        return Err(format!("position {p} is outside the {t} tokens"));
    }
    let input = model.bert.padded_single(encoded, device);
    let hidden = model.bert.forward_yielding(&input, between).await.hidden;
    let [_, padded, d] = hidden.dims();
    let rows = Tensor::<1, Int>::from_data(
        TensorData::new(
            positions.iter().map(|&p| p as i64).collect::<Vec<_>>(),
            [positions.len()],
        ),
        device,
    );
    let selected = hidden.reshape([padded, d]).select(0, rows);
    let probabilities = softmax(model.mlm_logits_rows(selected), 1);
    let vocab = probabilities.dims()[1];
    let values = read_f32(probabilities)
        .await
        .map_err(|e| format!("reading the predictions back failed: {e}"))?;
    Ok(values.chunks(vocab).map(|row| top_k(row, k)).collect())
}

/// The words of one encoded sentence as byte ranges of its text: a word's
/// WordPieces (`##` continuations) merged; [CLS], [SEP] and [MASK] are not
/// words to click. Each entry: (first token index, byte range).
pub fn words(encoded: &Encoded, mask_id: u32) -> Vec<(usize, Range<usize>)> {
    let mut out: Vec<(usize, Range<usize>)> = Vec::new();
    for (i, token) in encoded.tokens.iter().enumerate() {
        let (start, end) = encoded.offsets[i];
        let special = start == end || encoded.ids[i] == mask_id;
        if special {
            continue;
        }
        match out.last_mut() {
            Some((_, range)) if token.starts_with("##") && range.end == start => range.end = end,
            _ => out.push((i, start..end)),
        }
    }
    out
}

/// `text` with the word at `range` replaced by a literal `[MASK]`.
pub fn mask_word(text: &str, range: Range<usize>) -> String {
    format!("{}[MASK]{}", &text[..range.start], &text[range.end..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::bert_tokenizer::tests::minilm_tokenizer;

    #[test]
    fn top_k_ranks_by_probability_and_breaks_ties_by_id() {
        let p = [0.1, 0.4, 0.05, 0.4, 0.05];
        let top = top_k(&p, 3);
        assert_eq!(top.iter().map(|c| c.id).collect::<Vec<_>>(), [1, 3, 0]);
        assert_eq!(top_k(&p, 10).len(), 5);
        assert!(top_k(&p, 0).is_empty());
    }

    #[test]
    fn clicking_a_word_masks_all_of_its_pieces_at_once() {
        let t = minilm_tokenizer();
        let text = "Tokenization of Paris works.";
        let e = t.encode(text, None).unwrap();
        // [CLS] token ##ization of paris works . [SEP]
        let w = words(&e, t.mask_id);
        let spans: Vec<&str> = w.iter().map(|(_, r)| &text[r.clone()]).collect();
        assert_eq!(spans, ["Tokenization", "of", "Paris", "works", "."]);
        let masked = mask_word(text, w[0].1.clone());
        assert_eq!(masked, "[MASK] of Paris works.");
        let e = t.encode(&masked, None).unwrap();
        assert_eq!(e.positions_of(t.mask_id), vec![1]);
        // A [MASK] is not a word to click again.
        assert_eq!(words(&e, t.mask_id).len(), 4);
    }
}

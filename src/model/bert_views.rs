//! What the BERT page shows of the model's inside, read back asynchronously
//! (the browser's WebGPU cannot read synchronously): each token's three input
//! embeddings, and every layer's and head's attention map.

use burn::tensor::Device;

use crate::model::bert::{BertInput, BertModel};
use crate::model::bert_tokenizer::Encoded;
use crate::model::simclr::read_f32;

/// One token's input embedding, split as §3 of the paper draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingParts {
    pub token: Vec<f32>,
    pub segment: Vec<f32>,
    pub position: Vec<f32>,
}

/// The token, segment and position embeddings of position `i` of `encoded`.
pub async fn embedding_parts(
    model: &BertModel,
    encoded: &Encoded,
    i: usize,
    device: &Device,
) -> Result<EmbeddingParts, String> {
    if i >= encoded.len() {
        return Err(format!(
            "position {i} is outside the {} tokens",
            encoded.len()
        ));
    }
    let [token, segment, position] = model.embedding_parts(&BertInput::single(encoded, device));
    let row = |x: burn::tensor::Tensor<3>| x.narrow(1, i, 1).flatten::<1>(0, 2);
    let read = |x| async move { read_f32(x).await.map_err(|e| e.to_string()) };
    Ok(EmbeddingParts {
        token: read(row(token)).await?,
        segment: read(row(segment)).await?,
        position: read(row(position)).await?,
    })
}

/// Attention maps of a sentence: `maps[layer][head]` is t×t row-major, row
/// i the weights query i gives to every key (each row sums to 1).
pub async fn attention_maps(
    model: &BertModel,
    encoded: &Encoded,
    device: &Device,
) -> Result<Vec<Vec<Vec<f32>>>, String> {
    // Padded on a GPU like fill-mask's sentence; the maps are cropped to the
    // sentence's own tokens (padded keys get no weight, so rows still sum to 1).
    let input = model.padded_single(encoded, device);
    let out = model.forward_with_attentions(&input);
    let t = encoded.len();
    let mut maps = Vec::with_capacity(out.attentions.len());
    for layer in out.attentions {
        let layer = layer.narrow(2, 0, t).narrow(3, 0, t);
        let values = read_f32(layer).await.map_err(|e| e.to_string())?;
        maps.push(values.chunks(t * t).map(|m| m.to_vec()).collect());
    }
    Ok(maps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::bert::BertConfig;
    use crate::model::bert_tokenizer::tests::minilm_tokenizer;
    use crate::model::test_devices;

    fn small_model(device: &Device) -> BertModel {
        let config: BertConfig = serde_json::from_str(
            r#"{"vocab_size": 30522, "hidden_size": 16, "num_hidden_layers": 2,
                "num_attention_heads": 4, "intermediate_size": 32}"#,
        )
        .unwrap();
        device.seed(5);
        config.init_encoder(device)
    }

    #[test]
    fn the_three_embeddings_are_the_rows_of_their_tables() {
        let device = test_devices::cpu();
        let model = small_model(&device);
        let t = minilm_tokenizer();
        let e = t.encode("Paris is big.", Some("Yes.")).unwrap();
        // Position 6 is "yes", in segment B.
        let parts = pollster::block_on(embedding_parts(&model, &e, 6, &device)).unwrap();
        let table_row = |table: &burn::nn::Embedding, row: usize| -> Vec<f32> {
            table
                .weight
                .val()
                .narrow(0, row, 1)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        };
        let emb = &model.embeddings;
        assert_eq!(
            parts.token,
            table_row(&emb.word_embeddings, e.ids[6] as usize)
        );
        assert_eq!(parts.segment, table_row(&emb.token_type_embeddings, 1));
        assert_eq!(parts.position, table_row(&emb.position_embeddings, 6));
        assert!(pollster::block_on(embedding_parts(&model, &e, 99, &device)).is_err());
    }

    #[test]
    fn every_layer_and_head_has_a_map_whose_rows_sum_to_one() {
        // On wgpu the sentence (7 tokens) runs padded to 8 and is cropped back.
        let t = minilm_tokenizer();
        let e = t.encode("The cat sat.", None).unwrap();
        let n = e.len();
        for (name, device) in test_devices::all() {
            let model = small_model(&device);
            let maps = pollster::block_on(attention_maps(&model, &e, &device)).unwrap();
            assert_eq!(
                (maps.len(), maps[0].len(), maps[0][0].len()),
                (2, 4, n * n),
                "{name}"
            );
            for head in maps.iter().flatten() {
                for row in head.chunks(n) {
                    assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{name}");
                }
            }
        }
    }
}

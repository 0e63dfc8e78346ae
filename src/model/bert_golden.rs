//! Golden tests: our BERT against Hugging Face transformers (PyTorch), the
//! reference implementation. `scripts/bert_golden.py` wrote the checkpoints and
//! the reference outputs under tests/golden/bert/ (committed; `make golden`
//! regenerates them). Every output must match within 1e-4 relative to the
//! reference's magnitude, on burn's CPU backend and on wgpu.

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use crate::model::bert::{BertConfig, BertInput};
use crate::model::bert_loader::{load_encoder, load_pretraining};
use crate::model::bert_tokenizer::tests::minilm_tokenizer;
use crate::model::checkpoint::{Checkpoint, CheckpointError, StoredTensor};
use crate::model::test_devices;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/bert");
const MINILM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.assets/www/minilm");

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn checkpoint(path: &str) -> Checkpoint {
    Checkpoint::parse(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn stored<'a>(c: &'a Checkpoint, name: &str) -> &'a StoredTensor {
    c.tensors
        .get(name)
        .unwrap_or_else(|| panic!("reference has no {name}"))
}

fn ints<const D: usize>(t: &StoredTensor, device: &Device) -> Tensor<D, Int> {
    let values: Vec<i64> = t.values.iter().map(|&v| v as i64).collect();
    Tensor::from_data(TensorData::new(values, t.shape.clone()), device)
}

/// Largest |ours − reference| relative to the reference's largest magnitude.
fn relative_error<const D: usize>(ours: Tensor<D>, reference: &StoredTensor) -> f32 {
    assert_eq!(ours.dims().to_vec(), reference.shape, "shape");
    let ours: Vec<f32> = ours.into_data().try_to_vec::<f32>().unwrap();
    let scale = reference
        .values
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()))
        .max(1e-6);
    let diff = ours
        .iter()
        .zip(&reference.values)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    diff / scale
}

const TOLERANCE: f32 = 1e-4;

/// A tiny golden model: its config, weights and reference outputs.
fn tiny(shape: &str) -> (BertConfig, Checkpoint, Checkpoint) {
    let dir = format!("{GOLDEN}/tiny-{shape}");
    (
        config_at(&dir),
        checkpoint(&format!("{dir}/model.safetensors")),
        checkpoint(&format!("{dir}/reference.safetensors")),
    )
}

fn config_at(dir: &str) -> BertConfig {
    let path = format!("{dir}/config.json");
    BertConfig::from_hf_json(&String::from_utf8(read(&path)).unwrap())
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Row 0 of a reference's inputs (a full-length pair) as a tokenised input.
fn first_row(reference: &Checkpoint) -> crate::model::bert_tokenizer::Encoded {
    let tokens = stored(reference, "tokens");
    let segments = stored(reference, "segments");
    let t = tokens.shape[1];
    crate::model::bert_tokenizer::Encoded {
        ids: tokens.values[..t].iter().map(|&v| v as u32).collect(),
        segments: segments.values[..t].iter().map(|&v| v as u32).collect(),
        tokens: vec![String::new(); t],
        offsets: vec![(0, 0); t],
    }
}

#[test]
fn tiny_bert_for_pretraining_matches_transformers_in_two_shapes() {
    for shape in ["a", "b"] {
        let (config, weights, reference) = tiny(shape);
        for (device_name, device) in test_devices::all() {
            let model = load_pretraining(&config, &[&weights], &device)
                .unwrap_or_else(|e| panic!("tiny-{shape}: {e}"));
            let mask = stored(&reference, "attention_mask");
            let padding: Vec<bool> = mask.values.iter().map(|&m| m == 0.0).collect();
            let input = BertInput {
                tokens: ints(stored(&reference, "tokens"), &device),
                segments: ints(stored(&reference, "segments"), &device),
                padding: Some(Tensor::<2, Bool>::from_data(
                    TensorData::new(padding, mask.shape.clone()),
                    &device,
                )),
            };
            let out = model.bert.forward(&input);
            // The pages' forward pass, which pauses after the embeddings and
            // after each layer, computes the same thing.
            let mut pauses = 0;
            let paused = pollster::block_on(model.bert.forward_yielding(&input, || {
                pauses += 1;
                async {}
            }));
            assert_eq!(pauses, config.num_hidden_layers + 1, "{device_name}");
            let checks = [
                (
                    "hidden",
                    relative_error(out.hidden.clone(), stored(&reference, "hidden")),
                ),
                (
                    "hidden (forward_yielding)",
                    relative_error(paused.hidden, stored(&reference, "hidden")),
                ),
                (
                    "pooled",
                    relative_error(out.pooled.clone(), stored(&reference, "pooled")),
                ),
                (
                    "mlm_logits",
                    relative_error(
                        model.mlm_logits(out.hidden),
                        stored(&reference, "mlm_logits"),
                    ),
                ),
                (
                    "nsp_logits",
                    relative_error(
                        model.nsp_logits(out.pooled),
                        stored(&reference, "nsp_logits"),
                    ),
                ),
            ];
            for (what, error) in checks {
                assert!(
                    error < TOLERANCE,
                    "tiny-{shape} on {device_name}: {what} differs from transformers by {error:e} (relative)"
                );
            }
        }
    }
}

#[test]
fn all_minilm_l6_v2_tokenises_and_encodes_as_transformers_does() {
    let config = config_at(MINILM);
    let weights = checkpoint(&format!("{MINILM}/model.safetensors"));
    let reference = checkpoint(&format!("{GOLDEN}/minilm-reference.safetensors"));
    let sentences: Vec<String> = serde_json::from_str(&reference.metadata["sentences"]).unwrap();
    let tokenizer = minilm_tokenizer();
    for (device_name, device) in test_devices::all() {
        let encoder = load_encoder(&config, &[&weights], &device).unwrap();
        for (i, sentence) in sentences.iter().enumerate() {
            let encoded = tokenizer.encode(sentence, None).unwrap();
            let want = stored(&reference, &format!("ids.{i}"));
            let want_ids: Vec<u32> = want.values.iter().map(|&v| v as u32).collect();
            assert_eq!(encoded.ids, want_ids, "token ids of {sentence:?}");
            let t = encoded.ids.len();
            let input = BertInput {
                tokens: Tensor::from_data(
                    TensorData::new(encoded.ids.iter().map(|&v| v as i64).collect(), [1, t]),
                    &device,
                ),
                segments: Tensor::zeros([1, t], &device),
                padding: None,
            };
            let error = relative_error(
                encoder.forward(&input).hidden,
                stored(&reference, &format!("hidden.{i}")),
            );
            assert!(
                error < TOLERANCE,
                "{sentence:?} on {device_name}: last hidden state differs by {error:e} (relative)"
            );
        }
    }
}

#[test]
fn an_encoder_only_checkpoint_cannot_pass_for_a_model_with_heads() {
    let config = config_at(MINILM);
    let weights = checkpoint(&format!("{MINILM}/model.safetensors"));
    match load_pretraining(&config, &[&weights], &test_devices::cpu()) {
        Err(CheckpointError::Missing(keys)) => {
            assert!(
                keys.contains(&"cls.predictions.bias".to_string()),
                "{keys:?}"
            );
            assert!(
                keys.contains(&"cls.seq_relationship.weight".to_string()),
                "{keys:?}"
            );
            assert!(keys.iter().all(|k| k.starts_with("cls.")), "{keys:?}");
        }
        other => panic!("expected missing head tensors, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_checkpoint_of_another_shape_is_refused_by_name() {
    let (mut config, weights, _) = tiny("a");
    config.intermediate_size += 1;
    match load_pretraining(&config, &[&weights], &test_devices::cpu()) {
        Err(CheckpointError::Shape { key, .. }) => {
            assert!(key.contains("intermediate.dense.weight"), "{key}")
        }
        other => panic!("expected a shape error, got {:?}", other.map(|_| ())),
    }
    assert!(BertConfig::from_hf_json("{\"vocab_size\": 3}")
        .unwrap_err()
        .contains("hidden_size"));
    let odd = r#"{"vocab_size": 3, "hidden_size": 10, "num_hidden_layers": 1,
        "num_attention_heads": 3, "intermediate_size": 4}"#;
    let error = BertConfig::from_hf_json(odd).unwrap_err();
    assert!(error.contains("not a multiple"), "{error}");
}

/// The pretraining loss against a by-hand cross-entropy over transformers'
/// own logits: MLM averaged over the selected positions, NSP over the pairs.
#[test]
fn pretraining_losses_equal_cross_entropy_over_the_reference_logits() {
    use crate::model::mlm::{
        pretraining_losses, NextSentence, PretrainingBatch, PretrainingExample,
    };
    let (config, weights, reference) = tiny("a");
    let device = test_devices::cpu();
    let model = load_pretraining(&config, &[&weights], &device).unwrap();
    let tokens = stored(&reference, "tokens");
    let segments = stored(&reference, "segments");
    let mask = stored(&reference, "attention_mask");
    let t = tokens.shape[1];
    // Predict three positions of row 0 and one of row 1; row 0 IsNext, row 1 NotNext.
    let picks = [(0usize, 2usize, 7u32), (0, 5, 11), (0, 9, 40), (1, 3, 96)];
    let examples: Vec<PretrainingExample> = (0..2)
        .map(|row| {
            let len = (0..t).filter(|&j| mask.values[row * t + j] != 0.0).count();
            let mut targets = vec![None; len];
            for &(r, j, id) in &picks {
                if r == row {
                    targets[j] = Some(id);
                }
            }
            PretrainingExample {
                inputs: (0..len)
                    .map(|j| tokens.values[row * t + j] as u32)
                    .collect(),
                segments: (0..len)
                    .map(|j| segments.values[row * t + j] as u32)
                    .collect(),
                targets,
                next: if row == 0 {
                    NextSentence::IsNext
                } else {
                    NextSentence::NotNext
                },
            }
        })
        .collect();
    let batch = PretrainingBatch::new(&examples, 0, &device);
    let losses = pretraining_losses(&model, &batch);

    let cross_entropy = |logits: &[f32], target: usize| -> f64 {
        let max = logits.iter().fold(f32::MIN, |m, &v| m.max(v)) as f64;
        let sum: f64 = logits.iter().map(|&v| (v as f64 - max).exp()).sum();
        max + sum.ln() - logits[target] as f64
    };
    let vocab = config.vocab_size;
    let mlm_logits = stored(&reference, "mlm_logits");
    let want_mlm = picks
        .iter()
        .map(|&(r, j, id)| {
            let start = (r * t + j) * vocab;
            cross_entropy(&mlm_logits.values[start..start + vocab], id as usize)
        })
        .sum::<f64>()
        / picks.len() as f64;
    let nsp = stored(&reference, "nsp_logits");
    let want_nsp =
        (cross_entropy(&nsp.values[0..2], 0) + cross_entropy(&nsp.values[2..4], 1)) / 2.0;
    let got_mlm = losses.mlm.into_scalar::<f32>() as f64;
    let got_nsp = losses.nsp.into_scalar::<f32>() as f64;
    assert!(
        (got_mlm - want_mlm).abs() < 1e-4 * want_mlm.max(1.0),
        "MLM {got_mlm} vs {want_mlm}"
    );
    assert!(
        (got_nsp - want_nsp).abs() < 1e-4 * want_nsp.max(1.0),
        "NSP {got_nsp} vs {want_nsp}"
    );
    assert_eq!(losses.mlm_count, 4);
}

/// What the training command writes (HF names, HF layout) loads back through
/// the same table into the same model.
#[test]
fn an_exported_model_loads_back_through_the_key_table() {
    use crate::model::bert_loader::to_hf_layout;
    use crate::model::export::{named_tensors, safetensors_bytes_with, Precision};
    let (config, weights, reference) = tiny("b");
    let device = test_devices::cpu();
    let model = load_pretraining(&config, &[&weights], &device).unwrap();
    let named = pollster::block_on(named_tensors(&model)).unwrap();
    let hf = to_hf_layout(named).unwrap();
    assert!(hf
        .iter()
        .any(|(k, _, _)| k == "bert.encoder.layer.2.attention.self.query.weight"));
    assert!(hf.iter().any(|(k, _, _)| k == "cls.predictions.bias"));
    let bytes = safetensors_bytes_with(&hf, Precision::F32, &[]);
    let again = load_pretraining(&config, &[&Checkpoint::parse(&bytes).unwrap()], &device).unwrap();
    let input = BertInput {
        tokens: ints(stored(&reference, "tokens"), &device),
        segments: ints(stored(&reference, "segments"), &device),
        padding: None,
    };
    let a = model.mlm_logits(model.bert.forward(&input).hidden);
    let b = again.mlm_logits(again.bert.forward(&input).hidden);
    let diff: f32 = (a - b).abs().max().into_scalar();
    assert_eq!(diff, 0.0);
}

/// Fill-mask reads back only the asked rows and ranks them on the CPU: its
/// top-5 equals the softmax of transformers' logits at those rows.
#[test]
fn fill_mask_ranks_the_reference_distribution() {
    use crate::model::fill_mask::{fill_mask, top_k};
    let (config, weights, reference) = tiny("a");
    let encoded = first_row(&reference);
    let t = encoded.len();
    let logits = stored(&reference, "mlm_logits");
    let vocab = config.vocab_size;
    for (name, device) in test_devices::all() {
        let model = load_pretraining(&config, &[&weights], &device).unwrap();
        let got = pollster::block_on(fill_mask(&model, &encoded, &[3, 8], 5, &device)).unwrap();
        for (row, &p) in [3usize, 8].iter().enumerate() {
            let want = top_k(
                &crate::model::igpt::softmax_row(&logits.values[p * vocab..(p + 1) * vocab]),
                5,
            );
            let ids = |c: &[crate::model::fill_mask::Candidate]| {
                c.iter().map(|c| c.id).collect::<Vec<_>>()
            };
            assert_eq!(ids(&got[row]), ids(&want), "{name}: position {p}");
            for (a, b) in got[row].iter().zip(&want) {
                assert!(
                    (a.probability - b.probability).abs() < 1e-4,
                    "{name}: {a:?} vs {b:?}"
                );
            }
        }
        assert!(pollster::block_on(fill_mask(&model, &encoded, &[t], 5, &device)).is_err());
    }
}

/// P(IsNext) is the softmax of transformers' NSP logits (row 0: a full pair).
#[test]
fn the_next_sentence_probability_matches_the_reference() {
    use crate::model::mlm::is_next_probability;
    let (config, weights, reference) = tiny("b");
    let encoded = first_row(&reference);
    let nsp = stored(&reference, "nsp_logits");
    let want = 1.0 / (1.0 + (nsp.values[1] - nsp.values[0]).exp());
    for (name, device) in test_devices::all() {
        let model = load_pretraining(&config, &[&weights], &device).unwrap();
        let got = pollster::block_on(is_next_probability(&model, &encoded, &device)).unwrap();
        assert!((got - want).abs() < 1e-4, "{name}: {got} vs {want}");
    }
}

/// The page's path: MiniLM's files plus a second file with the heads load as
/// one fill-mask model; wrong files are refused with a message.
#[test]
fn a_fill_mask_model_loads_from_stacked_files_and_wrong_files_say_why() {
    use crate::model::bert_loader::{load_fill_mask_model, to_hf_layout, TokenizerFile};
    use crate::model::export::{named_tensors, safetensors_bytes_with, Precision};
    let device = test_devices::cpu();
    let config_json = read(&format!("{MINILM}/config.json"));
    let minilm = read(&format!("{MINILM}/model.safetensors"));
    let tokenizer_json = read(&format!("{MINILM}/tokenizer.json"));
    let tokenizer = || TokenizerFile::Json(&tokenizer_json);
    // Fresh heads, written as the training command writes them.
    let fresh = config_at(MINILM).init(&device);
    let heads: Vec<_> = to_hf_layout(pollster::block_on(named_tensors(&fresh)).unwrap())
        .unwrap()
        .into_iter()
        .filter(|(k, _, _)| k.starts_with("cls."))
        .collect();
    let heads = safetensors_bytes_with(&heads, Precision::F16, &[]);

    let loaded =
        load_fill_mask_model(&config_json, &[&minilm, &heads], tokenizer(), &device).unwrap();
    assert_eq!(loaded.config.num_hidden_layers, 6);
    assert_eq!(loaded.tokenizer.mask_id, 103);

    let error = |config: &[u8], weights: &[&[u8]]| {
        load_fill_mask_model(config, weights, tokenizer(), &device)
            .err()
            .expect("should fail")
    };
    assert!(error(&config_json, &[&minilm]).contains("no masked-LM head"));
    let gpt2 = br#"{"model_type": "gpt2", "vocab_size": 50257}"#;
    assert!(error(gpt2, &[&minilm]).contains("not BERT"));
    assert!(error(b"<html>404</html>", &[&minilm]).contains("not JSON"));
    assert!(error(&config_json, &[b"not safetensors"]).contains("damaged"));
    let igpt = read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/weights/igpt-next.safetensors"
    ));
    assert!(error(&config_json, &[&igpt]).contains("is this a BERT checkpoint"));
    // A tokenizer bigger than the model's vocabulary does not belong to it.
    let tiny_config = read(&format!("{GOLDEN}/tiny-a/config.json"));
    let tiny_model = read(&format!("{GOLDEN}/tiny-a/model.safetensors"));
    assert!(error(&tiny_config, &[&tiny_model]).contains("do not belong together"));
}

/// The SimCSE page's (and a worker replica's) path: MiniLM's files load as a
/// sentence encoder with its tokenizer; wrong files are refused with a message.
#[test]
fn a_sentence_encoder_loads_from_its_files_and_wrong_files_say_why() {
    use crate::model::bert_loader::load_sentence_encoder;
    let device = test_devices::cpu();
    let config_json = read(&format!("{MINILM}/config.json"));
    let minilm = read(&format!("{MINILM}/model.safetensors"));
    let tokenizer_json = read(&format!("{MINILM}/tokenizer.json"));
    let (encoder, tokenizer) =
        load_sentence_encoder(&config_json, &tokenizer_json, &[&minilm], &device).unwrap();
    assert_eq!(encoder.hidden_size(), 384);
    assert_eq!(tokenizer.pad_id, 0);
    let error = |config: &[u8], weights: &[&[u8]]| {
        load_sentence_encoder(config, &tokenizer_json, weights, &device).expect_err("should fail")
    };
    let gpt2 = br#"{"model_type": "gpt2", "vocab_size": 50257}"#;
    assert!(error(gpt2, &[&minilm]).contains("not BERT"));
    assert!(error(&config_json, &[b"not safetensors"]).contains("damaged"));
    let igpt = read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/weights/igpt-next.safetensors"
    ));
    assert!(error(&config_json, &[&igpt]).contains("do not fit config.json"));
}

/// The pages' build (`load_sentence_encoder_yielding`): it pauses at least
/// once per `PAUSE_EVERY_BYTES` of MiniLM's 87 MB (so the page's thread is
/// never held for the whole file), and the encoder it builds, every
/// parameter moved rather than copied and the linear layers transposed
/// beforehand, is the one the copying loader (`load_encoder`) builds.
#[test]
fn the_yielding_build_pauses_through_the_file_and_builds_the_same_encoder() {
    use crate::model::bert_loader::load_sentence_encoder_yielding;
    use crate::model::checkpoint::PAUSE_EVERY_BYTES;
    use crate::model::export::named_tensors;
    let device = test_devices::cpu();
    let config_json = read(&format!("{MINILM}/config.json"));
    let minilm = read(&format!("{MINILM}/model.safetensors"));
    let tokenizer_json = read(&format!("{MINILM}/tokenizer.json"));
    let mut pauses = 0usize;
    let (yielded, _) = pollster::block_on(load_sentence_encoder_yielding(
        &config_json,
        &tokenizer_json,
        &[&minilm],
        &device,
        || {
            pauses += 1;
            std::future::ready(())
        },
    ))
    .unwrap();
    assert!(
        pauses >= minilm.len() / PAUSE_EVERY_BYTES,
        "{pauses} pauses for {} bytes",
        minilm.len()
    );
    let copied = load_encoder(
        &config_at(MINILM),
        &[&checkpoint(&format!("{MINILM}/model.safetensors"))],
        &device,
    )
    .unwrap();
    let yielded = pollster::block_on(named_tensors(&yielded)).unwrap();
    let copied = pollster::block_on(named_tensors(&copied)).unwrap();
    assert_eq!(yielded.len(), copied.len());
    for ((name, shape, values), (name_c, shape_c, values_c)) in yielded.iter().zip(&copied) {
        assert_eq!((name, shape), (name_c, shape_c));
        assert!(values == values_c, "{name} differs");
    }
}

/// The SimCSE demo's default encoder: all-MiniLM-L6-v2 sentence embeddings
/// (mean pooling over the real tokens, L2-normalised) as sentence-transformers
/// computes them, on one padded batch of mixed lengths, within 1e-4.
#[test]
fn all_minilm_l6_v2_sentence_embeddings_match_sentence_transformers() {
    use crate::model::simcse::{embed_all, tokenize, Pooling};
    let config = config_at(MINILM);
    let weights = checkpoint(&format!("{MINILM}/model.safetensors"));
    let reference = checkpoint(&format!("{GOLDEN}/minilm-sentence-embeddings.safetensors"));
    let sentences: Vec<String> = serde_json::from_str(&reference.metadata["sentences"]).unwrap();
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let tokenizer = minilm_tokenizer();
    let tokenized = tokenize(&tokenizer, &refs, 512).unwrap();
    let ids = stored(&reference, "ids");
    let t = ids.shape[1];
    for (i, e) in tokenized.encoded.iter().enumerate() {
        let want: Vec<u32> = ids.values[i * t..(i + 1) * t]
            .iter()
            .map(|&v| v as u32)
            .take_while(|&v| v != tokenizer.pad_id)
            .collect();
        assert_eq!(e.ids, want, "token ids of {:?}", sentences[i]);
    }
    let want = stored(&reference, "embeddings");
    for (device_name, device) in test_devices::all() {
        let encoder = load_encoder(&config, &[&weights], &device).unwrap();
        // All six in one padded batch.
        let ours = pollster::block_on(embed_all(
            &encoder,
            &tokenized.encoded,
            tokenizer.pad_id,
            Pooling::Mean,
            32,
            |_| async {},
        ))
        .unwrap();
        assert_eq!(ours.len(), want.values.len());
        let diff = ours
            .iter()
            .zip(&want.values)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(diff < 1e-4, "{device_name}: embeddings differ by {diff:e}");
    }
}

//! Native SimCSE figures on burn's CPU backend (or `--backend wgpu`): the
//! STS Spearman, alignment and uniformity of each bundled encoder, embedding
//! throughput (batch 32), and training steps per second; then `--steps N` of
//! SimCSE training from the chosen start and the same figures after.
//!
//!   cargo run --release --example bench_simcse -- [--backend cpu|wgpu]
//!       [--start raw-cls|raw-mean|minilm] [--objective unsup|sup] [--steps N]
//!       [--batch 8] [--lr 3e-5] [--train-layers 2]

use std::time::Instant;

use burn::tensor::Device;
use pretext::model::bert::{BertConfig, BertModel};
use pretext::model::bert_loader::load_encoder;
use pretext::model::bert_tokenizer::BertTokenizer;
use pretext::model::checkpoint::Checkpoint;
use pretext::model::simcse::{
    embed_all, tokenize, Objective, Pooling, SimCseSettings, SimCseTrainer, TRAIN_MAX_TOKENS,
};
use pretext::model::simcse_data::{eval_set, nli_triples, unlabelled_sentences};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn evaluate(label: &str, encoder: &BertModel, tokenizer: &BertTokenizer, pooling: Pooling) {
    let eval = eval_set();
    let t = tokenize(tokenizer, &eval.sentences, 512).unwrap();
    let started = Instant::now();
    let rows = pollster::block_on(embed_all(
        encoder,
        &t.encoded,
        tokenizer.pad_id,
        pooling,
        32,
        |_| async {},
    ))
    .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let score = eval.score(&rows, encoder.hidden_size());
    println!(
        "{label:<28} STS Spearman {:.3} | align {:.3} uniform {:.3} | mean pair cosine {:.3} | {} sentences embedded in {seconds:.2} s ({:.0}/s, batch 32)",
        score.spearman,
        score.align,
        score.uniform,
        score.mean_cosine,
        eval.sentences.len(),
        eval.sentences.len() as f64 / seconds
    );
}

fn main() {
    let device: Device = match arg("--backend", "cpu").as_str() {
        "wgpu" => Device::wgpu_options().init().expect("wgpu"),
        _ => pretext::model::cpu_device(),
    };
    let read = |p: &str| std::fs::read(p).unwrap_or_else(|e| panic!("{p}: {e} (make setup)"));
    let config = BertConfig::from_hf_json(
        &String::from_utf8(read(".assets/www/minilm/config.json")).unwrap(),
    )
    .unwrap();
    let tokenizer = BertTokenizer::from_bytes(
        &read(".assets/www/minilm/tokenizer.json"),
        config.max_position_embeddings,
    )
    .unwrap();
    let minilm = Checkpoint::parse(&read(".assets/www/minilm/model.safetensors")).unwrap();
    let mlm = Checkpoint::parse(&read("weights/bert-mlm.safetensors")).unwrap();
    let minilm_encoder = load_encoder(&config, &[&minilm], &device).unwrap();
    let raw_encoder = load_encoder(&config, &[&minilm, &mlm], &device).unwrap();
    evaluate("minilm (mean)", &minilm_encoder, &tokenizer, Pooling::Mean);
    evaluate(
        "raw MLM encoder (cls)",
        &raw_encoder,
        &tokenizer,
        Pooling::Cls,
    );
    evaluate(
        "raw MLM encoder (mean)",
        &raw_encoder,
        &tokenizer,
        Pooling::Mean,
    );

    let (start, pooling) = match arg("--start", "raw-cls").as_str() {
        "minilm" => (minilm_encoder, Pooling::Mean),
        "raw-mean" => (raw_encoder, Pooling::Mean),
        _ => (raw_encoder, Pooling::Cls),
    };
    let steps: usize = arg("--steps", "20").parse().unwrap();
    let settings = SimCseSettings {
        objective: if arg("--objective", "unsup") == "sup" {
            Objective::Supervised
        } else {
            Objective::Unsupervised
        },
        batch: arg("--batch", "8").parse().unwrap(),
        learning_rate: arg("--lr", "3e-5").parse().unwrap(),
        ..SimCseSettings::default()
    };
    let sentences = tokenize(&tokenizer, &unlabelled_sentences(), TRAIN_MAX_TOKENS)
        .unwrap()
        .encoded;
    let (train, _) = nli_triples();
    let triples: Vec<_> = train
        .iter()
        .map(|t| {
            let e = tokenize(
                &tokenizer,
                &[t.premise, t.entailment, t.contradiction],
                TRAIN_MAX_TOKENS,
            )
            .unwrap()
            .encoded;
            [e[0].clone(), e[1].clone(), e[2].clone()]
        })
        .collect();
    let train_layers: usize = arg("--train-layers", "2").parse().unwrap();
    let mut trainer = SimCseTrainer::new(&start, pooling, train_layers, tokenizer.pad_id, 0);
    let started = Instant::now();
    let mut last = 0.0;
    for _ in 0..steps {
        last = pollster::block_on(trainer.step(&settings, &sentences, &triples))
            .unwrap()
            .loss;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{steps} {:?} steps (batch {}, lr {}, top {train_layers} layers): {:.2} steps/s, last loss {last:.3}",
        settings.objective,
        settings.batch,
        settings.learning_rate,
        steps as f64 / seconds
    );
    evaluate("after training", &trainer.encoder(), &tokenizer, pooling);
}

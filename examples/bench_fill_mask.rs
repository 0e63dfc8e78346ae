//! Native fill-mask timing of the bundled BERT (all-MiniLM-L6-v2 + the
//! project's MLM head), split into its parts: the encoder alone, the MLM head
//! over the masked rows, and the whole `fill_mask` call the page makes, on
//! burn's CPU backend (flex) and on wgpu (Vulkan; lavapipe on a machine without a GPU).
//!
//!   cargo run --release --example bench_fill_mask [-- runs]
//!
//! A benchmark, not a test: it prints medians of warm runs and asserts nothing.

use std::time::Instant;

use burn::tensor::Device;
use pretext::model::bert::BertInput;
use pretext::model::bert_loader::{load_fill_mask_model, TokenizerFile};
use pretext::model::fill_mask::fill_mask;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let read = |p: &str| std::fs::read(p).unwrap_or_else(|e| panic!("{p}: {e} (run `make setup`)"));
    let config = read(".assets/www/minilm/config.json");
    let tokenizer = read(".assets/www/minilm/tokenizer.json");
    let base = read(".assets/www/minilm/model.safetensors");
    let head = read(".assets/www/bert/mlm.safetensors");
    let mut devices: Vec<(&str, Device)> = vec![("cpu (flex)", pretext::model::cpu_device())];
    match Device::wgpu_options().init() {
        Ok(d) => devices.push(("wgpu", d)),
        Err(e) => eprintln!("no wgpu device: {e:?}"),
    }
    for (name, device) in devices {
        let loaded = load_fill_mask_model(
            &config,
            &[&base, &head],
            TokenizerFile::Json(&tokenizer),
            &device,
        )
        .expect("load");
        let time = |f: &dyn Fn()| {
            f(); // warm-up
            median(
                (0..runs)
                    .map(|_| {
                        let t0 = Instant::now();
                        f();
                        t0.elapsed().as_secs_f64() * 1000.0
                    })
                    .collect(),
            )
        };
        let encoded = loaded
            .tokenizer
            .encode("The capital of France is [MASK].", None)
            .unwrap();
        let mask = encoded.positions_of(loaded.tokenizer.mask_id);
        let tokenize = time(&|| {
            let _ = loaded
                .tokenizer
                .encode_truncating("The capital of France is [MASK].", None);
        });
        let encoder = time(&|| {
            let out = loaded
                .model
                .bert
                .forward(&BertInput::single(&encoded, &device));
            let _ = out.hidden.into_data();
        });
        let whole = time(&|| {
            pollster::block_on(fill_mask(&loaded.model, &encoded, &mask, 5, &device)).unwrap();
        });
        println!(
            "{{\"backend\":\"{name}\",\"tokens\":{},\"runs\":{runs},\"tokenize_ms\":{tokenize:.2},\"encoder_ms\":{encoder:.1},\"fill_mask_ms\":{whole:.1},\"head_ms\":{:.1}}}",
            encoded.len(),
            whole - encoder
        );
    }
}

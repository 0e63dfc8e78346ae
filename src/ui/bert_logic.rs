//! The BERT page's pure logic, kept out of the Yew component so it is tested
//! natively: which model the picker means and where its files are, the
//! click-a-word masking with its undo, the bundled sample text (for NSP
//! pairs and for the tiny BERT that learns in the browser).

use std::ops::Range;

use crate::model::mlm::split_sentences;
use crate::model::rng::Rng;

/// The literal mask token as typed into the sentence box (as on Hugging
/// Face's fill-mask widget).
pub const MASK: &str = "[MASK]";

/// Hugging Face Hub checkpoints the picker offers: (model id, label).
/// All BERT in HF layout with the bert-base-uncased vocabulary.
pub const HUB_PRESETS: [(&str, &str); 3] = [
    (
        "google-bert/bert-base-uncased",
        "bert-base-uncased (110M parameters, 440 MB)",
    ),
    (
        "google/bert_uncased_L-4_H-256_A-4",
        "BERT-mini: 4 layers, 256 wide (11M, 45 MB)",
    ),
    (
        "google/bert_uncased_L-2_H-128_A-2",
        "BERT-tiny: 2 layers, 128 wide (4M, 18 MB)",
    ),
];

/// Which fill-mask model the page runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelChoice {
    /// all-MiniLM-L6-v2 with the project's trained MLM head (the default,
    /// served with the app, works offline).
    Bundled,
    /// A Hugging Face Hub model id.
    Hub(String),
    /// A folder URL in Hugging Face layout (config.json, tokenizer.json or
    /// vocab.txt, model.safetensors).
    Url(String),
}

impl ModelChoice {
    /// The `?model=` value: `bundled`, `hub:<id>` or the folder URL.
    pub fn key(&self) -> String {
        match self {
            ModelChoice::Bundled => "bundled".into(),
            ModelChoice::Hub(id) => format!("hub:{id}"),
            ModelChoice::Url(url) => url.clone(),
        }
    }

    pub fn from_key(key: &str) -> ModelChoice {
        let key = key.trim();
        if let Some(id) = key.strip_prefix("hub:") {
            ModelChoice::Hub(id.to_string())
        } else if key.starts_with("http://") || key.starts_with("https://") {
            ModelChoice::Url(key.to_string())
        } else {
            ModelChoice::Bundled
        }
    }

    /// Where the checkpoint's files are (a folder URL ending in `/`); None for
    /// the bundled model, whose files are the app's own pinned assets.
    pub fn folder(&self) -> Option<String> {
        match self {
            ModelChoice::Bundled => None,
            ModelChoice::Hub(id) => Some(format!("https://huggingface.co/{id}/resolve/main/")),
            ModelChoice::Url(url) => Some(folder_url(url)),
        }
    }

    /// A short name for the status line.
    pub fn label(&self) -> String {
        match self {
            ModelChoice::Bundled => "all-MiniLM-L6-v2 + Pretext MLM head".into(),
            ModelChoice::Hub(id) => id.clone(),
            ModelChoice::Url(url) => url.clone(),
        }
    }
}

/// A URL typed as the checkpoint's folder: a trailing `/` added, and a file
/// URL (`…/config.json`, `…/model.safetensors`) taken as its folder.
pub fn folder_url(url: &str) -> String {
    let url = url.trim();
    for file in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "vocab.txt",
    ] {
        if let Some(folder) = url.strip_suffix(file) {
            return folder.to_string();
        }
    }
    if url.ends_with('/') {
        url.to_string()
    } else {
        format!("{url}/")
    }
}

/// Checks a typed URL before anything is fetched.
pub fn check_model_url(url: &str) -> Result<(), String> {
    let url = url.trim();
    if url.is_empty() {
        return Err("Enter the URL of a folder with config.json and model.safetensors.".into());
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "\"{url}\" is not a web address: it should start with https://"
        ));
    }
    Ok(())
}

/// Masks made by clicking words, remembered so a second click on the
/// [MASK] puts the word back. Entries are (byte offset of the [MASK] in the
/// current text, the word it replaced); any other edit of the text forgets
/// them (the offsets would no longer hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClickedMasks {
    entries: Vec<(usize, String)>,
}

impl ClickedMasks {
    /// Replaces the word at `range` of `text` with [MASK]; returns the new text.
    pub fn mask(&mut self, text: &str, range: Range<usize>) -> String {
        let word = text[range.clone()].to_string();
        let delta = MASK.len() as isize - word.len() as isize;
        for (offset, _) in &mut self.entries {
            if *offset > range.start {
                *offset = (*offset as isize + delta) as usize;
            }
        }
        self.entries.push((range.start, word));
        format!("{}{MASK}{}", &text[..range.start], &text[range.end..])
    }

    /// Puts back the word that the [MASK] at byte `offset` replaced, if a
    /// click made it; None for a [MASK] the visitor typed.
    pub fn unmask(&mut self, text: &str, offset: usize) -> Option<String> {
        let i = self.entries.iter().position(|(o, _)| *o == offset)?;
        if text.get(offset..offset + MASK.len()) != Some(MASK) {
            return None;
        }
        let (_, word) = self.entries.remove(i);
        let delta = word.len() as isize - MASK.len() as isize;
        for (o, _) in &mut self.entries {
            if *o > offset {
                *o = (*o as isize + delta) as usize;
            }
        }
        Some(format!(
            "{}{word}{}",
            &text[..offset],
            &text[offset + MASK.len()..]
        ))
    }

    pub fn forget(&mut self) {
        self.entries.clear();
    }
}

/// The short text bundled with the page (written for it): documents are
/// its paragraphs, each split into sentences.
pub const SAMPLE_TEXT: &str = include_str!("bert_sample.txt");

pub fn sample_documents() -> Vec<Vec<String>> {
    SAMPLE_TEXT
        .split("\n\n")
        .map(split_sentences)
        .filter(|d| !d.is_empty())
        .collect()
}

/// A sentence pair from the sample text: `real` gives two consecutive
/// sentences of one paragraph (IsNext), otherwise the second comes from
/// another paragraph (NotNext).
pub fn sample_pair(documents: &[Vec<String>], real: bool, rng: &mut Rng) -> (String, String) {
    let with_next: Vec<usize> = (0..documents.len())
        .filter(|&d| documents[d].len() >= 2)
        .collect();
    let d = with_next[rng.below(with_next.len())];
    let i = rng.below(documents[d].len() - 1);
    let a = documents[d][i].clone();
    if real {
        return (a, documents[d][i + 1].clone());
    }
    let other = loop {
        let o = rng.below(documents.len());
        if o != d {
            break o;
        }
    };
    let b = documents[other][rng.below(documents[other].len())].clone();
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_choices_round_trip_through_the_url() {
        for choice in [
            ModelChoice::Bundled,
            ModelChoice::Hub("google/bert_uncased_L-2_H-128_A-2".into()),
            ModelChoice::Url("https://example.org/models/tiny/".into()),
        ] {
            assert_eq!(ModelChoice::from_key(&choice.key()), choice);
        }
        assert_eq!(ModelChoice::from_key("nonsense"), ModelChoice::Bundled);
        assert_eq!(
            ModelChoice::Hub("google-bert/bert-base-uncased".into()).folder(),
            Some("https://huggingface.co/google-bert/bert-base-uncased/resolve/main/".into())
        );
        assert_eq!(ModelChoice::Bundled.folder(), None);
    }

    #[test]
    fn a_typed_url_becomes_a_folder() {
        assert_eq!(folder_url("https://x.org/m"), "https://x.org/m/");
        assert_eq!(folder_url(" https://x.org/m/ "), "https://x.org/m/");
        assert_eq!(
            folder_url("https://x.org/m/config.json"),
            "https://x.org/m/"
        );
        assert_eq!(
            folder_url("https://x.org/m/model.safetensors"),
            "https://x.org/m/"
        );
        assert!(check_model_url("").is_err());
        assert!(check_model_url("ftp://x.org/m").is_err());
        assert!(check_model_url("https://x.org/m").is_ok());
    }

    #[test]
    fn clicking_masks_and_a_second_click_restores_even_after_other_masks() {
        let mut clicks = ClickedMasks::default();
        let text = "The capital of France is Paris.";
        let t1 = clicks.mask(text, 25..30); // Paris
        assert_eq!(t1, "The capital of France is [MASK].");
        let t2 = clicks.mask(&t1, 4..11); // capital: the later [MASK] moves
        assert_eq!(t2, "The [MASK] of France is [MASK].");
        let t3 = clicks.unmask(&t2, 24).unwrap();
        assert_eq!(t3, "The [MASK] of France is Paris.");
        let t4 = clicks.unmask(&t3, 4).unwrap();
        assert_eq!(t4, text);
        // A typed [MASK] has nothing to restore.
        assert_eq!(clicks.unmask("a [MASK] b", 2), None);
    }

    #[test]
    fn a_forgotten_or_moved_mask_is_not_restored_into_the_wrong_place() {
        let mut clicks = ClickedMasks::default();
        let t = clicks.mask("one two three", 4..7);
        assert_eq!(t, "one [MASK] three");
        // The visitor edited the text: offset 4 no longer holds a [MASK].
        assert_eq!(clicks.unmask("xone [MASK] three", 4), None);
        clicks.forget();
        assert_eq!(clicks.unmask(&t, 4), None);
    }

    #[test]
    fn sample_pairs_are_consecutive_or_from_another_paragraph() {
        let docs = sample_documents();
        assert!(docs.len() >= 4, "{docs:?}");
        assert!(docs.iter().all(|d| d.len() >= 4));
        let mut rng = Rng::new(3);
        for _ in 0..50 {
            let (a, b) = sample_pair(&docs, true, &mut rng);
            let d = docs.iter().find(|d| d.contains(&a)).unwrap();
            let i = d.iter().position(|s| *s == a).unwrap();
            assert_eq!(d[i + 1], b);
            let (a, b) = sample_pair(&docs, false, &mut rng);
            let da = docs.iter().position(|d| d.contains(&a)).unwrap();
            let db = docs.iter().position(|d| d.contains(&b)).unwrap();
            assert_ne!(da, db);
        }
    }
}

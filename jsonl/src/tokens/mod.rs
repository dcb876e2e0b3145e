//! Token counting with a Hugging Face `tokenizer.json`, shared by `export --max-tokens` and
//! `validate --tokenizer`, so that both stages agree on how long an example is.
//!
//! How an example is counted (no special tokens are added):
//!
//! - **legacy**: tokens of `prompt` + tokens of `completion`; the *target* tokens are the
//!   completion's.
//! - **chat**: the estimate of the OpenAI cookbook (*How to count tokens with tiktoken*): for each
//!   message 3 tokens of framing + the tokens of its `role` and `content` (+ the tokens of `name`
//!   and 1 more when it has one), then 3 tokens that prime the reply. The *target* tokens are the
//!   contents of the assistant messages that are trained on (weight absent or 1).

use std::path::Path;

use rayon::prelude::*;
use records::dataset::{Example, Role};
use tokenizers::Tokenizer;

use crate::{Error, Result};

/// Framing tokens per chat message (OpenAI cookbook estimate).
pub const TOKENS_PER_MESSAGE: u32 = 3;
/// Extra token for a message that carries a `name`.
pub const TOKENS_PER_NAME: u32 = 1;
/// Tokens that prime the assistant's reply after the last message.
pub const TOKENS_REPLY_PRIMING: u32 = 3;

mod bytelevel;

/// Counts tokens with a loaded tokenizer.
///
/// Truncation and padding of the `tokenizer.json` are switched off (a count must not be
/// capped). For byte-level BPE tokenizers an exact fast path is used (see `bytelevel.rs`: the
/// GPT-2 pre-tokeniser as a scanner plus a per-word count cache); texts it cannot handle, and
/// every other tokenizer, go through the tokenizer's own pipeline.
pub struct TokenCounter {
    tokenizer: Tokenizer,
    fast: Option<bytelevel::ByteLevelShape>,
}

impl TokenCounter {
    /// Loads a `tokenizer.json`.
    ///
    /// # Errors
    /// [`Error::TokenizerLoad`] naming `path` when the file cannot be read or parsed.
    pub fn from_file(path: &Path) -> Result<Self> {
        let tokenizer = Tokenizer::from_file(path)
            .map_err(|e| Error::TokenizerLoad { path: path.to_owned(), message: e.to_string() })?;
        Ok(Self::new(tokenizer))
    }

    /// Wraps a tokenizer built in code.
    pub fn new(mut tokenizer: Tokenizer) -> Self {
        // Neither can fail when switching off.
        let _ = tokenizer.with_truncation(None);
        tokenizer.with_padding(None);
        let fast = bytelevel::ByteLevelShape::of(&tokenizer);
        Self { tokenizer, fast }
    }

    /// Whether the exact byte-level fast path applies to this tokenizer.
    pub fn is_fast(&self) -> bool {
        self.fast.is_some()
    }

    /// Counts the tokens of each text (without special tokens), in parallel.
    ///
    /// # Errors
    /// [`Error::Tokenize`] when the tokenizer fails on a text.
    pub fn count_batch(&self, texts: &[&str]) -> Result<Vec<u32>> {
        let Some(fast) = &self.fast else { return self.count_batch_exact(texts) };
        let counted: Vec<Option<tokenizers::Result<u32>>> =
            texts.par_iter().map(|t| fast.count(&self.tokenizer, t)).collect();
        let slow: Vec<&str> =
            texts.iter().zip(&counted).filter(|(_, c)| c.is_none()).map(|(t, _)| *t).collect();
        let mut slow = self.count_batch_exact(&slow)?.into_iter();
        counted
            .into_iter()
            .map(|c| match c {
                Some(Ok(n)) => Ok(n),
                Some(Err(e)) => {
                    Err(Error::Tokenize { what: "text".into(), message: e.to_string() })
                }
                None => Ok(slow.next().expect("one count per slow text")),
            })
            .collect()
    }

    /// Counts through the tokenizer's own pipeline only (the reference for the fast path).
    ///
    /// # Errors
    /// [`Error::Tokenize`] when the tokenizer fails on a text.
    pub fn count_batch_exact(&self, texts: &[&str]) -> Result<Vec<u32>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch_fast(texts.to_vec(), false)
            .map_err(|e| Error::Tokenize { what: "batch".into(), message: e.to_string() })?;
        Ok(encodings.iter().map(|e| e.len() as u32).collect())
    }
}

/// The texts of one example to tokenize and how to add their counts up.
#[derive(Debug, Default, Clone)]
pub struct ExampleTexts {
    /// Texts whose tokens count toward the example's length.
    pub texts: Vec<String>,
    /// `target[i]`: whether `texts[i]` counts toward the target (completion/assistant) tokens.
    pub target: Vec<bool>,
    /// Tokens added on top of the texts' (chat framing).
    pub overhead: u32,
}

impl ExampleTexts {
    /// The texts of a legacy example.
    pub fn legacy(prompt: String, completion: String) -> Self {
        Self { texts: vec![prompt, completion], target: vec![false, true], overhead: 0 }
    }

    /// A tagging example: its text, every token of it trained.
    pub fn tagged(text: String) -> Self {
        Self { texts: vec![text], target: vec![true], overhead: 0 }
    }

    /// An empty chat example; add messages with [`push_message`](Self::push_message).
    pub fn chat() -> Self {
        Self { texts: Vec::new(), target: Vec::new(), overhead: TOKENS_REPLY_PRIMING }
    }

    /// Adds one chat message. `trained` marks an assistant message that the loss sees.
    pub fn push_message(
        &mut self,
        role: String,
        content: String,
        name: Option<String>,
        trained: bool,
    ) {
        self.overhead += TOKENS_PER_MESSAGE;
        self.texts.push(role);
        self.target.push(false);
        self.texts.push(content);
        self.target.push(trained);
        if let Some(name) = name {
            self.overhead += TOKENS_PER_NAME;
            self.texts.push(name);
            self.target.push(false);
        }
    }
}

impl ExampleTexts {
    /// The texts of an example as `export` writes it.
    pub fn from_example(example: &Example) -> Self {
        match example {
            Example::Legacy(l) => Self::legacy(l.prompt.clone(), l.completion.clone()),
            Example::Tagged(t) => Self::tagged(t.text.clone()),
            Example::Chat(c) => {
                let mut texts = Self::chat();
                for m in &c.messages {
                    let trained = m.role == Role::Assistant && m.weight != Some(0);
                    texts.push_message(
                        role_name(m.role).to_owned(),
                        m.content.clone(),
                        m.name.clone(),
                        trained,
                    );
                }
                texts
            }
        }
    }
}

/// The JSON name of a role.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Function => "function",
        Role::Tool => "tool",
    }
}

/// Token counts of one example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExampleTokens {
    /// All tokens of the example.
    pub total: u32,
    /// Completion / trained assistant tokens.
    pub target: u32,
}

/// Counts the tokens of many examples with one parallel tokenizer call.
///
/// # Errors
/// [`Error::Tokenize`] when the tokenizer fails.
pub fn count_examples(
    counter: &TokenCounter,
    examples: &[ExampleTexts],
) -> Result<Vec<ExampleTokens>> {
    let flat: Vec<&str> =
        examples.iter().flat_map(|e| e.texts.iter().map(String::as_str)).collect();
    let counts = counter.count_batch(&flat)?;
    let mut at = 0;
    let mut out = Vec::with_capacity(examples.len());
    for ex in examples {
        let mut total = ex.overhead;
        let mut target = 0;
        for (i, is_target) in ex.target.iter().enumerate() {
            let n = counts[at + i];
            total += n;
            if *is_target {
                target += n;
            }
        }
        at += ex.texts.len();
        out.push(ExampleTokens { total, target });
    }
    Ok(out)
}

/// A tokenizer built in code for tests: a word-level vocabulary with whitespace
/// pre-tokenisation, so every word or run of punctuation is one token.
#[doc(hidden)]
pub fn test_tokenizer() -> Tokenizer {
    const JSON: &str = r#"{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": null, "model": {"type": "WordLevel", "unk_token": "[UNK]",
        "vocab": {"[UNK]": 0, "the": 1, "car": 2, "->": 3}}}"#;
    JSON.parse().expect("the test tokenizer parses")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_and_chat_counts_follow_the_documented_rule() {
        let counter = TokenCounter::new(test_tokenizer());
        let legacy = ExampleTexts::legacy("the car is great ->".into(), " tire END".into());
        let mut chat = ExampleTexts::chat();
        chat.push_message("system".into(), "list parts".into(), None, false);
        chat.push_message("user".into(), "new tires".into(), Some("bob".into()), false);
        chat.push_message("assistant".into(), "tire, brake pad".into(), None, true);
        let got = count_examples(&counter, &[legacy, chat]).unwrap();
        // legacy: 5 words in the prompt ("->" is one token) + 2 in the completion.
        assert_eq!(got[0], ExampleTokens { total: 7, target: 2 });
        // chat: 3 priming + 3 messages x 3 framing + roles (1 each) + contents (2 + 2 + 4)
        // + name (1 + 1): 3 + 9 + 3 + 8 + 2 = 25; target = "tire , brake pad" = 4.
        assert_eq!(got[1], ExampleTokens { total: 25, target: 4 });
    }

    /// A byte-level BPE trained on a few sentences, with or without `Digits` before it.
    fn byte_level_bpe(digits: bool) -> Tokenizer {
        use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
        use tokenizers::models::TrainerWrapper;
        use tokenizers::pre_tokenizers::byte_level::ByteLevel;
        use tokenizers::pre_tokenizers::digits::Digits;
        use tokenizers::pre_tokenizers::sequence::Sequence;

        let mut tokenizer = Tokenizer::new(BPE::default());
        let byte_level = ByteLevel::new(false, true, true);
        if digits {
            tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
                Digits::new(true).into(),
                byte_level.into(),
            ])));
        } else {
            tokenizer.with_pre_tokenizer(Some(byte_level));
        }
        let mut trainer: TrainerWrapper = BpeTrainerBuilder::new()
            .vocab_size(400)
            .show_progress(false)
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .build()
            .into();
        let corpus =
            ["the brakes squeal and the tires wore out", "I'm sure they're fine, it's 2019 now"];
        tokenizer.train(&mut trainer, corpus.iter()).unwrap();
        tokenizer
    }

    #[test]
    fn fast_byte_level_counts_equal_the_tokenizer_pipeline() {
        let texts = [
            "The brakes squeal, and the tires wore out at 20k miles!!",
            "I'm sure they're fine; it's 2019 now -> right?",
            "  leading and trailing spaces   ",
            "tabs\tand\nnew lines\r\n\n  mixed \u{a0}nbsp",
            "''s 'S 'll 've 're 'd 'm 't",
            "café naïve façade – “quotes” … ½ ² Ⅻ emoji 🚗",
            "Ωmega and 東京 go the slow way",
            "",
        ];
        for digits in [false, true] {
            let counter = TokenCounter::new(byte_level_bpe(digits));
            assert!(counter.is_fast());
            let fast = counter.count_batch(&texts).unwrap();
            let exact = counter.count_batch_exact(&texts).unwrap();
            assert_eq!(fast, exact, "digits: {digits}");
        }
        assert!(!TokenCounter::new(test_tokenizer()).is_fast());
    }
}

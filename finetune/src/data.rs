//! Training examples as token ids with per-token loss weights.
//!
//! A legacy example `{"prompt", "completion"}` is tokenised as two pieces, so the boundary
//! between prompt and completion falls exactly between two tokens; completion tokens carry
//! weight 1, prompt tokens `prompt_loss_weight`. A chat example is rendered with the model's chat
//! template; assistant turns (header excluded, end token included) carry their `weight` (default
//! 1), everything else 0. Accuracy counts the completion / assistant tokens only.

use std::path::{Path, PathBuf};

use records::dataset::{defaults, parse_parts, ChatExample, Example, Role};
use tokenizers::Tokenizer;

use crate::model_dir::ChatFormat;
use crate::{Error, Result};

/// One tokenised example.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// Token ids.
    pub ids: Vec<u32>,
    /// Loss weight of predicting `ids[i]` (so `weights[0]` is always 0).
    pub weights: Vec<f32>,
    /// Whether `ids[i]` is a completion / assistant token (counted by the accuracies).
    pub counted: Vec<bool>,
    /// 1-based line of the example in its file.
    pub line: u64,
}

impl Encoded {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn push(&mut self, ids: &[u32], weight: f32, counted: bool) {
        self.ids.extend_from_slice(ids);
        self.weights.extend(std::iter::repeat_n(weight, ids.len()));
        self.counted.extend(std::iter::repeat_n(counted, ids.len()));
    }
}

/// A tokenised JSONL file.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub path: PathBuf,
    pub examples: Vec<Encoded>,
    /// Examples whose joint tokenisation merged tokens across the prompt/completion boundary.
    pub boundary_merges: usize,
    /// Examples cut to `max_seq_len` (their first tokens dropped).
    pub truncated: usize,
}

/// Reads a JSONL file of examples (either format; blank lines skipped).
///
/// # Errors
/// The file cannot be read, or a line is not a valid example (named by line).
pub fn read_examples(path: &Path) -> Result<Vec<(u64, Example)>> {
    let text = records::text::read_text(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let ex: Example = serde_json::from_str(line).map_err(|e| {
            Error::json(path, i as u64 + 1, format!("not a prompt/completion or chat example: {e}"))
        })?;
        out.push((i as u64 + 1, ex));
    }
    Ok(out)
}

/// Turns examples into token ids and weights for one model.
#[derive(Debug, Clone)]
pub struct Encoder {
    tokenizer: Tokenizer,
    chat: Option<ChatFormat>,
    prompt_loss_weight: f32,
    max_seq_len: usize,
}

/// The outcome of encoding one example.
#[derive(Debug, Clone)]
pub struct EncodeOutcome {
    pub encoded: Encoded,
    pub boundary_merge: bool,
    pub truncated: bool,
}

impl Encoder {
    /// An encoder; `chat` is required for chat examples.
    pub fn new(
        tokenizer: Tokenizer,
        chat: Option<ChatFormat>,
        prompt_loss_weight: f32,
        max_seq_len: usize,
    ) -> Self {
        Self { tokenizer, chat, prompt_loss_weight, max_seq_len: max_seq_len.max(2) }
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The chat format, when the model has one.
    pub fn chat(&self) -> Option<&ChatFormat> {
        self.chat.as_ref()
    }

    /// Token ids of `text` (special tokens written in the text are recognised, none added).
    ///
    /// # Errors
    /// Tokenizer failure.
    pub fn ids(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.tokenizer.encode(text, false).map_err(Error::tokenizer)?.get_ids().to_vec())
    }

    /// Encodes one example.
    ///
    /// # Errors
    /// A message: the example has nothing to learn, or the model has no chat template.
    pub fn encode(&self, ex: &Example) -> Result<EncodeOutcome> {
        let mut enc = Encoded { ids: vec![], weights: vec![], counted: vec![], line: 0 };
        let joint: String;
        match ex {
            Example::Legacy(l) => {
                if l.completion.is_empty() {
                    return Err(Error::Config("empty completion".into()));
                }
                enc.push(&self.ids(&l.prompt)?, self.prompt_loss_weight, false);
                enc.push(&self.ids(&l.completion)?, 1.0, true);
                joint = format!("{}{}", l.prompt, l.completion);
            }
            Example::Tagged(_) => {
                return Err(Error::Config(
                    "a tagging example (text + spans): train a tagger with `finetune tag train`"
                        .into(),
                ))
            }
            Example::Chat(c) => {
                let chat = self.chat_format()?;
                let full = chat.render(&c.messages, false)?;
                let mut done = 0;
                for (i, m) in c.messages.iter().enumerate() {
                    if m.role != Role::Assistant {
                        continue;
                    }
                    let before = chat.render(&c.messages[..i], true)?;
                    let after = chat.render(&c.messages[..=i], false)?;
                    if !full.starts_with(&after)
                        || !after.starts_with(&before)
                        || before.len() < done
                    {
                        return Err(Error::Template(
                            "the rendering of an assistant turn is not a prefix of the conversation"
                                .into(),
                        ));
                    }
                    enc.push(&self.ids(&full[done..before.len()])?, 0.0, false);
                    let w = f32::from(m.weight.unwrap_or(1));
                    enc.push(&self.ids(&full[before.len()..after.len()])?, w, w > 0.0);
                    done = after.len();
                }
                enc.push(&self.ids(&full[done..])?, 0.0, false);
                joint = full;
            }
        }
        if let Some(w) = enc.weights.first_mut() {
            *w = 0.0;
        }
        let boundary_merge = self.ids(&joint)? != enc.ids;
        let truncated = enc.ids.len() > self.max_seq_len;
        if truncated {
            let cut = enc.ids.len() - self.max_seq_len;
            enc.ids.drain(..cut);
            enc.weights.drain(..cut);
            enc.counted.drain(..cut);
            enc.weights[0] = 0.0;
            enc.counted[0] = false;
        }
        Ok(EncodeOutcome { encoded: enc, boundary_merge, truncated })
    }

    fn chat_format(&self) -> Result<&ChatFormat> {
        self.chat.as_ref().ok_or_else(|| {
            Error::Template("chat examples need a model with a chat template".into())
        })
    }

    /// Reads and encodes a JSONL file.
    ///
    /// # Errors
    /// The file cannot be read, or an example cannot be encoded (named by line).
    pub fn encode_file(&self, path: &Path) -> Result<Dataset> {
        let mut ds =
            Dataset { path: path.to_owned(), examples: vec![], boundary_merges: 0, truncated: 0 };
        for (line, ex) in read_examples(path)? {
            let out = self.encode(&ex).map_err(|e| Error::Example {
                path: path.to_owned(),
                line,
                message: e.to_string(),
            })?;
            let mut enc = out.encoded;
            enc.line = line;
            ds.boundary_merges += usize::from(out.boundary_merge);
            ds.truncated += usize::from(out.truncated);
            if enc.counted.iter().any(|&c| c) || enc.weights.iter().any(|&w| w > 0.0) {
                ds.examples.push(enc);
            }
        }
        Ok(ds)
    }

    /// The prompt a model continues at prediction time: a legacy prompt as is, or a chat
    /// conversation without its final assistant turn, rendered with the generation prompt.
    ///
    /// # Errors
    /// Tokenizer or template failure.
    pub fn prompt_ids(&self, ex: &Example) -> Result<Vec<u32>> {
        match ex {
            Example::Legacy(l) => self.ids(&l.prompt),
            Example::Tagged(t) => self.ids(&t.text),
            Example::Chat(c) => {
                let msgs = prompt_messages(c);
                self.ids(&self.chat_format()?.render(msgs, true)?)
            }
        }
    }
}

fn prompt_messages(c: &ChatExample) -> &[records::dataset::Message] {
    match c.messages.last() {
        Some(m) if m.role == Role::Assistant => &c.messages[..c.messages.len() - 1],
        _ => &c.messages,
    }
}

/// The gold parts of an example, when it carries an answer.
pub fn gold_parts(ex: &Example) -> Option<Vec<String>> {
    match ex {
        Example::Legacy(l) => Some(parse_parts(&l.completion, defaults::STOP)),
        Example::Tagged(t) => Some(t.parts()),
        Example::Chat(c) => match c.messages.last() {
            Some(m) if m.role == Role::Assistant => Some(parse_parts(&m.content, "")),
            _ => None,
        },
    }
}

/// Example ids for a JSONL file: the lines of its line-aligned sidecar (`test.jsonl.ids`, or
/// `test.ids` as `jsonl export` names it; one `source_file#index` per line) when it exists, else
/// the 1-based line numbers.
///
/// # Errors
/// The sidecar exists but cannot be read.
pub fn example_ids(path: &Path, lines: &[u64]) -> Result<Vec<String>> {
    let mut appended = path.as_os_str().to_owned();
    appended.push(".ids");
    let sidecar =
        [PathBuf::from(appended), path.with_extension("ids")].into_iter().find(|p| p.is_file());
    if let Some(side) = sidecar {
        let text = records::text::read_text(&side)?;
        let ids: Vec<&str> = text.lines().collect();
        return Ok(lines
            .iter()
            .map(|&l| {
                ids.get(l as usize - 1).map_or_else(|| l.to_string(), |s| s.trim().to_owned())
            })
            .collect());
    }
    Ok(lines.iter().map(u64::to_string).collect())
}

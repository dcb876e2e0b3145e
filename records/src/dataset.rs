//! Fine-tuning dataset lines (JSONL), shared by `jsonl` (writes and validates them) and
//! `finetune` (trains on them).
//!
//! Three formats, one example per line: two for causal language models, one for token
//! classification (the tagger of `finetune tag`):
//!
//! ```text
//! {"prompt": "Great car, new tires ->", "completion": " tire END"}
//! {"messages": [{"role": "system", "content": "..."}, {"role": "user", "content": "..."},
//!               {"role": "assistant", "content": "tire"}]}
//! {"text": "Great car, new tires", "spans": [{"start": 15, "end": 20, "part": "tire"}]}
//! ```
//!
//! Parsing here is lenient (serde ignores nothing: unknown keys are rejected) and meant for
//! training; the strict, line-by-line diagnostics of a dataset are `jsonl validate`'s job.

use serde::{Deserialize, Serialize};

/// A legacy prompt/completion example.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyExample {
    /// The review text followed by the separator (`" ->"` by default).
    pub prompt: String,
    /// One leading space, the parts joined by `", "`, then the stop sequence (`" END"`).
    pub completion: String,
}

/// The role of a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Function,
    Tool,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub role: Role,
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Assistant messages only: 0 excludes the message from the loss, 1 (the default) trains on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u8>,
}

impl Message {
    /// A message without name or weight.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into(), name: None, weight: None }
    }
}

/// A chat-format example.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatExample {
    pub messages: Vec<Message>,
}

/// One part mention of a tagging example: byte offsets into its text, and the canonical part.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagSpan {
    pub start: usize,
    pub end: usize,
    pub part: String,
}

/// A token-classification example: the normalised review text and its part mentions, sorted by
/// start, not overlapping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaggedExample {
    pub text: String,
    pub spans: Vec<TagSpan>,
}

impl TaggedExample {
    /// Checks that every span lies inside the text on character boundaries, is not empty, and
    /// that spans are sorted and do not overlap.
    ///
    /// # Errors
    /// A message naming the first bad span.
    pub fn check(&self) -> Result<(), String> {
        let mut last_end = 0;
        for (i, s) in self.spans.iter().enumerate() {
            if s.start >= s.end || s.end > self.text.len() {
                return Err(format!(
                    "span {i} ({}..{}) is empty or outside the text ({} bytes)",
                    s.start,
                    s.end,
                    self.text.len()
                ));
            }
            if !self.text.is_char_boundary(s.start) || !self.text.is_char_boundary(s.end) {
                return Err(format!("span {i} ({}..{}) cuts a character", s.start, s.end));
            }
            if s.start < last_end {
                return Err(format!(
                    "span {i} ({}..{}) overlaps the previous one or is out of order",
                    s.start, s.end
                ));
            }
            last_end = s.end;
        }
        Ok(())
    }

    /// The distinct parts of the spans, in order of first mention.
    pub fn parts(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.spans {
            if !out.contains(&s.part) {
                out.push(s.part.clone());
            }
        }
        out
    }
}

/// An example of any format.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Example {
    Legacy(LegacyExample),
    Chat(ChatExample),
    Tagged(TaggedExample),
}

/// The defaults shared by export and prediction: the prompt separator and the stop sequence.
pub mod defaults {
    /// Appended to every legacy prompt (with the space before it).
    pub const SEPARATOR: &str = " ->";
    /// Appended to every legacy completion (with the space before it).
    pub const STOP: &str = " END";
    /// The completion text of a review that mentions no part.
    pub const NONE: &str = "none";
    /// Joins parts in a completion.
    pub const PART_JOINER: &str = ", ";
}

/// Splits a completion (or assistant answer) back into its part list: the leading space and the
/// stop sequence are removed, parts are split on `,`, trimmed, and `none` means no part.
///
/// ```
/// use records::dataset::parse_parts;
/// assert_eq!(parse_parts(" brake pad, tire END", " END"), vec!["brake pad", "tire"]);
/// assert!(parse_parts(" none END", " END").is_empty());
/// assert_eq!(parse_parts("tire", " END"), vec!["tire"]);
/// ```
pub fn parse_parts(completion: &str, stop: &str) -> Vec<String> {
    let body = completion.trim_end();
    let body =
        if stop.trim().is_empty() { body } else { body.strip_suffix(stop.trim()).unwrap_or(body) };
    let mut parts: Vec<String> = Vec::new();
    for p in body.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if p.eq_ignore_ascii_case(defaults::NONE) {
            continue;
        }
        if !parts.iter().any(|q| q == p) {
            parts.push(p.to_owned());
        }
    }
    parts
}

/// The comparison key of a part name in exact-match scores: trimmed and lower-cased.
pub fn part_key(part: &str) -> String {
    part.trim().to_lowercase()
}

/// Whether two part lists name the same set of parts (order, repeats, case and surrounding
/// spaces aside): the one definition of an exact match, used by prediction, rounds and `eval`.
///
/// ```
/// use records::dataset::same_parts;
/// let a = ["Brake pad".to_owned(), "tire".to_owned()];
/// let b = ["tire".to_owned(), "brake pad ".to_owned(), "tire".to_owned()];
/// assert!(same_parts(&a, &b));
/// assert!(!same_parts(&a, &b[..1]));
/// ```
pub fn same_parts(a: &[String], b: &[String]) -> bool {
    let set = |parts: &[String]| -> std::collections::BTreeSet<String> {
        parts.iter().map(|p| part_key(p)).filter(|k| !k.is_empty()).collect()
    };
    set(a) == set(b)
}

/// The outcome of guarding a text against a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guarded {
    /// The text does not contain the token.
    Clean,
    /// The text with the token rewritten.
    Rewritten(String),
    /// The token has no rewrite.
    Unfixable,
}

/// The rewrite of a separator or stop token: lower-case when it has upper-case letters, `→` for
/// `->`; `None` when neither applies.
fn defuse(token: &str) -> Option<String> {
    let lower = token.to_lowercase();
    if lower != token {
        return Some(lower);
    }
    token.contains("->").then(|| token.replace("->", "→"))
}

/// Rewrites every occurrence of `token` in `text` (jsonl's `--on-conflict rewrite`). A blank
/// token never conflicts.
pub fn guard(text: &str, token: &str) -> Guarded {
    if token.trim().is_empty() || !text.contains(token) {
        return Guarded::Clean;
    }
    match defuse(token) {
        Some(replacement) => {
            let out = text.replace(token, &replacement);
            if out.contains(token) {
                Guarded::Unfixable
            } else {
                Guarded::Rewritten(out)
            }
        }
        None => Guarded::Unfixable,
    }
}

/// The legacy prompt of a review as `export` writes it and as a predictor must build it:
/// normalised text, the separator and stop sequence rewritten out of it, then the separator.
/// `None` when the text holds a token that has no rewrite.
///
/// ```
/// assert_eq!(records::dataset::legacy_prompt(" Brakes -> squeak.\r\rTHE END", " ->", " END").unwrap(),
///            "Brakes → squeak. THE end ->");
/// ```
pub fn legacy_prompt(review: &str, separator: &str, stop: &str) -> Option<String> {
    let mut text = crate::text::normalize(review);
    for token in [separator.trim(), stop] {
        match guard(&text, token) {
            Guarded::Clean => {}
            Guarded::Rewritten(t) => text = t,
            Guarded::Unfixable => return None,
        }
    }
    text.push_str(separator);
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_formats_parse_by_shape() {
        let legacy: Example =
            serde_json::from_str(r#"{"prompt":"a ->","completion":" b END"}"#).unwrap();
        assert!(matches!(legacy, Example::Legacy(_)));
        let chat: Example = serde_json::from_str(
            r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b","weight":0}]}"#,
        )
        .unwrap();
        match chat {
            Example::Chat(c) => assert_eq!(c.messages[1].weight, Some(0)),
            _ => panic!("chat line parsed as legacy"),
        }
        assert!(
            serde_json::from_str::<Example>(r#"{"prompt":"a","completion":"b","x":1}"#).is_err()
        );
    }

    #[test]
    fn chat_serialises_without_empty_optionals() {
        let ex = ChatExample { messages: vec![Message::new(Role::User, "hi")] };
        assert_eq!(
            serde_json::to_string(&ex).unwrap(),
            r#"{"messages":[{"role":"user","content":"hi"}]}"#
        );
    }
}

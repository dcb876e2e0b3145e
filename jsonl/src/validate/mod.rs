//! `jsonl validate`: strict, streaming checks of a fine-tuning JSONL file.
//!
//! Each line is parsed on its own into a raw [`serde_json::Value`] (not into the typed
//! `records::dataset` structs), so that every problem of the line can be named with its key, and
//! a line that is not JSON at all is reported with its line and column while validation goes on
//! with the next line. The whole-file checks (duplicates, common separators, task type, token
//! statistics) are folded line by line, so memory does not grow with the file beyond one `u64`
//! hash per distinct example (duplicates) and per distinct completion (task type).

mod chat;
mod legacy;
mod report;
mod xfix;

use std::collections::HashMap;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader};
use std::path::Path;

use records::dataset::TaggedExample;
use serde_json::Value;

pub use chat::{MESSAGE_KEYS, ROLES};
pub use legacy::{COMPLETION_ENDING_OPTIONS, LONG_EXAMPLE_CHARS, PROMPT_SEPARATOR_OPTIONS};
pub use report::{Finding, Report, Severity, TaskType, TokenReport};

use crate::stats::{default_epochs, Histogram};
use crate::tokens::{count_examples, ExampleTexts, TokenCounter};
use crate::{Error, Format, Result};
use report::Findings;

/// Fewer examples than this is reported (the old tool's `MIN_EXAMPLES`).
pub const MIN_EXAMPLES: u64 = 100;
/// Examples tokenized per parallel batch.
const TOKEN_BATCH: usize = 2048;

/// Which format to check a file against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FormatChoice {
    /// Decided by the first JSON object: `messages` means chat, anything else legacy.
    #[default]
    Auto,
    /// Always this format.
    Fixed(Format),
}

/// Options of `validate`.
#[derive(Debug, Clone)]
pub struct ValidateConfig {
    /// Default [`FormatChoice::Auto`].
    pub format: FormatChoice,
    /// The context limit for the token statistics. Default 4,096.
    pub max_tokens: u32,
    /// At most this many findings of each code are listed (all are counted). Default 100.
    pub max_findings_per_code: usize,
}

impl Default for ValidateConfig {
    fn default() -> Self {
        Self { format: FormatChoice::Auto, max_tokens: 4096, max_findings_per_code: 100 }
    }
}

/// Validates a JSONL file.
///
/// # Errors
/// [`Error::Io`] naming `path` when it cannot be opened or read; [`Error::Tokenize`] when the
/// tokenizer fails. Problems inside the file are findings of the returned [`Report`], not errors.
pub fn validate_file(
    path: &Path,
    config: &ValidateConfig,
    tokens: Option<&TokenCounter>,
) -> Result<Report> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = BufReader::with_capacity(1 << 20, file);
    validate_reader(reader, &path.display().to_string(), config, tokens)
}

/// Validates JSONL from a reader; `name` names it in the report and in errors.
///
/// # Errors
/// As [`validate_file`].
pub fn validate_reader<R: BufRead>(
    mut reader: R,
    name: &str,
    config: &ValidateConfig,
    tokens: Option<&TokenCounter>,
) -> Result<Report> {
    let mut v = Validator::new(name, config, tokens);
    let mut buf = Vec::with_capacity(1 << 16);
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(|e| Error::io(name, e))?;
        if n == 0 {
            break;
        }
        v.line(&buf)?;
    }
    v.finish()
}

/// The JSON type of a value, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A 64-bit hash for in-memory sets (never persisted, so std's hasher is fine here).
pub(crate) fn hash64(bytes: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

struct Validator<'a> {
    name: String,
    config: &'a ValidateConfig,
    tokens: Option<&'a TokenCounter>,
    format: Option<Format>,
    lines: u64,
    examples: u64,
    findings: Findings,
    legacy: legacy::Aggregate,
    /// Hash of each distinct example → the line it first appeared on.
    seen: HashMap<u64, u64>,
    pending_lines: Vec<u64>,
    pending: Vec<ExampleTexts>,
    total_tokens: Histogram,
    target_tokens: Histogram,
    over_max: u64,
    tokens_per_epoch: u64,
}

impl<'a> Validator<'a> {
    fn new(name: &str, config: &'a ValidateConfig, tokens: Option<&'a TokenCounter>) -> Self {
        let format = match config.format {
            FormatChoice::Auto => None,
            FormatChoice::Fixed(f) => Some(f),
        };
        Self {
            name: name.to_owned(),
            config,
            tokens,
            format,
            lines: 0,
            examples: 0,
            findings: Findings::new(config.max_findings_per_code),
            legacy: legacy::Aggregate::default(),
            seen: HashMap::new(),
            pending_lines: Vec::new(),
            pending: Vec::new(),
            total_tokens: Histogram::default(),
            target_tokens: Histogram::default(),
            over_max: 0,
            tokens_per_epoch: 0,
        }
    }

    fn line(&mut self, raw: &[u8]) -> Result<()> {
        self.lines += 1;
        let line = self.lines;
        let mut bytes = raw.strip_suffix(b"\n").unwrap_or(raw);
        bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if line == 1 && bytes.starts_with(b"\xEF\xBB\xBF") {
            let f = Finding::new(
                Severity::Error,
                "json_syntax",
                "the file starts with a byte order mark",
            );
            self.findings.push(Finding { column: Some(1), ..f.at(line) });
            bytes = &bytes[3..];
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            self.findings.push(Finding::new(Severity::Error, "blank_line", "blank line").at(line));
            return Ok(());
        }
        let value: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                let message = e.to_string();
                // serde_json appends " at line L column C"; the report has its own.
                let message = message.rsplit_once(" at line ").map_or(message.as_str(), |(m, _)| m);
                let f = Finding::new(
                    Severity::Error,
                    "json_syntax",
                    format!("invalid JSON: {message}"),
                );
                self.findings.push(Finding { column: Some(e.column() as u64), ..f.at(line) });
                return Ok(());
            }
        };
        self.examples += 1;
        let Value::Object(mut obj) = value else {
            self.findings.push(
                Finding::new(
                    Severity::Error,
                    "not_object",
                    format!("a line must be a JSON object, found {}", kind(&value)),
                )
                .at(line),
            );
            return Ok(());
        };
        let shape = if obj.contains_key("messages") {
            Format::Chat
        } else if obj.contains_key("spans") {
            Format::Tagging
        } else {
            Format::Legacy
        };
        let format = *self.format.get_or_insert(shape);
        if shape != format {
            let key = match shape {
                Format::Chat => "messages",
                Format::Tagging => "spans",
                Format::Legacy => "prompt",
            };
            self.findings.push(
                Finding::new(
                    Severity::Error,
                    "format_mismatch",
                    format!("a {shape} line in a {format} file"),
                )
                .at(line)
                .key(key),
            );
            return Ok(());
        }
        match format {
            Format::Legacy => {
                let Some(pair) = legacy::check_line(line, &mut obj, &mut self.findings) else {
                    return Ok(());
                };
                self.legacy.add(line, &pair, &mut self.findings);
                let mut h = std::hash::DefaultHasher::new();
                (&pair.prompt, &pair.completion).hash(&mut h);
                self.duplicate(line, h.finish());
                if self.tokens.is_some() {
                    self.pending_lines.push(line);
                    self.pending.push(ExampleTexts::legacy(pair.prompt, pair.completion));
                }
            }
            Format::Chat => {
                let Some(texts) = chat::check_line(line, &obj, &mut self.findings) else {
                    return Ok(());
                };
                let canonical = obj.get("messages").map(Value::to_string).unwrap_or_default();
                self.duplicate(line, hash64(canonical.as_bytes()));
                if self.tokens.is_some() {
                    self.pending_lines.push(line);
                    self.pending.push(texts);
                }
            }
            Format::Tagging => {
                let example = match serde_json::from_value::<TaggedExample>(Value::Object(obj)) {
                    Ok(e) => e,
                    Err(e) => {
                        self.findings.push(
                            Finding::new(Severity::Error, "tagging_shape", e.to_string())
                                .at(line)
                                .key("spans"),
                        );
                        return Ok(());
                    }
                };
                if let Err(m) = example.check() {
                    self.findings
                        .push(Finding::new(Severity::Error, "bad_span", m).at(line).key("spans"));
                    return Ok(());
                }
                self.duplicate(line, hash64(example.text.as_bytes()));
                if self.tokens.is_some() {
                    self.pending_lines.push(line);
                    self.pending.push(ExampleTexts::tagged(example.text));
                }
            }
        }
        if self.pending.len() >= TOKEN_BATCH {
            self.flush_tokens()?;
        }
        Ok(())
    }

    fn duplicate(&mut self, line: u64, hash: u64) {
        let first = *self.seen.entry(hash).or_insert(line);
        if first != line {
            self.findings.push(
                Finding::new(Severity::Warning, "duplicate", format!("duplicate of line {first}"))
                    .at(line),
            );
        }
    }

    fn flush_tokens(&mut self) -> Result<()> {
        let Some(counter) = self.tokens else { return Ok(()) };
        let counts = count_examples(counter, &self.pending).map_err(|e| match e {
            Error::Tokenize { message, .. } => Error::Tokenize { what: self.name.clone(), message },
            other => other,
        })?;
        let max = self.config.max_tokens;
        self.pending.clear();
        for (line, n) in self.pending_lines.drain(..).zip(counts) {
            self.total_tokens.add(n.total);
            self.target_tokens.add(n.target);
            self.tokens_per_epoch += u64::from(n.total.min(max));
            if n.total > max {
                self.over_max += 1;
                self.findings.push(
                    Finding::new(
                        Severity::Warning,
                        "over_max_tokens",
                        format!("{} tokens, over the limit of {max}", n.total),
                    )
                    .at(line),
                );
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Report> {
        self.flush_tokens()?;
        // Per-line findings come first in file order; the whole-file ones follow.
        if self.examples == 0 {
            self.findings.push(Finding::new(
                Severity::Error,
                "no_examples",
                "the file holds no example",
            ));
        } else if self.examples < MIN_EXAMPLES {
            self.findings.push(Finding::new(
                Severity::Warning,
                "example_count",
                format!(
                    "{} examples; at least {MIN_EXAMPLES} are needed and a few hundred recommended",
                    self.examples
                ),
            ));
        }
        if self.format == Some(Format::Legacy) {
            self.legacy.finish(&mut self.findings);
        }
        let tokens = self.tokens.map(|_| {
            let n = self.total_tokens.len();
            let epochs = default_epochs(n);
            TokenReport {
                max_tokens: self.config.max_tokens,
                per_example: self.total_tokens.summary(),
                target_per_example: self.target_tokens.summary(),
                over_max_tokens: self.over_max,
                epochs,
                tokens_per_epoch: self.tokens_per_epoch,
                training_tokens: epochs * self.tokens_per_epoch,
            }
        });
        let mut findings = self.findings.listed;
        // Stable: whole-file findings (no line) keep their order after the line findings.
        findings.sort_by_key(|f| f.line.map_or(u64::MAX, |l| l));
        Ok(Report {
            file: self.name,
            format: self.format,
            lines: self.lines,
            examples: self.examples,
            errors: self.findings.errors,
            warnings: self.findings.warnings,
            task_type: if self.format == Some(Format::Legacy) {
                self.legacy.task_type()
            } else {
                None
            },
            findings,
            counts: self.findings.counts,
            not_listed: self.findings.not_listed,
            tokens,
        })
    }
}

//! What `validate` found: findings (each with line, column and key where they apply), counts
//! per kind of finding, and token statistics.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::stats::Summary;
use crate::Format;

/// How bad a finding is. Errors make `validate` exit 1; warnings and notes do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A line that a fine-tuning service (or `finetune`) would reject or misread.
    Error,
    /// A problem that the old `prepare_data` tool would have offered to fix.
    Warning,
    /// Information only (task type, the common separator found).
    Note,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Note => "note",
        }
    }
}

/// One problem (or observation) in a JSONL file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// A stable name of the kind of finding, e.g. `json_syntax`, `missing_key`, `duplicate`.
    pub code: &'static str,
    /// 1-based line number; `None` for a finding about the whole file.
    pub line: Option<u64>,
    /// 1-based byte column, for JSON syntax errors.
    pub column: Option<u64>,
    /// The key concerned, e.g. `completion` or `messages[2].role`.
    pub key: Option<String>,
    pub message: String,
}

impl Finding {
    pub(crate) fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Self {
        Self { severity, code, line: None, column: None, key: None, message: message.into() }
    }

    pub(crate) fn at(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    pub(crate) fn at_opt(mut self, line: Option<u64>) -> Self {
        self.line = line;
        self
    }

    pub(crate) fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }
}

/// Why the old `prepare_data` tool thought the data was for: it changes which checks apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TaskType {
    /// Every prompt is empty.
    #[serde(rename = "open-ended generation")]
    OpenEndedGeneration,
    /// Fewer distinct completions than a third of the examples.
    #[serde(rename = "classification")]
    Classification,
    /// Anything else.
    #[serde(rename = "conditional generation")]
    ConditionalGeneration,
}

impl std::fmt::Display for TaskType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::OpenEndedGeneration => "open-ended generation",
            Self::Classification => "classification",
            Self::ConditionalGeneration => "conditional generation",
        })
    }
}

/// Token statistics (only with a tokenizer).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenReport {
    /// The context limit examples were checked against.
    pub max_tokens: u32,
    /// Tokens per example (see [`crate::tokens`] for how an example is counted).
    pub per_example: Option<Summary>,
    /// Completion (legacy) or trained assistant (chat) tokens per example.
    pub target_per_example: Option<Summary>,
    /// Examples longer than `max_tokens`.
    pub over_max_tokens: u64,
    /// The default epoch count by the hosted services' rule ([`crate::stats::default_epochs`]).
    pub epochs: u64,
    /// Tokens per epoch, each example capped at `max_tokens` (what the services billed).
    pub tokens_per_epoch: u64,
    /// `epochs × tokens_per_epoch`: the tokens a default training run processes.
    pub training_tokens: u64,
}

/// The result of validating one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The file as named by the caller.
    pub file: String,
    /// The format checked (detected from the first JSON object with `auto`).
    pub format: Option<Format>,
    /// Lines read.
    pub lines: u64,
    /// Lines that hold a JSON value.
    pub examples: u64,
    /// Number of error findings (including those not listed in `findings`).
    pub errors: u64,
    /// Number of warning findings (including those not listed).
    pub warnings: u64,
    /// The task type the old tool would infer (legacy only).
    pub task_type: Option<TaskType>,
    /// Findings in file order, then the whole-file findings in the old tool's order. At most
    /// `max_findings_per_code` of each code are listed; `counts` has them all.
    pub findings: Vec<Finding>,
    /// How many findings of each code there were.
    pub counts: BTreeMap<&'static str, u64>,
    /// Findings counted but not listed.
    pub not_listed: u64,
    /// Token statistics, when a tokenizer was given.
    pub tokens: Option<TokenReport>,
}

impl Report {
    /// Whether no error was found (warnings and notes allowed).
    pub fn is_ok(&self) -> bool {
        self.errors == 0
    }

    /// The report as text: one finding per line (`file:line:column: severity[code] key:
    /// message`), then a summary.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            out.push_str(&self.file);
            if let Some(line) = f.line {
                let _ = write!(out, ":{line}");
            }
            if let Some(column) = f.column {
                let _ = write!(out, ":{column}");
            }
            let _ = write!(out, ": {}[{}]: ", f.severity.as_str(), f.code);
            if let Some(key) = &f.key {
                let _ = write!(out, "{key}: ");
            }
            out.push_str(&f.message);
            out.push('\n');
        }
        if self.not_listed > 0 {
            let _ = writeln!(out, "({} more findings not listed; see the counts)", self.not_listed);
        }
        let format = self.format.map_or("unknown".to_owned(), |f| f.to_string());
        let _ = writeln!(
            out,
            "{}: {format} format, {} lines, {} examples, {} errors, {} warnings",
            self.file, self.lines, self.examples, self.errors, self.warnings
        );
        if !self.counts.is_empty() {
            let counts: Vec<String> = self.counts.iter().map(|(c, n)| format!("{c} {n}")).collect();
            let _ = writeln!(out, "findings by kind: {}", counts.join(", "));
        }
        if let Some(task) = self.task_type {
            let _ = writeln!(out, "task type: {task}");
        }
        if let Some(t) = &self.tokens {
            let none = || "none".to_owned();
            let _ = writeln!(
                out,
                "tokens per example: {}",
                t.per_example.map_or_else(none, |s| s.to_string())
            );
            let target = if self.format == Some(Format::Chat) { "assistant" } else { "completion" };
            let _ = writeln!(
                out,
                "{target} tokens per example: {}",
                t.target_per_example.map_or_else(none, |s| s.to_string())
            );
            let _ = writeln!(out, "examples over {} tokens: {}", t.max_tokens, t.over_max_tokens);
            let _ = writeln!(
                out,
                "default epochs: {}; tokens per epoch: {}; tokens processed by training: {}",
                t.epochs, t.tokens_per_epoch, t.training_tokens
            );
        }
        out
    }
}

/// Collects findings: counts all of them, keeps at most `cap` of each code, so that a huge file
/// full of one mistake still validates in bounded memory.
#[derive(Debug)]
pub(crate) struct Findings {
    pub(crate) listed: Vec<Finding>,
    pub(crate) counts: BTreeMap<&'static str, u64>,
    pub(crate) errors: u64,
    pub(crate) warnings: u64,
    pub(crate) not_listed: u64,
    cap: usize,
}

impl Findings {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            listed: Vec::new(),
            counts: BTreeMap::new(),
            errors: 0,
            warnings: 0,
            not_listed: 0,
            cap,
        }
    }

    pub(crate) fn push(&mut self, f: Finding) {
        match f.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
            Severity::Note => {}
        }
        let n = self.counts.entry(f.code).or_insert(0);
        *n += 1;
        if *n as usize <= self.cap {
            self.listed.push(f);
        } else {
            self.not_listed += 1;
        }
    }
}

//! Checks of the legacy prompt/completion format: the old OpenAI `prepare_data` validators
//! (`openai/validators.py` of `openai` 0.28), in their order, computed in one streaming pass.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::hash64;
use super::report::{Finding, Findings, Severity, TaskType};
use super::xfix::{CommonPrefix, CommonSuffix};

/// Longer prompt + completion (in characters) is reported as a long example.
pub const LONG_EXAMPLE_CHARS: usize = 10_000;
/// A common prompt prefix longer than this many characters is reported.
pub const MAX_PROMPT_PREFIX_CHARS: usize = 12;
/// A common completion prefix of at least this many characters is reported.
pub const MIN_COMPLETION_PREFIX_CHARS: usize = 5;
/// A common suffix longer than this many characters is reported as very long.
pub const MAX_SUFFIX_CHARS: usize = 10;

/// Prompt separators the old tool recommended, in its order of preference.
pub const PROMPT_SEPARATOR_OPTIONS: [&str; 6] =
    [" ->", "\n\n###\n\n", "\n\n===\n\n", "\n\n---\n\n", "\n\n===>\n\n", "\n\n--->\n\n"];
/// Its fallback when every option occurs in some prompt.
const PROMPT_SEPARATOR_FALLBACK: &str = "\n\n### =>\n\n";
/// Completion endings it recommended, in order.
pub const COMPLETION_ENDING_OPTIONS: [&str; 9] =
    ["\n", ".", " END", "***", "+++", "&&&", "$$$", "@@@", "%%%"];
const COMPLETION_ENDING_FALLBACK: &str = " [END]";

/// The prompt and completion of a legacy line that passed the per-line checks.
pub(crate) struct Pair {
    pub prompt: String,
    pub completion: String,
}

/// Checks one legacy line's keys and values. Returns the pair when both fields are strings.
pub(crate) fn check_line(
    line: u64,
    obj: &mut Map<String, Value>,
    out: &mut Findings,
) -> Option<Pair> {
    let mut extra = Vec::new();
    let mut fields: [Option<Value>; 2] = [None, None];
    let names = ["prompt", "completion"];
    let keys: Vec<String> = obj.keys().cloned().collect();
    for key in keys {
        if let Some(i) = names.iter().position(|n| *n == key) {
            fields[i] = obj.remove(&key);
        } else if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(&key)) {
            out.push(
                Finding::new(
                    Severity::Error,
                    "key_case",
                    format!("key `{key}` should be lower-case `{}`", names[i]),
                )
                .at(line)
                .key(key.clone()),
            );
            if fields[i].is_none() {
                fields[i] = obj.remove(&key);
            }
        } else {
            extra.push(key);
        }
    }
    for key in extra {
        out.push(
            Finding::new(
                Severity::Warning,
                "extra_key",
                "unexpected key: a prompt/completion line has exactly the keys `prompt` and `completion`",
            )
            .at(line)
            .key(key),
        );
    }
    let mut strings: [Option<String>; 2] = [None, None];
    for (i, field) in fields.into_iter().enumerate() {
        match field {
            None => out.push(
                Finding::new(
                    Severity::Error,
                    "missing_key",
                    format!("key `{}` is missing", names[i]),
                )
                .at(line)
                .key(names[i]),
            ),
            Some(Value::String(s)) => strings[i] = Some(s),
            Some(other) => out.push(
                Finding::new(
                    Severity::Error,
                    "not_string",
                    format!("value must be a string, found {}", super::kind(&other)),
                )
                .at(line)
                .key(names[i]),
            ),
        }
    }
    if strings[1].as_deref() == Some("") {
        out.push(
            Finding::new(Severity::Error, "empty_completion", "completion is empty")
                .at(line)
                .key("completion"),
        );
        return None;
    }
    let [Some(prompt), Some(completion)] = strings else { return None };
    Some(Pair { prompt, completion })
}

/// What the whole-file checks need, gathered line by line.
#[derive(Debug)]
pub(crate) struct Aggregate {
    n: u64,
    prompt_chars: u64,
    /// Hashes of the distinct completions (classification inference).
    completions: HashSet<u64>,
    /// Upper- and lower-case letters in prompts [0] and completions [1].
    upper: [u64; 2],
    lower: [u64; 2],
    prompt_prefix: CommonPrefix,
    prompt_suffix: CommonSuffix,
    completion_prefix: CommonPrefix,
    completion_suffix: CommonSuffix,
    prompt_has_newline: bool,
    prompt_contains: [bool; PROMPT_SEPARATOR_OPTIONS.len()],
    completion_contains: [bool; COMPLETION_ENDING_OPTIONS.len()],
}

impl Default for Aggregate {
    fn default() -> Self {
        Self {
            n: 0,
            prompt_chars: 0,
            completions: HashSet::new(),
            upper: [0; 2],
            lower: [0; 2],
            prompt_prefix: CommonPrefix::default(),
            prompt_suffix: CommonSuffix::default(),
            completion_prefix: CommonPrefix::default(),
            completion_suffix: CommonSuffix::default(),
            prompt_has_newline: false,
            prompt_contains: [false; PROMPT_SEPARATOR_OPTIONS.len()],
            completion_contains: [false; COMPLETION_ENDING_OPTIONS.len()],
        }
    }
}

fn count_case(s: &str, upper: &mut u64, lower: &mut u64) {
    for c in s.chars() {
        if c.is_uppercase() {
            *upper += 1;
        } else if c.is_lowercase() {
            *lower += 1;
        }
    }
}

impl Aggregate {
    /// Adds one valid pair; reports its per-line findings (long example, no leading space).
    pub(crate) fn add(&mut self, line: u64, pair: &Pair, out: &mut Findings) {
        let (p, c) = (pair.prompt.as_str(), pair.completion.as_str());
        self.n += 1;
        let prompt_chars = p.chars().count();
        self.prompt_chars += prompt_chars as u64;
        self.completions.insert(hash64(c.as_bytes()));
        let chars = prompt_chars + c.chars().count();
        if chars > LONG_EXAMPLE_CHARS {
            out.push(
                Finding::new(
                    Severity::Warning,
                    "long_example",
                    format!("prompt + completion is {chars} characters, over {LONG_EXAMPLE_CHARS}"),
                )
                .at(line),
            );
        }
        if !c.starts_with(' ') {
            out.push(
                Finding::new(
                    Severity::Warning,
                    "completion_space_start",
                    "completion should start with one space (` `); it tokenizes better",
                )
                .at(line)
                .key("completion"),
            );
        }
        count_case(p, &mut self.upper[0], &mut self.lower[0]);
        count_case(c, &mut self.upper[1], &mut self.lower[1]);
        self.prompt_prefix.add(p);
        self.prompt_suffix.add(p, line);
        self.completion_prefix.add(c);
        self.completion_suffix.add(c, line);
        self.prompt_has_newline |= p.contains('\n');
        for (seen, option) in self.prompt_contains.iter_mut().zip(PROMPT_SEPARATOR_OPTIONS) {
            *seen |= p.contains(option);
        }
        for (seen, option) in self.completion_contains.iter_mut().zip(COMPLETION_ENDING_OPTIONS) {
            *seen |= c.contains(option);
        }
    }

    /// The task type the old tool infers.
    pub(crate) fn task_type(&self) -> Option<TaskType> {
        if self.n == 0 {
            return None;
        }
        Some(if self.prompt_chars == 0 {
            TaskType::OpenEndedGeneration
        } else if (self.completions.len() as f64) < self.n as f64 / 3.0 {
            TaskType::Classification
        } else {
            TaskType::ConditionalGeneration
        })
    }

    /// The whole-file findings, in the old tool's order (after the example count).
    pub(crate) fn finish(&self, out: &mut Findings) {
        let Some(task) = self.task_type() else { return };
        if task == TaskType::Classification {
            out.push(Finding::new(
                Severity::Note,
                "task_type",
                format!(
                    "{} distinct completions for {} examples: the data looks like classification",
                    self.completions.len(),
                    self.n
                ),
            ));
        }
        for (i, column) in ["prompt", "completion"].into_iter().enumerate() {
            // The old tool's rule: upper-case letters more than half the lower-case ones.
            if self.upper[i] * 2 > self.lower[i] {
                out.push(
                    Finding::new(
                        Severity::Warning,
                        "uppercase",
                        format!(
                            "more than a third of the letters are upper-case ({} upper, {} lower); \
                             upper-case text tends to train worse",
                            self.upper[i], self.lower[i]
                        ),
                    )
                    .key(column),
                );
            }
        }
        self.prompt_suffix_findings(task, out);
        self.prompt_prefix_findings(out);
        self.completion_prefix_findings(out);
        self.completion_suffix_findings(task, out);
    }

    fn prompt_suffix_findings(&self, task: TaskType, out: &mut Findings) {
        if task == TaskType::OpenEndedGeneration {
            return;
        }
        let suggested = PROMPT_SEPARATOR_OPTIONS
            .iter()
            .zip(self.prompt_contains)
            // The old tool skips " ->" when a prompt has a line break.
            .find(|(option, seen)| !(*seen || (**option == " ->" && self.prompt_has_newline)))
            .map_or(PROMPT_SEPARATOR_FALLBACK, |(option, _)| *option);
        let suffix = self.prompt_suffix.value();
        if self.prompt_suffix.all_identical() {
            out.push(
                Finding::new(
                    Severity::Error,
                    "identical_prompts",
                    format!("all prompts are identical: {suffix:?}"),
                )
                .key("prompt"),
            );
            return;
        }
        if suffix.is_empty() {
            out.push(
                Finding::new(
                    Severity::Warning,
                    "no_prompt_separator",
                    format!(
                        "prompts do not end with a common separator (from this line on); \
                         add one such as {suggested:?}"
                    ),
                )
                .at_opt(self.prompt_suffix.broke_at())
                .key("prompt"),
            );
            return;
        }
        out.push(
            Finding::new(
                Severity::Note,
                "prompt_suffix",
                format!("all prompts end with {suffix:?}"),
            )
            .key("prompt"),
        );
        if suffix.chars().count() > MAX_SUFFIX_CHARS {
            out.push(
                Finding::new(
                    Severity::Warning,
                    "prompt_suffix_long",
                    format!("the common prompt suffix {suffix:?} is very long; use a short one such as {suggested:?}"),
                )
                .key("prompt"),
            );
        }
        if let Some(line) = self.prompt_suffix.repeated_at() {
            out.push(
                Finding::new(
                    Severity::Warning,
                    "prompt_suffix_repeated",
                    format!("the prompt contains the separator {suffix:?} before its end"),
                )
                .at(line)
                .key("prompt"),
            );
        }
    }

    fn prompt_prefix_findings(&self, out: &mut Findings) {
        let prefix = self.prompt_prefix.value();
        if prefix.is_empty() || self.prompt_prefix.all_identical() {
            return;
        }
        if prefix.chars().count() > MAX_PROMPT_PREFIX_CHARS {
            out.push(
                Finding::new(
                    Severity::Warning,
                    "prompt_prefix",
                    format!(
                        "all prompts start with {prefix:?}; put only the input into the prompt"
                    ),
                )
                .key("prompt"),
            );
        }
    }

    fn completion_prefix_findings(&self, out: &mut Findings) {
        let prefix = self.completion_prefix.value();
        if prefix.chars().count() < MIN_COMPLETION_PREFIX_CHARS
            || self.completion_prefix.all_identical()
        {
            return;
        }
        out.push(
            Finding::new(
                Severity::Warning,
                "completion_prefix",
                format!("all completions start with {prefix:?}; put only the output into the completion"),
            )
            .key("completion"),
        );
    }

    fn completion_suffix_findings(&self, task: TaskType, out: &mut Findings) {
        if matches!(task, TaskType::OpenEndedGeneration | TaskType::Classification) {
            return;
        }
        let suffix = self.completion_suffix.value();
        if self.completion_suffix.all_identical() {
            out.push(
                Finding::new(
                    Severity::Error,
                    "identical_completions",
                    format!("all completions are identical: {suffix:?}"),
                )
                .key("completion"),
            );
            return;
        }
        let suggested = COMPLETION_ENDING_OPTIONS
            .iter()
            .zip(self.completion_contains)
            .find(|(_, seen)| !seen)
            .map_or(COMPLETION_ENDING_FALLBACK, |(option, _)| *option);
        if suffix.is_empty() {
            out.push(
                Finding::new(
                    Severity::Warning,
                    "no_completion_ending",
                    format!(
                        "completions do not end with a common stop sequence (from this line on); \
                         add one such as {suggested:?}"
                    ),
                )
                .at_opt(self.completion_suffix.broke_at())
                .key("completion"),
            );
            return;
        }
        out.push(
            Finding::new(
                Severity::Note,
                "completion_suffix",
                format!("all completions end with {suffix:?}"),
            )
            .key("completion"),
        );
        if suffix.chars().count() > MAX_SUFFIX_CHARS {
            out.push(
                Finding::new(
                    Severity::Warning,
                    "completion_suffix_long",
                    format!("the common completion ending {suffix:?} is very long; use a short one such as {suggested:?}"),
                )
                .key("completion"),
            );
        }
        if let Some(line) = self.completion_suffix.repeated_at() {
            out.push(
                Finding::new(
                    Severity::Warning,
                    "completion_suffix_repeated",
                    format!("the completion contains the stop sequence {suffix:?} before its end"),
                )
                .at(line)
                .key("completion"),
            );
        }
    }
}

//! One table of training rounds, read tolerantly from run directories.
//!
//! For each run directory it reads what is there, and leaves a cell empty where a file or a
//! field is missing:
//!
//! - `results.csv`: steps, elapsed examples, final training metrics (the mean of the last
//!   [`FINAL_WINDOW`] steps, because one batch is noisy) and the last validation metrics;
//! - `hparams.json` and the run's entry in `../index.json` (the lineage file written by
//!   `finetune`): parent, base model, rows, epochs and duration, looked up under the usual key
//!   names: first as dotted paths (`train.rows`, `hparams.epochs`, as `finetune` writes them),
//!   then at the top level, then one object deep (`{"hyperparameters": {"epochs": 3}}`);
//! - `scores.json` (written by `eval score --out RUN/`): test exact match, micro and macro F1,
//!   held-out and seen recall.
//!
//! Problems with one file become [`RunSummary::warnings`] instead of errors, so that one broken
//! run does not hide the others.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::score::ScoreReport;
use crate::{Error, Result};

/// Number of final steps whose training metrics are averaged.
pub const FINAL_WINDOW: usize = 10;

/// What is known about one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunSummary {
    /// The run directory's name.
    pub run: String,
    pub parent: Option<String>,
    pub base_model: Option<String>,
    pub rows: Option<u64>,
    pub epochs: Option<f64>,
    pub steps: Option<u64>,
    pub examples_seen: Option<u64>,
    pub train_loss: Option<f64>,
    pub train_token_accuracy: Option<f64>,
    pub train_sequence_accuracy: Option<f64>,
    pub val_loss: Option<f64>,
    pub val_token_accuracy: Option<f64>,
    pub val_sequence_accuracy: Option<f64>,
    pub test_exact_match: Option<f64>,
    pub test_micro_f1: Option<f64>,
    pub test_macro_f1: Option<f64>,
    pub heldout_recall: Option<f64>,
    pub seen_recall: Option<f64>,
    pub duration_s: Option<f64>,
    /// Files that exist but could not be read.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

const PARENT_KEYS: &[&str] = &["parent", "parent_run", "init_from", "resume_from"];
const BASE_KEYS: &[&str] = &["base_model", "base", "model_id", "model"];
const ROWS_KEYS: &[&str] =
    &["train.rows", "rows", "rows_used", "train_rows", "n_train", "train_examples", "examples"];
const EPOCHS_KEYS: &[&str] = &["hparams.epochs", "epochs", "n_epochs", "num_epochs"];
const DURATION_KEYS: &[&str] = &[
    "duration_s",
    "duration_secs",
    "duration_seconds",
    "elapsed_s",
    "elapsed_seconds",
    "wall_s",
    "train_seconds",
    "duration",
];

/// Reads what a run directory holds (see the module docs).
///
/// # Errors
/// `dir` is not a directory. Unreadable files inside it become warnings.
pub fn summarize_run(dir: &Path) -> Result<RunSummary> {
    if !dir.is_dir() {
        return Err(Error::file(dir, "not a run directory"));
    }
    let mut s = RunSummary { run: run_name(dir), ..RunSummary::default() };

    let results = dir.join("results.csv");
    if results.exists() {
        match records::run::read_results(&results) {
            Ok(rows) => fill_from_results(&mut s, &rows),
            Err(e) => s.warnings.push(e.to_string()),
        }
    }

    // Later sources win: the lineage entry is written after training, hparams before.
    let mut facts: Vec<Map<String, Value>> = Vec::new();
    if let Some(entry) = read_index_entry(dir, &mut s.warnings) {
        facts.push(entry);
    }
    if let Some(Value::Object(h)) = read_json(&dir.join("hparams.json"), &mut s.warnings) {
        facts.push(h);
    }
    let text = |keys: &[&str]| lookup(&facts, keys).and_then(value_text);
    let number = |keys: &[&str]| lookup(&facts, keys).and_then(value_number);
    s.parent = text(PARENT_KEYS);
    s.base_model = text(BASE_KEYS);
    s.rows = number(ROWS_KEYS).filter(|r| *r >= 0.0).map(|r| r as u64);
    s.epochs = number(EPOCHS_KEYS);
    s.duration_s = number(DURATION_KEYS);

    let scores_path = dir.join("scores.json");
    if let Some(v) = read_json(&scores_path, &mut s.warnings) {
        match serde_json::from_value::<ScoreReport>(v) {
            Ok(r) => {
                s.test_exact_match = Some(r.exact_match);
                s.test_micro_f1 = Some(r.micro.f1);
                s.test_macro_f1 = Some(r.macro_.f1);
                if let Some(h) = r.heldout {
                    s.heldout_recall = Some(h.heldout.recall);
                    s.seen_recall = Some(h.seen.recall);
                }
            }
            Err(e) => {
                s.warnings.push(format!("{}: not a score report: {e}", scores_path.display()))
            }
        }
    }
    Ok(s)
}

/// The name a run is shown under: its directory's name.
pub fn run_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_owned())
        .or_else(|| dir.canonicalize().ok().and_then(|p| p.file_name().map(|n| n.to_owned())))
        .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn fill_from_results(s: &mut RunSummary, rows: &[records::run::ResultsRow]) {
    let Some(last) = rows.last() else { return };
    s.steps = Some(last.step);
    s.examples_seen = Some(last.elapsed_examples);
    let tail = &rows[rows.len().saturating_sub(FINAL_WINDOW)..];
    let mean = |f: fn(&records::run::ResultsRow) -> f64| {
        Some(tail.iter().map(f).sum::<f64>() / tail.len() as f64)
    };
    s.train_loss = mean(|r| r.training_loss);
    s.train_token_accuracy = mean(|r| r.training_token_accuracy);
    s.train_sequence_accuracy = mean(|r| r.training_sequence_accuracy);
    if let Some(v) = rows.iter().rev().find(|r| r.validation_loss.is_some()) {
        s.val_loss = v.validation_loss;
        s.val_token_accuracy = v.validation_token_accuracy;
        s.val_sequence_accuracy = v.validation_sequence_accuracy;
    }
}

/// Reads a JSON file; a missing file is `None`, an unreadable one a warning.
fn read_json(path: &Path, warnings: &mut Vec<String>) -> Option<Value> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            warnings.push(format!("{}: {e}", path.display()));
            return None;
        }
    };
    match serde_json::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            warnings.push(format!("{}: not JSON: {e}", path.display()));
            None
        }
    }
}

/// The run's entry in the lineage file `index.json` beside the run directory. The file is
/// accepted as an array of entries, an object holding such an array (`{"rounds": [...]}`, as
/// `finetune` writes it), or an object keyed by run name; an entry names its run under `name`,
/// `run`, `dir`, `path` or `id`.
fn read_index_entry(dir: &Path, warnings: &mut Vec<String>) -> Option<Map<String, Value>> {
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let index = read_json(&parent.join("index.json"), warnings)?;
    let name = run_name(dir);
    let names_run = |entry: &Map<String, Value>| {
        ["name", "run", "dir", "path", "id"].iter().any(|k| {
            entry
                .get(*k)
                .and_then(Value::as_str)
                .is_some_and(|v| Path::new(v).file_name().is_some_and(|f| f == name.as_str()))
        })
    };
    let find_in = |entries: &[Value]| {
        entries.iter().filter_map(Value::as_object).find(|e| names_run(e)).cloned()
    };
    match index {
        Value::Array(entries) => find_in(&entries),
        Value::Object(map) => map.get(&name).and_then(Value::as_object).cloned().or_else(|| {
            map.values().find_map(|v| match v {
                Value::Array(entries) => find_in(entries),
                Value::Object(by_name) => by_name.get(&name).and_then(Value::as_object).cloned(),
                _ => None,
            })
        }),
        _ => None,
    }
}

/// The first value found under one of `keys`, in the later fact maps first: a dotted key
/// (`train.rows`) is a path; plain keys are looked up at the top level, then one object deep.
fn lookup<'a>(facts: &'a [Map<String, Value>], keys: &[&str]) -> Option<&'a Value> {
    for map in facts.iter().rev() {
        for key in keys {
            if let Some(v) = get_path(map, key) {
                return Some(v);
            }
        }
        for nested in map.values().filter_map(Value::as_object) {
            for key in keys.iter().filter(|k| !k.contains('.')) {
                if let Some(v) = nested.get(*key).filter(|v| !v.is_null()) {
                    return Some(v);
                }
            }
        }
    }
    None
}

/// The non-null value at a dotted path (`train.rows`).
fn get_path<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    let mut parts = key.split('.');
    let mut v = map.get(parts.next()?)?;
    for k in parts {
        v = v.get(k)?;
    }
    Some(v).filter(|v| !v.is_null())
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn value_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A table of cells, written as markdown or CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The comparison table: one row per run, empty cells where a value is unknown.
pub fn comparison_table(runs: &[RunSummary]) -> Table {
    let header = [
        "run",
        "parent",
        "base model",
        "rows",
        "epochs",
        "steps",
        "examples seen",
        "train loss",
        "train token acc",
        "train seq acc",
        "val loss",
        "val token acc",
        "val seq acc",
        "test exact match",
        "test micro F1",
        "test macro F1",
        "held-out recall",
        "seen recall",
        "duration s",
    ];
    let opt = |v: Option<String>| v.unwrap_or_default();
    let num = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
    let int = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
    let rows = runs
        .iter()
        .map(|r| {
            vec![
                r.run.clone(),
                opt(r.parent.clone()),
                opt(r.base_model.clone()),
                int(r.rows),
                r.epochs.map(|e| format!("{e}")).unwrap_or_default(),
                int(r.steps),
                int(r.examples_seen),
                num(r.train_loss),
                num(r.train_token_accuracy),
                num(r.train_sequence_accuracy),
                num(r.val_loss),
                num(r.val_token_accuracy),
                num(r.val_sequence_accuracy),
                num(r.test_exact_match),
                num(r.test_micro_f1),
                num(r.test_macro_f1),
                num(r.heldout_recall),
                num(r.seen_recall),
                r.duration_s.map(|d| format!("{d:.0}")).unwrap_or_default(),
            ]
        })
        .collect();
    Table { header: header.iter().map(|h| h.to_string()).collect(), rows }
}

impl Table {
    /// A GitHub-flavoured markdown table (`|` in cells escaped).
    pub fn to_markdown(&self) -> String {
        let esc = |c: &str| c.replace('|', "\\|");
        let line = |cells: &[String]| {
            format!("| {} |\n", cells.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | "))
        };
        let mut out = line(&self.header);
        out.push_str(&format!("|{}\n", "---|".repeat(self.header.len())));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }

    /// CSV with a header line.
    ///
    /// # Errors
    /// Never in practice (writing to memory); kept for the CSV writer's signature.
    pub fn to_csv(&self) -> Result<String> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let to_err = |e: csv::Error| Error::Invalid(format!("cannot write CSV: {e}"));
        w.write_record(&self.header).map_err(to_err)?;
        for row in &self.rows {
            w.write_record(row).map_err(to_err)?;
        }
        let bytes = w.into_inner().map_err(|e| Error::Invalid(e.to_string()))?;
        Ok(String::from_utf8(bytes).unwrap_or_default())
    }
}

/// The run directories among `paths`: plain files (such as `runs/index.json` matched by a
/// `runs/*` glob) are skipped.
pub fn run_dirs(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths.iter().filter(|p| p.is_dir()).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookup_prefers_later_maps_and_top_level_keys() {
        let hparams = json!({"epochs": 2, "hyperparameters": {"epochs": 5, "base_model": "smol"}});
        let index = json!({"parent": "r1", "final": {"duration_s": "61.5"}});
        let facts = vec![index.as_object().unwrap().clone(), hparams.as_object().unwrap().clone()];
        assert_eq!(lookup(&facts, EPOCHS_KEYS).and_then(value_number), Some(2.0));
        assert_eq!(lookup(&facts, BASE_KEYS).and_then(value_text).as_deref(), Some("smol"));
        assert_eq!(lookup(&facts, PARENT_KEYS).and_then(value_text).as_deref(), Some("r1"));
        assert_eq!(lookup(&facts, DURATION_KEYS).and_then(value_number), Some(61.5));
        assert_eq!(lookup(&facts, ROWS_KEYS), None);
    }

    #[test]
    fn markdown_escapes_pipes_and_keeps_empty_cells() {
        let t = Table {
            header: vec!["a".into(), "b".into()],
            rows: vec![vec!["x|y".into(), String::new()]],
        };
        assert_eq!(t.to_markdown(), "| a | b |\n|---|---|\n| x\\|y |  |\n");
        assert_eq!(t.to_csv().unwrap(), "a,b\nx|y,\n");
    }
}

//! Part-extraction scores: a run's `predictions.jsonl` against gold part lists.
//!
//! Gold comes from either file the pipeline writes (the format is sniffed from the first
//! non-blank byte: `{` means JSONL, anything else CSV):
//!
//! - a JSONL dataset as exported by `jsonl` (legacy `{"prompt","completion"}` or chat
//!   `{"messages"}` lines; the gold parts are [`parse_parts`] of the completion or of the last
//!   assistant message). Ids come from the line-aligned sidecar (`test.jsonl.ids`, or
//!   `test.ids` as `jsonl export` names it; one `source_file#index` per line) when it exists,
//!   else they are the 1-based line numbers;
//! - a labeled CSV from `label` (columns `source_file`, `index` and `List_part`, a JSON array
//!   string); ids are `source_file#index`.
//!
//! Predictions are matched to gold by id, and parts are compared case-insensitively on trimmed
//! names. Definitions (every ratio with a zero denominator is 0):
//!
//! - exact match: the share of scored examples whose predicted part set equals the gold set;
//! - micro P/R/F1: over all (example, part) pairs: `tp` = predicted and gold, `fp` = predicted
//!   only, `fn` = gold only;
//! - macro P/R/F1: the unweighted mean of the per-part P, R and F1 over the parts that occur in
//!   the gold (support ≥ 1). Parts that are only ever predicted count in micro precision and are
//!   listed in the per-part table, but are not averaged;
//! - held-out recall ([`ScoreConfig::heldout_parts`]): recall over the gold mentions of held-out
//!   parts, beside recall over every other ("seen") part.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use records::dataset::{defaults, parse_parts, Example, Role};
use records::run::Prediction;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One gold example: its id and its part list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoldExample {
    pub id: String,
    pub parts: Vec<String>,
}

/// Options of [`score`].
#[derive(Debug, Clone)]
pub struct ScoreConfig {
    /// How many of the worst examples to list. Default 10.
    pub worst: usize,
    /// Canonical names of the parts held out of training; `None` (the default) reports no
    /// held-out split.
    pub heldout_parts: Option<Vec<String>>,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        Self { worst: 10, heldout_parts: None }
    }
}

/// Precision, recall and F1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Prf {
    /// P, R and F1 from counts; a zero denominator gives 0.
    pub fn from_counts(tp: u64, fp: u64, fn_: u64) -> Self {
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fn_);
        Self { precision, recall, f1: f1(precision, recall) }
    }
}

/// The scores of one part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartScore {
    /// The part as first written in the gold (or, for predicted-only parts, the predictions).
    pub part: String,
    /// Scored examples whose gold holds the part.
    pub support: u64,
    /// Scored examples whose prediction holds the part.
    pub predicted: u64,
    /// Examples where both hold it.
    pub tp: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Whether the part is in the held-out list.
    #[serde(default)]
    pub heldout: bool,
}

/// A scored example that was not an exact match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExampleErrors {
    pub id: String,
    pub gold: Vec<String>,
    pub predicted: Vec<String>,
    /// Gold parts the prediction lacks.
    pub missing: Vec<String>,
    /// Predicted parts the gold lacks.
    pub extra: Vec<String>,
    /// The raw completion, for reading what the model wrote.
    pub completion: String,
}

/// Recall (and precision) over one group of parts: held-out or seen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroupScore {
    /// Distinct parts of the group that occur in the scored gold.
    pub parts_in_gold: u64,
    /// Gold mentions (example, part) of the group.
    pub support: u64,
    /// Gold mentions that were predicted.
    pub found: u64,
    /// `found / support`.
    pub recall: f64,
    /// Predicted mentions of the group's parts.
    pub predicted: u64,
    /// `found / predicted`.
    pub precision: f64,
}

/// Held-out versus seen parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldoutScores {
    /// Parts named in the held-out list.
    pub listed: u64,
    pub heldout: GroupScore,
    pub seen: GroupScore,
}

/// Everything [`score`] measures. Serialised as the JSON of `eval score --json` and as a run's
/// `scores.json`, which `eval compare` reads back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreReport {
    /// Examples scored: predictions whose id has gold.
    pub examples: u64,
    /// Predictions whose id is not in the gold (not scored).
    pub unmatched_predictions: u64,
    /// Gold examples without a prediction (not scored).
    pub missing_predictions: u64,
    pub exact_matches: u64,
    pub exact_match: f64,
    pub tp: u64,
    pub fp: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
    pub micro: Prf,
    /// Mean over the parts with gold support.
    #[serde(rename = "macro")]
    pub macro_: Prf,
    /// Parts by support (descending), then name; predicted-only parts (support 0) last.
    pub parts: Vec<PartScore>,
    /// The examples with the most missing plus extra parts, at most [`ScoreConfig::worst`].
    pub worst: Vec<ExampleErrors>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heldout: Option<HeldoutScores>,
}

pub use records::dataset::part_key;

/// Reads `predictions.jsonl` (one [`Prediction`] per line; blank lines are skipped).
///
/// # Errors
/// The file cannot be read, a line is not a prediction, an id occurs twice, or the file holds
/// no prediction; errors name the file and line.
pub fn read_predictions(path: &Path) -> Result<Vec<Prediction>> {
    let text = records::text::read_text(path)?;
    let mut out = Vec::new();
    let mut lines: HashMap<String, u64> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_no = i as u64 + 1;
        let p: Prediction = serde_json::from_str(line)
            .map_err(|e| Error::line(path, line_no, format!("not a prediction: {e}")))?;
        if let Some(first) = lines.insert(p.id.clone(), line_no) {
            let message = format!("id {:?} is predicted twice (first at line {first})", p.id);
            return Err(Error::line(path, line_no, message));
        }
        out.push(p);
    }
    if out.is_empty() {
        return Err(Error::file(path, "no prediction in it"));
    }
    Ok(out)
}

/// Reads gold part lists from a JSONL dataset (with its optional `.ids` sidecar) or a labeled
/// CSV; see the module docs for both formats.
///
/// # Errors
/// The file cannot be read, a line or row does not parse, a required CSV column is missing, an
/// id occurs twice, the file holds no example, or the `.ids` sidecar has a different number of
/// lines than the dataset or a line that is not a review id.
pub fn read_gold(path: &Path) -> Result<Vec<GoldExample>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let gold = if first == Some(&b'{') {
        drop(bytes);
        gold_from_jsonl(&records::text::read_text(path)?, path)?
    } else {
        gold_from_labeled_csv(&bytes[..], path)?
    };
    if gold.is_empty() {
        return Err(Error::file(path, "no gold example in it"));
    }
    Ok(gold)
}

/// The `.ids` sidecar of a dataset: `test.jsonl.ids` when it exists, else `test.ids` (the name
/// `jsonl export` gives it), else `None`.
pub fn ids_sidecar(path: &Path) -> Option<PathBuf> {
    let mut appended = path.as_os_str().to_owned();
    appended.push(".ids");
    [PathBuf::from(appended), path.with_extension("ids")].into_iter().find(|p| p.is_file())
}

fn gold_from_jsonl(text: &str, path: &Path) -> Result<Vec<GoldExample>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut parsed: Vec<(u64, Vec<String>)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_no = i as u64 + 1;
        let example: Example = serde_json::from_str(line).map_err(|e| {
            Error::line(path, line_no, format!("not a legacy, chat or tagging example: {e}"))
        })?;
        let parts = match &example {
            Example::Legacy(ex) => parse_parts(&ex.completion, defaults::STOP),
            Example::Tagged(ex) => ex.parts(),
            Example::Chat(ex) => {
                let answer =
                    ex.messages.iter().rev().find(|m| m.role == Role::Assistant).ok_or_else(
                        || Error::line(path, line_no, "chat example has no assistant message"),
                    )?;
                parse_parts(&answer.content, "")
            }
        };
        parsed.push((line_no, parts));
    }
    let Some(sidecar) = ids_sidecar(path) else {
        let by_line = |(line_no, parts): (u64, _)| GoldExample { id: line_no.to_string(), parts };
        return Ok(parsed.into_iter().map(by_line).collect());
    };
    let ids_text = records::text::read_text(&sidecar)?;
    let ids: Vec<&str> = ids_text.lines().map(str::trim).collect();
    // Line-aligned means one id per dataset line; trailing blank lines are tolerated.
    let filled =
        |lines: &[&str]| lines.iter().rposition(|l| !l.trim().is_empty()).map_or(0, |i| i + 1);
    let (data_lines, id_lines) = (filled(&lines), filled(&ids));
    if id_lines != data_lines {
        return Err(Error::file(
            sidecar.as_path(),
            format!("has {id_lines} ids but {} has {data_lines} lines", path.display()),
        ));
    }
    let mut first_line: HashMap<&str, u64> = HashMap::new();
    let mut out = Vec::with_capacity(parsed.len());
    for (line_no, parts) in parsed {
        let id = ids[line_no as usize - 1];
        id.parse::<records::ReviewId>().map_err(|m| Error::line(&sidecar, line_no, m))?;
        if let Some(first) = first_line.insert(id, line_no) {
            let message = format!("{id} is in the gold twice (first at line {first})");
            return Err(Error::line(&sidecar, line_no, message));
        }
        out.push(GoldExample { id: id.to_owned(), parts });
    }
    Ok(out)
}

fn gold_from_labeled_csv(reader: impl std::io::Read, path: &Path) -> Result<Vec<GoldExample>> {
    Ok(labeled_csv(reader, path)?.into_iter().map(|(g, _)| g).collect())
}

/// The rows of a labeled CSV: each review's id and parts, with its `Review` text when the
/// table has that column (for showing a mention in context).
pub(crate) fn labeled_csv(
    reader: impl std::io::Read,
    path: &Path,
) -> Result<Vec<(GoldExample, Option<String>)>> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let headers = rdr.headers().map_err(|e| Error::line(path, 1, e.to_string()))?.clone();
    let column = |name: &str| {
        headers.iter().position(|h| h.trim() == name).ok_or_else(|| {
            let names: Vec<&str> = headers.iter().collect();
            let shown = records::text::shown_names(&names);
            Error::file(
                path,
                format!(
                    "not a JSONL dataset and not a labeled CSV: no column {name:?} (columns: {})",
                    shown
                ),
            )
        })
    };
    let (file_col, index_col, parts_col) =
        (column("source_file")?, column("index")?, column("List_part")?);
    let review_col = headers.iter().position(|h| h.trim() == "Review");
    let mut out = Vec::new();
    let mut lines: HashMap<String, u64> = HashMap::new();
    for record in rdr.records() {
        let record = record
            .map_err(|e| Error::line(path, e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |col: usize, name: &str| {
            record.get(col).ok_or_else(|| Error::Field {
                path: path.to_owned(),
                line,
                field: name.to_owned(),
                message: "missing".to_owned(),
            })
        };
        let index_text = field(index_col, "index")?.trim();
        // Writers that go through floating point print `12.0`; accept it.
        let index = index_text
            .parse::<i64>()
            .ok()
            .or_else(|| {
                index_text.parse::<f64>().ok().filter(|f| f.fract() == 0.0).map(|f| f as i64)
            })
            .ok_or_else(|| Error::Field {
                path: path.to_owned(),
                line,
                field: "index".to_owned(),
                message: format!("{index_text:?} is not an integer"),
            })?;
        let parts_text = field(parts_col, "List_part")?.trim();
        let parts: Vec<String> = if parts_text.is_empty() {
            Vec::new()
        } else {
            serde_json::from_str(parts_text).map_err(|e| Error::Field {
                path: path.to_owned(),
                line,
                field: "List_part".to_owned(),
                message: format!("not a JSON array of strings: {e}"),
            })?
        };
        let id = records::ReviewId::new(field(file_col, "source_file")?.trim(), index);
        if let Some(first) = lines.insert(id.to_string(), line) {
            return Err(Error::Field {
                path: path.to_owned(),
                line,
                field: "index".to_owned(),
                message: format!("review {id} is in the table twice (first at line {first})"),
            });
        }
        let review = review_col.and_then(|c| record.get(c)).map(str::to_owned);
        out.push((GoldExample { id: id.to_string(), parts }, review));
    }
    Ok(out)
}

/// Reads a part list: one canonical part per line; blank lines and lines starting with `#` are
/// skipped.
///
/// # Errors
/// The file cannot be read.
pub fn read_part_list(path: &Path) -> Result<Vec<String>> {
    let text = records::text::read_text(path)?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// The gold embedded in predictions (`Prediction::gold`), for prediction files written from a
/// labeled input.
///
/// # Errors
/// A prediction carries no gold; the error names its id.
pub fn gold_from_predictions(predictions: &[Prediction]) -> Result<Vec<GoldExample>> {
    predictions
        .iter()
        .map(|p| {
            p.gold.clone().map(|parts| GoldExample { id: p.id.clone(), parts }).ok_or_else(|| {
                Error::Invalid(format!(
                    "prediction {:?} carries no gold parts; pass --gold FILE",
                    p.id
                ))
            })
        })
        .collect()
}

/// Distinct part keys of a list in order, with the first spelling of each.
fn keyed(parts: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for p in parts {
        let key = part_key(p);
        if !key.is_empty() && !out.iter().any(|(k, _)| *k == key) {
            out.push((key, p.trim().to_owned()));
        }
    }
    out
}

#[derive(Default)]
struct Counts {
    name: String,
    support: u64,
    predicted: u64,
    tp: u64,
}

fn counts<'a>(
    parts: &'a mut HashMap<String, Counts>,
    order: &mut Vec<String>,
    key: &str,
    name: &str,
) -> &'a mut Counts {
    if !parts.contains_key(key) {
        order.push(key.to_owned());
    }
    parts
        .entry(key.to_owned())
        .or_insert_with(|| Counts { name: name.to_owned(), ..Counts::default() })
}

/// Scores predictions against gold, matched by id.
///
/// # Errors
/// No prediction has an id in the gold (nothing to score), or the gold repeats an id.
pub fn score(
    predictions: &[Prediction],
    gold: &[GoldExample],
    config: &ScoreConfig,
) -> Result<ScoreReport> {
    let mut gold_by_id: HashMap<&str, &GoldExample> = HashMap::with_capacity(gold.len());
    for g in gold {
        if gold_by_id.insert(g.id.as_str(), g).is_some() {
            return Err(Error::Invalid(format!("gold has id {:?} more than once", g.id)));
        }
    }
    let heldout: Option<HashSet<String>> =
        config.heldout_parts.as_ref().map(|parts| parts.iter().map(|p| part_key(p)).collect());

    let mut parts: HashMap<String, Counts> = HashMap::new();
    // Order of first appearance, so that ties sort the same on every run.
    let mut order: Vec<String> = Vec::new();
    let mut seen_ids: HashSet<&str> = HashSet::new();
    let (mut examples, mut unmatched, mut exact) = (0u64, 0u64, 0u64);
    let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
    let mut errors: Vec<(usize, ExampleErrors)> = Vec::new();

    for p in predictions {
        let Some(g) = gold_by_id.get(p.id.as_str()) else {
            unmatched += 1;
            continue;
        };
        if !seen_ids.insert(p.id.as_str()) {
            return Err(Error::Invalid(format!("predictions have id {:?} more than once", p.id)));
        }
        examples += 1;
        let gold_parts = keyed(&g.parts);
        let pred_parts = keyed(&p.parts);
        let mut missing = Vec::new();
        for (key, name) in &gold_parts {
            counts(&mut parts, &mut order, key, name).support += 1;
            if pred_parts.iter().any(|(k, _)| k == key) {
                counts(&mut parts, &mut order, key, name).tp += 1;
                tp += 1;
            } else {
                missing.push(name.clone());
                fn_ += 1;
            }
        }
        let mut extra = Vec::new();
        for (key, name) in &pred_parts {
            counts(&mut parts, &mut order, key, name).predicted += 1;
            if !gold_parts.iter().any(|(k, _)| k == key) {
                extra.push(name.clone());
                fp += 1;
            }
        }
        if records::dataset::same_parts(&g.parts, &p.parts) {
            exact += 1;
        } else {
            errors.push((
                errors.len(),
                ExampleErrors {
                    id: p.id.clone(),
                    gold: gold_parts.into_iter().map(|(_, n)| n).collect(),
                    predicted: pred_parts.into_iter().map(|(_, n)| n).collect(),
                    missing,
                    extra,
                    completion: p.completion.clone(),
                },
            ));
        }
    }
    if examples == 0 {
        return Err(Error::Invalid(format!(
            "no prediction id matches a gold id ({} predictions, {} gold examples; e.g. prediction \
             id {:?}, gold id {:?})",
            predictions.len(),
            gold.len(),
            predictions.first().map(|p| p.id.as_str()).unwrap_or(""),
            gold.first().map(|g| g.id.as_str()).unwrap_or("")
        )));
    }

    let is_heldout = |key: &str| heldout.as_ref().is_some_and(|h| h.contains(key));
    let mut table: Vec<PartScore> = order
        .iter()
        .map(|key| {
            let c = &parts[key];
            let precision = ratio(c.tp, c.predicted);
            let recall = ratio(c.tp, c.support);
            PartScore {
                part: c.name.clone(),
                support: c.support,
                predicted: c.predicted,
                tp: c.tp,
                precision,
                recall,
                f1: f1(precision, recall),
                heldout: is_heldout(key),
            }
        })
        .collect();
    table.sort_by(|a, b| {
        b.support.cmp(&a.support).then_with(|| part_key(&a.part).cmp(&part_key(&b.part)))
    });

    let gold_parts: Vec<&PartScore> = table.iter().filter(|p| p.support > 0).collect();
    let n = gold_parts.len() as f64;
    let macro_ = if gold_parts.is_empty() {
        Prf { precision: 0.0, recall: 0.0, f1: 0.0 }
    } else {
        Prf {
            precision: gold_parts.iter().map(|p| p.precision).sum::<f64>() / n,
            recall: gold_parts.iter().map(|p| p.recall).sum::<f64>() / n,
            f1: gold_parts.iter().map(|p| p.f1).sum::<f64>() / n,
        }
    };

    let heldout_scores = heldout.as_ref().map(|set| {
        let group = |want_heldout: bool| {
            let members = table.iter().filter(|p| p.heldout == want_heldout);
            let (mut parts_in_gold, mut support, mut found, mut predicted) = (0, 0, 0, 0);
            for p in members {
                parts_in_gold += u64::from(p.support > 0);
                support += p.support;
                found += p.tp;
                predicted += p.predicted;
            }
            GroupScore {
                parts_in_gold,
                support,
                found,
                recall: ratio(found, support),
                predicted,
                precision: ratio(found, predicted),
            }
        };
        HeldoutScores { listed: set.len() as u64, heldout: group(true), seen: group(false) }
    });

    // Worst first: most missing plus extra parts, then input order.
    errors.sort_by(|(ia, a), (ib, b)| {
        (b.missing.len() + b.extra.len()).cmp(&(a.missing.len() + a.extra.len())).then(ia.cmp(ib))
    });
    let worst = errors.into_iter().take(config.worst).map(|(_, e)| e).collect();

    Ok(ScoreReport {
        examples,
        unmatched_predictions: unmatched,
        missing_predictions: gold.iter().filter(|g| !seen_ids.contains(g.id.as_str())).count()
            as u64,
        exact_matches: exact,
        exact_match: ratio(exact, examples),
        tp,
        fp,
        fn_,
        micro: Prf::from_counts(tp, fp, fn_),
        macro_,
        parts: table,
        worst,
        heldout: heldout_scores,
    })
}

/// `num / den`, 0 when `den` is 0.
pub fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// The harmonic mean of precision and recall, 0 when both are 0.
pub fn f1(precision: f64, recall: f64) -> f64 {
    if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    }
}

impl ScoreReport {
    /// The text report with at most `max_parts` rows of the per-part table (`None`: all).
    pub fn to_text(&self, max_parts: Option<usize>) -> String {
        use fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "examples scored  {} ({} predictions without gold, {} gold examples without prediction)",
            self.examples, self.unmatched_predictions, self.missing_predictions
        );
        let _ = writeln!(
            s,
            "exact match      {:.4} ({}/{})",
            self.exact_match, self.exact_matches, self.examples
        );
        let _ = writeln!(
            s,
            "micro            P {:.4}  R {:.4}  F1 {:.4}  (tp {}, fp {}, fn {})",
            self.micro.precision, self.micro.recall, self.micro.f1, self.tp, self.fp, self.fn_
        );
        let gold_parts = self.parts.iter().filter(|p| p.support > 0).count();
        let _ = writeln!(
            s,
            "macro            P {:.4}  R {:.4}  F1 {:.4}  (mean over {gold_parts} gold parts)",
            self.macro_.precision, self.macro_.recall, self.macro_.f1
        );
        if let Some(h) = &self.heldout {
            for (name, g) in [("held-out parts", &h.heldout), ("seen parts", &h.seen)] {
                let _ =
                    writeln!(
                    s,
                    "{name:<16} recall {:.4} ({}/{} mentions of {} parts)  precision {:.4} ({}/{})",
                    g.recall, g.found, g.support, g.parts_in_gold, g.precision, g.found, g.predicted
                );
            }
            let _ = writeln!(s, "                 ({} parts in the held-out list)", h.listed);
        }
        let shown = max_parts.unwrap_or(self.parts.len()).min(self.parts.len());
        let width =
            self.parts[..shown].iter().map(|p| p.part.chars().count()).max().unwrap_or(4).max(4);
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<width$}  {:>7}  {:>7}  {:>7}  {:>6}  {:>6}  {:>6}",
            "part", "support", "pred", "tp", "P", "R", "F1"
        );
        for p in &self.parts[..shown] {
            let mark = if p.heldout { " (held out)" } else { "" };
            let _ = writeln!(
                s,
                "{:<width$}  {:>7}  {:>7}  {:>7}  {:>6.3}  {:>6.3}  {:>6.3}{mark}",
                p.part, p.support, p.predicted, p.tp, p.precision, p.recall, p.f1
            );
        }
        if shown < self.parts.len() {
            let _ = writeln!(s, "... {} more parts (--json lists all)", self.parts.len() - shown);
        }
        if !self.worst.is_empty() {
            let _ = writeln!(s);
            let _ = writeln!(s, "worst examples");
            for e in &self.worst {
                let _ = writeln!(
                    s,
                    "{}  missing: [{}]  extra: [{}]",
                    e.id,
                    e.missing.join(", "),
                    e.extra.join(", ")
                );
            }
        }
        s
    }
}

impl fmt::Display for ScoreReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pred(id: &str, parts: &[&str]) -> Prediction {
        Prediction {
            id: id.to_owned(),
            completion: parts.join(", "),
            parts: parts.iter().map(|s| s.to_string()).collect(),
            gold: None,
            spans: None,
        }
    }

    fn gold(id: &str, parts: &[&str]) -> GoldExample {
        GoldExample { id: id.to_owned(), parts: parts.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn parts_compare_case_insensitively_on_trimmed_names() {
        let r = score(
            &[pred("1", &[" Brake Pad ", "TIRE", "tire"])],
            &[gold("1", &["brake pad", "tire"])],
            &ScoreConfig::default(),
        )
        .unwrap();
        assert_eq!((r.exact_matches, r.tp, r.fp, r.fn_), (1, 2, 0, 0));
        // The gold spelling names the part in the table.
        assert_eq!(r.parts[0].part, "brake pad");
    }

    #[test]
    fn zero_denominators_give_zero_not_nan() {
        // Gold has no parts and the model predicts none: an exact match with no part counts.
        let r = score(&[pred("1", &[])], &[gold("1", &[])], &ScoreConfig::default()).unwrap();
        assert_eq!(r.exact_match, 1.0);
        assert_eq!(r.micro, Prf { precision: 0.0, recall: 0.0, f1: 0.0 });
        assert_eq!(r.macro_.f1, 0.0);
        assert!(r.parts.is_empty());
    }

    #[test]
    fn duplicate_ids_are_errors_and_no_match_is_an_error() {
        let g = [gold("1", &["a"]), gold("1", &["b"])];
        let err = score(&[pred("1", &["a"])], &g, &ScoreConfig::default()).unwrap_err();
        assert!(err.to_string().contains("more than once"), "{err}");
        let err = score(&[pred("9", &["a"])], &g[..1], &ScoreConfig::default()).unwrap_err();
        assert!(err.to_string().contains("no prediction id matches"), "{err}");
    }

    #[test]
    fn csv_gold_accepts_float_indices_and_empty_part_lists() {
        let csv =
            "source_file,index,Review,List_part\nkia.csv,3.0,x,\"[\"\"tire\"\"]\"\nkia.csv,4,y,\n";
        let g = gold_from_labeled_csv(csv.as_bytes(), Path::new("l.csv")).unwrap();
        assert_eq!(g, vec![gold("kia.csv#3", &["tire"]), gold("kia.csv#4", &[])]);
        let bad = "source_file,index,List_part\nkia.csv,x,[]\n";
        let err = gold_from_labeled_csv(bad.as_bytes(), Path::new("l.csv")).unwrap_err();
        assert!(err.to_string().contains("line 2: field \"index\""), "{err}");
    }
}

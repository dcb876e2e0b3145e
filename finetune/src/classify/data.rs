//! Classification data: CSV (with a header row) or JSONL (one object per line), the text and
//! label columns, the label order, and the stratified validation split.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::rng::Rng;
use crate::{Error, Result};

/// Column names tried, in order, when no text column is given.
const TEXT_COLUMNS: [&str; 10] = [
    "text",
    "sentence",
    "review",
    "content",
    "body",
    "message",
    "utterance",
    "query",
    "ticket",
    "comment",
];
/// Column names tried, in order, when no label column is given.
const LABEL_COLUMNS: [&str; 8] =
    ["label", "labels", "category", "class", "intent", "target", "sentiment", "y"];

/// One row: its text, its label name when the file has a label column, and its line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub text: String,
    pub label: Option<String>,
    /// 1-based line of the file (CSV: the record's line).
    pub line: u64,
}

/// A read data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub path: PathBuf,
    pub text_column: String,
    pub label_column: Option<String>,
    pub rows: Vec<Row>,
}

/// Which columns to read; `None` detects them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    pub text: Option<String>,
    pub label: Option<String>,
}

/// Reads a CSV or JSONL file (JSONL when the name ends in `.jsonl` or `.json`). The text
/// column is `columns.text`, else the first of the usual names (`text`, `sentence`, ...), else
/// the column with the longest values; the label column is `columns.label`, else the first of
/// `label`, `category`, `class`, `intent`, ... Integer and boolean labels are read as their
/// text. With `need_label` a missing label column or value is an error.
///
/// # Errors
/// The file is unreadable, a column is missing, a JSONL line is invalid, or a label is missing
/// where one is needed; errors name the file and line.
pub fn read_table(path: &Path, columns: &Columns, need_label: bool) -> Result<Table> {
    let text = records::text::read_text(path)?;
    let jsonl = path.extension().is_some_and(|e| e == "jsonl" || e == "json");
    let (headers, records) =
        if jsonl { parse_jsonl(path, &text)? } else { parse_csv(path, &text)? };
    let missing = |what: &str, name: &str| Error::Example {
        path: path.to_owned(),
        line: 1,
        message: format!("no {what} column {name:?} (columns: {})", headers.join(", ")),
    };
    let label_column = match &columns.label {
        Some(name) if headers.contains(name) => Some(name.clone()),
        Some(name) => return Err(missing("label", name)),
        None => {
            LABEL_COLUMNS.iter().find(|c| headers.iter().any(|h| h == *c)).map(|c| (*c).to_owned())
        }
    };
    if need_label && label_column.is_none() {
        return Err(missing("label", "label (or --label-column)"));
    }
    let text_column = match &columns.text {
        Some(name) if headers.contains(name) => name.clone(),
        Some(name) => return Err(missing("text", name)),
        None => detect_text_column(&headers, &records, label_column.as_deref())
            .ok_or_else(|| missing("text", "text (or --text-column)"))?,
    };
    let ti = headers.iter().position(|h| *h == text_column).unwrap_or(0);
    let li = label_column.as_ref().and_then(|l| headers.iter().position(|h| h == l));
    let mut rows = Vec::with_capacity(records.len());
    for (line, values) in records {
        let text = values.get(ti).cloned().flatten().unwrap_or_default();
        let label = li.and_then(|i| values.get(i).cloned().flatten()).filter(|l| !l.is_empty());
        if need_label && label.is_none() {
            return Err(Error::Example {
                path: path.to_owned(),
                line,
                message: format!(
                    "no value in label column {:?}",
                    label_column.as_deref().unwrap_or("")
                ),
            });
        }
        rows.push(Row { text, label, line });
    }
    Ok(Table { path: path.to_owned(), text_column, label_column, rows })
}

type Records = Vec<(u64, Vec<Option<String>>)>;

fn parse_csv(path: &Path, text: &str) -> Result<(Vec<String>, Records)> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let csv_err = |line: u64, e: csv::Error| Error::Example {
        path: path.to_owned(),
        line,
        message: format!("invalid CSV: {e}"),
    };
    let headers: Vec<String> =
        reader.headers().map_err(|e| csv_err(1, e))?.iter().map(|h| h.trim().to_owned()).collect();
    let mut records = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| csv_err(e.position().map_or(0, |p| p.line()), e))?;
        let line = rec.position().map_or(0, |p| p.line());
        records.push((line, rec.iter().map(|v| Some(v.to_owned())).collect()));
    }
    Ok((headers, records))
}

fn parse_jsonl(path: &Path, text: &str) -> Result<(Vec<String>, Records)> {
    let mut headers: Vec<String> = Vec::new();
    let mut objects = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_no = i as u64 + 1;
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| Error::json(path, line_no, e))?;
        let serde_json::Value::Object(obj) = v else {
            return Err(Error::json(path, line_no, "not a JSON object"));
        };
        for k in obj.keys() {
            if !headers.contains(k) {
                headers.push(k.clone());
            }
        }
        objects.push((line_no, obj));
    }
    let records = objects
        .into_iter()
        .map(|(line, obj)| {
            let values = headers
                .iter()
                .map(|h| match obj.get(h) {
                    Some(serde_json::Value::String(s)) => Some(s.clone()),
                    Some(serde_json::Value::Null) | None => None,
                    Some(other) => Some(other.to_string()),
                })
                .collect();
            (line, values)
        })
        .collect();
    Ok((headers, records))
}

fn detect_text_column(
    headers: &[String],
    records: &Records,
    label: Option<&str>,
) -> Option<String> {
    if let Some(c) = TEXT_COLUMNS.iter().find(|c| headers.iter().any(|h| h.eq_ignore_ascii_case(c)))
    {
        return headers.iter().find(|h| h.eq_ignore_ascii_case(c)).cloned();
    }
    // Otherwise the column with the longest values on the first rows, the label excepted.
    let sample = &records[..records.len().min(200)];
    headers
        .iter()
        .enumerate()
        .filter(|(_, h)| Some(h.as_str()) != label)
        .max_by_key(|(i, _)| {
            sample
                .iter()
                .map(|(_, v)| v.get(*i).cloned().flatten().map_or(0, |s| s.len()))
                .sum::<usize>()
        })
        .map(|(_, h)| h.clone())
}

/// The label order: `given` when set (every label of `tables` must be in it), else the sorted
/// names that occur (numerically when all are integers).
///
/// # Errors
/// A row's label is not among `given`; the error names the file and line.
pub fn label_set(given: Option<&[String]>, tables: &[&Table]) -> Result<Vec<String>> {
    if let Some(given) = given {
        for t in tables {
            for r in &t.rows {
                if let Some(l) = &r.label {
                    if !given.contains(l) {
                        return Err(Error::Example {
                            path: t.path.clone(),
                            line: r.line,
                            message: format!("label {l:?} is not among --labels"),
                        });
                    }
                }
            }
        }
        return Ok(given.to_vec());
    }
    let names = tables.iter().flat_map(|t| t.rows.iter().filter_map(|r| r.label.as_deref()));
    let mut labels: Vec<String> = names.map(str::to_owned).collect();
    labels.sort();
    labels.dedup();
    if labels.iter().all(|l| l.parse::<i64>().is_ok()) {
        labels.sort_by_key(|l| l.parse::<i64>().unwrap_or(0));
    }
    Ok(labels)
}

/// Label indices of a table's rows (rows without a label are skipped).
///
/// # Errors
/// A label is not in `labels`; the error names the file and line.
pub fn label_ids(table: &Table, labels: &[String]) -> Result<Vec<(usize, usize)>> {
    let index: HashMap<&str, usize> =
        labels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
    let mut out = Vec::with_capacity(table.rows.len());
    for (row, r) in table.rows.iter().enumerate() {
        let Some(l) = &r.label else { continue };
        let id = index.get(l.as_str()).copied().ok_or_else(|| Error::Example {
            path: table.path.clone(),
            line: r.line,
            message: format!("label {l:?} is not a label of the model ({})", labels.len()),
        })?;
        out.push((row, id));
    }
    Ok(out)
}

/// Splits example indices `0..labels.len()` into (train, validation), stratified: each class
/// gives `round(n * ratio)` of its `n` examples to validation (at least one when it has two or
/// more, never all). The same seed always gives the same split.
pub fn stratified_split(labels: &[usize], ratio: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l].push(i);
    }
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for (c, mut idx) in by_class.into_iter().enumerate() {
        Rng::derive(seed ^ 0x5917, c as u64).shuffle(&mut idx);
        let n = idx.len();
        let k = if n < 2 { 0 } else { ((n as f64 * ratio).round() as usize).clamp(1, n - 1) };
        valid.extend_from_slice(&idx[..k]);
        train.extend_from_slice(&idx[k..]);
    }
    train.sort_unstable();
    valid.sort_unstable();
    (train, valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_stratified_and_seeded() {
        let labels: Vec<usize> = (0..100).map(|i| usize::from(i >= 80)).collect();
        let (t, v) = stratified_split(&labels, 0.1, 3);
        assert_eq!(v.len(), 10);
        assert_eq!(v.iter().filter(|&&i| labels[i] == 1).count(), 2);
        assert_eq!(t.len() + v.len(), 100);
        assert_eq!(stratified_split(&labels, 0.1, 3), (t, v.clone()));
        assert_ne!(stratified_split(&labels, 0.1, 4).1, v);
    }

    #[test]
    fn columns_are_detected() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("a.csv", "id,text,category\n1,hello there,greet\n", "text", Some("category")),
            ("b.csv", "x,y\nsome long sentence,neg\n", "x", Some("y")),
            ("c.jsonl", "{\"sentence\":\"hi\",\"label\":1}\n", "sentence", Some("label")),
            ("d.csv", "review,stars\nok,5\n", "review", None),
        ];
        for (name, body, text, label) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, body).unwrap();
            let t = read_table(&p, &Columns::default(), false).unwrap();
            assert_eq!(t.text_column, text, "{name}");
            assert_eq!(t.label_column.as_deref(), label, "{name}");
        }
        let p = dir.path().join("c.jsonl");
        let t = read_table(&p, &Columns::default(), true).unwrap();
        assert_eq!(t.rows[0].label.as_deref(), Some("1"));
    }
}

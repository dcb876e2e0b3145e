//! Classification metrics: accuracy, macro and weighted F1, per-class precision, recall, F1 and
//! support, and the confusion matrix.
//!
//! This module has no dependency beyond `std` and `serde`, so that a classification trainer
//! computes its validation metrics through the same code as `eval classify` (build this crate
//! with `default-features = false` to link no plotting code).
//!
//! ## The predictions file (`eval classify --predictions FILE`)
//!
//! JSONL, one example per line, with the true `label` and the `predicted` label, each a string
//! or an integer (integers are read as their decimal text); any other field (`id`, `text`,
//! probabilities) is ignored:
//!
//! ```text
//! {"id": "test.csv#1", "label": "card_arrival", "predicted": "card_arrival"}
//! {"id": "test.csv#2", "label": "card_arrival", "predicted": "lost_or_stolen_card"}
//! {"label": 2, "predicted": 1}
//! ```
//!
//! ## Definitions
//!
//! Rows of the confusion matrix are true labels, columns predicted labels, both in label order.
//! A ratio with a zero denominator is 0. Macro averages are unweighted means over the classes
//! that occur as a true or a predicted label (a listed class that never occurs does not pull the
//! mean down); weighted F1 weights each class's F1 by its support.
//!
//! ```
//! use eval::classification::ClassificationReport;
//!
//! let labels = vec!["a".to_string(), "b".to_string()];
//! // (true, predicted) as label indices.
//! let report = ClassificationReport::from_indices(labels, [(0, 0), (0, 1), (1, 1)]).unwrap();
//! assert_eq!(report.confusion, vec![vec![1, 1], vec![0, 1]]);
//! assert!((report.accuracy - 2.0 / 3.0).abs() < 1e-12);
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::score::{f1, ratio};
use crate::{Error, Result};

/// The scores of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScore {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Examples whose true label is this class.
    pub support: u64,
    /// Examples predicted as this class.
    pub predicted: u64,
}

/// All classification metrics of one predictions set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// Class names in label order (the order of the matrix's rows and columns).
    pub labels: Vec<String>,
    pub total: u64,
    pub correct: u64,
    pub accuracy: f64,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    pub weighted_f1: f64,
    /// One entry per label, in label order.
    pub per_class: Vec<ClassScore>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
}

/// One line of a classification predictions file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassPrediction {
    pub label: String,
    pub predicted: String,
}

impl ClassificationReport {
    /// Computes the metrics from `(true, predicted)` label indices into `labels`.
    ///
    /// # Errors
    /// An index is out of range of `labels`.
    pub fn from_indices(
        labels: Vec<String>,
        pairs: impl IntoIterator<Item = (usize, usize)>,
    ) -> Result<Self> {
        let n = labels.len();
        let mut confusion = vec![vec![0u64; n]; n];
        for (truth, predicted) in pairs {
            let bad = [truth, predicted].into_iter().find(|&i| i >= n);
            if let Some(i) = bad {
                return Err(Error::UnknownLabel {
                    label: format!("index {i} (only {n} labels)"),
                    location: None,
                });
            }
            confusion[truth][predicted] += 1;
        }
        Ok(Self::from_confusion(labels, confusion))
    }

    /// Computes the metrics from `(true, predicted)` label names. `labels` fixes the label order;
    /// `None` takes the sorted set of names that occur (numerically when all are integers).
    ///
    /// # Errors
    /// With `labels` given, a name that is not in it; the error names the pair's position.
    pub fn from_names<S: AsRef<str>>(
        labels: Option<Vec<String>>,
        pairs: &[(S, S)],
    ) -> Result<Self> {
        let labels = match labels {
            Some(l) => l,
            None => sorted_labels(pairs.iter().flat_map(|(a, b)| [a.as_ref(), b.as_ref()])),
        };
        let index: HashMap<&str, usize> =
            labels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
        let mut indices = Vec::with_capacity(pairs.len());
        for (pos, (truth, predicted)) in pairs.iter().enumerate() {
            let find = |name: &str| {
                index.get(name).copied().ok_or_else(|| Error::UnknownLabel {
                    label: name.to_owned(),
                    location: Some(format!("example {}", pos + 1)),
                })
            };
            indices.push((find(truth.as_ref())?, find(predicted.as_ref())?));
        }
        Self::from_indices(labels, indices)
    }

    /// Computes the metrics from a square confusion matrix (`confusion[true][predicted]`).
    ///
    /// # Panics
    /// The matrix is not `labels.len()` × `labels.len()`.
    pub fn from_confusion(labels: Vec<String>, confusion: Vec<Vec<u64>>) -> Self {
        let n = labels.len();
        assert!(
            confusion.len() == n && confusion.iter().all(|r| r.len() == n),
            "confusion matrix must be {n}x{n}"
        );
        let total: u64 = confusion.iter().flatten().sum();
        let correct: u64 = (0..n).map(|i| confusion[i][i]).sum();
        let per_class: Vec<ClassScore> = (0..n)
            .map(|i| {
                let support: u64 = confusion[i].iter().sum();
                let predicted: u64 = confusion.iter().map(|r| r[i]).sum();
                let precision = ratio(confusion[i][i], predicted);
                let recall = ratio(confusion[i][i], support);
                ClassScore {
                    label: labels[i].clone(),
                    precision,
                    recall,
                    f1: f1(precision, recall),
                    support,
                    predicted,
                }
            })
            .collect();
        let present: Vec<&ClassScore> =
            per_class.iter().filter(|c| c.support > 0 || c.predicted > 0).collect();
        let mean = |f: fn(&ClassScore) -> f64| {
            if present.is_empty() {
                0.0
            } else {
                present.iter().map(|c| f(c)).sum::<f64>() / present.len() as f64
            }
        };
        let weighted_f1 = if total == 0 {
            0.0
        } else {
            per_class.iter().map(|c| c.f1 * c.support as f64).sum::<f64>() / total as f64
        };
        Self {
            total,
            correct,
            accuracy: ratio(correct, total),
            macro_precision: mean(|c| c.precision),
            macro_recall: mean(|c| c.recall),
            macro_f1: mean(|c| c.f1),
            weighted_f1,
            per_class,
            confusion,
            labels,
        }
    }
}

/// Distinct names, sorted numerically when every name is an integer, else as text.
pub fn sorted_labels<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut labels: Vec<String> = names.into_iter().map(str::to_owned).collect();
    labels.sort();
    labels.dedup();
    if labels.iter().all(|l| l.parse::<i64>().is_ok()) {
        labels.sort_by_key(|l| l.parse::<i64>().unwrap_or(0));
    }
    labels
}

/// Reads a classification predictions file (format in the module docs).
///
/// # Errors
/// The file cannot be read, a line is not a JSON object, or `label` / `predicted` is missing or
/// neither a string nor an integer; errors name the file, line and field.
pub fn read_class_predictions(path: &Path) -> Result<Vec<ClassPrediction>> {
    let text = records::text::read_text(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_no = i as u64 + 1;
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| Error::line(path, line_no, format!("not JSON: {e}")))?;
        let field = |name: &str| -> Result<String> {
            match value.get(name) {
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                Some(serde_json::Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
                other => Err(Error::Field {
                    path: path.to_owned(),
                    line: line_no,
                    field: name.to_owned(),
                    message: match other {
                        None => "missing".to_owned(),
                        Some(v) => format!("expected a string or an integer, found {v}"),
                    },
                }),
            }
        };
        out.push(ClassPrediction { label: field("label")?, predicted: field("predicted")? });
    }
    Ok(out)
}

/// Reads a label list: one label per line, in label order; blank lines are skipped.
///
/// # Errors
/// The file cannot be read, or a label appears twice.
pub fn read_labels(path: &Path) -> Result<Vec<String>> {
    let text = records::text::read_text(path)?;
    let mut labels: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let label = line.trim();
        if label.is_empty() {
            continue;
        }
        if labels.iter().any(|l| l == label) {
            return Err(Error::line(path, i as u64 + 1, format!("label {label:?} repeated")));
        }
        labels.push(label.to_owned());
    }
    Ok(labels)
}

impl fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "examples      {}", self.total)?;
        writeln!(f, "accuracy      {:.4} ({}/{})", self.accuracy, self.correct, self.total)?;
        writeln!(
            f,
            "macro         P {:.4}  R {:.4}  F1 {:.4}",
            self.macro_precision, self.macro_recall, self.macro_f1
        )?;
        writeln!(f, "weighted F1   {:.4}", self.weighted_f1)?;
        writeln!(f)?;
        let width = self.labels.iter().map(|l| l.chars().count()).max().unwrap_or(5).max(5);
        writeln!(
            f,
            "{:<width$}  {:>7}  {:>7}  {:>6}  {:>6}  {:>6}",
            "label", "support", "pred", "P", "R", "F1"
        )?;
        for c in &self.per_class {
            writeln!(
                f,
                "{:<width$}  {:>7}  {:>7}  {:>6.3}  {:>6.3}  {:>6.3}",
                c.label, c.support, c.predicted, c.precision, c.recall, c.f1
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_three_class_example() {
        // true: a a a b b c ; predicted: a a b b c c
        // confusion (rows true): a=[2,1,0] b=[0,1,1] c=[0,0,1]
        // a: P 2/2=1      R 2/3      F1 2*(1*2/3)/(1+2/3) = 0.8
        // b: P 1/2        R 1/2      F1 0.5
        // c: P 1/2        R 1/1      F1 2*(0.5)/(1.5) = 2/3
        // accuracy 4/6; macro F1 (0.8+0.5+2/3)/3 = 0.655555...
        // weighted F1 (3*0.8 + 2*0.5 + 1*2/3)/6 = (2.4+1+0.666667)/6 = 0.677777...
        let pairs = [("a", "a"), ("a", "a"), ("a", "b"), ("b", "b"), ("b", "c"), ("c", "c")];
        let r = ClassificationReport::from_names(None, &pairs).unwrap();
        assert_eq!(r.labels, ["a", "b", "c"]);
        assert_eq!(r.confusion, vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]);
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} != {b}");
        close(r.accuracy, 4.0 / 6.0);
        close(r.per_class[0].recall, 2.0 / 3.0);
        close(r.per_class[0].f1, 0.8);
        close(r.per_class[2].f1, 2.0 / 3.0);
        close(r.macro_precision, (1.0 + 0.5 + 0.5) / 3.0);
        close(r.macro_recall, (2.0 / 3.0 + 0.5 + 1.0) / 3.0);
        close(r.macro_f1, (0.8 + 0.5 + 2.0 / 3.0) / 3.0);
        close(r.weighted_f1, (3.0 * 0.8 + 2.0 * 0.5 + 2.0 / 3.0) / 6.0);
    }

    #[test]
    fn listed_labels_fix_the_order_and_absent_classes_do_not_lower_macro() {
        let labels: Vec<String> = ["z", "a", "never"].iter().map(|s| s.to_string()).collect();
        let r = ClassificationReport::from_names(Some(labels), &[("a", "a"), ("z", "z")]).unwrap();
        assert_eq!(r.per_class[0].label, "z");
        assert_eq!(r.macro_f1, 1.0);
        let err = ClassificationReport::from_names(None::<Vec<String>>, &[("a", "b")])
            .map(|_| ())
            .and_then(|_| {
                ClassificationReport::from_names(Some(vec!["a".to_string()]), &[("a", "b")])
                    .map(|_| ())
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "unknown label \"b\" at example 1");
    }

    #[test]
    fn integer_labels_sort_numerically() {
        assert_eq!(sorted_labels(["10", "2", "1", "2"]), ["1", "2", "10"]);
        assert_eq!(sorted_labels(["b", "10", "a"]), ["10", "a", "b"]);
    }
}

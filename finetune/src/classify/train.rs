//! Fine-tuning a sequence classifier, in the spirit of the Hugging Face `Trainer`: AdamW with
//! linear warm-up and decay, gradient clipping, evaluation and saving by steps or epochs, the
//! best model kept by validation macro F1, early stopping.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Device, Tensor};
use eval::classification::ClassificationReport;
use serde::{Deserialize, Serialize};

use crate::classify::baseline::TfidfLogReg;
use crate::classify::data::{label_ids, label_set, read_table, stratified_split, Columns, Table};
use crate::classify::model::{ClassifierDir, SequenceClassifier};
use crate::classify::predict::{argmax, encode_texts, make_batch, probabilities};
use crate::model_dir::Params;
use crate::models::bert::Dropout;
use crate::progress::Reporter;
use crate::trainer::{self, RunConfig, Task};
pub use crate::trainer::{EvalStrategy, Padding, SaveStrategy, LOG_FILE};
use crate::{Error, Result};

/// Hyper-parameters of a classifier run (the shared loop's, [`trainer::HParams`]).
pub type ClassifyHParams = trainer::HParams;

/// Everything `classify train` needs.
#[derive(Debug, Clone)]
pub struct ClassifyConfig {
    pub base: PathBuf,
    pub train: PathBuf,
    /// Validation file; a stratified split of `train` when absent.
    pub valid: Option<PathBuf>,
    /// A test file scored once at the end (`test_metrics.json`).
    pub test: Option<PathBuf>,
    pub out: PathBuf,
    pub columns: Columns,
    /// The label order; the sorted names of the data when absent.
    pub labels: Option<Vec<String>>,
    pub hparams: ClassifyHParams,
    /// Also train and score the TF-IDF + logistic-regression baseline.
    pub baseline: bool,
    /// Continue from the newest resumable checkpoint in `out` (see [`train`]).
    pub resume: bool,
    /// Stop after this optimizer step as if killed there (the run stays resumable; for tests).
    pub stop_after: Option<u64>,
    pub device: Device,
}

/// What a run reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifySummary {
    pub labels: usize,
    pub train_examples: usize,
    pub valid_examples: usize,
    pub steps: u64,
    pub total_steps: u64,
    pub stopped_early: bool,
    pub best_step: Option<u64>,
    pub train_seconds: f64,
    pub train_examples_per_second: f64,
    pub valid: ClassificationReport,
    pub test: Option<ClassificationReport>,
    pub baseline_valid: Option<ClassificationReport>,
    pub baseline_test: Option<ClassificationReport>,
}

/// Validation metrics (an `eval::classification` report).
pub const METRICS_FILE: &str = "metrics.json";
/// Test metrics, when a test file is given.
pub const TEST_METRICS_FILE: &str = "test_metrics.json";
/// Baseline metrics (validation, and test when given).
pub const BASELINE_METRICS_FILE: &str = "baseline_metrics.json";
/// The human-readable run summary.
pub const INFO_FILE: &str = "training_info.txt";

struct Split {
    texts: Vec<String>,
    seqs: Vec<Vec<u32>>,
    labels: Vec<usize>,
}

fn split_of(table: &Table, rows: &[(usize, usize)], tok: &tokenizers::Tokenizer) -> Result<Split> {
    let texts: Vec<String> = rows.iter().map(|&(r, _)| table.rows[r].text.clone()).collect();
    let seqs = encode_texts(tok, &texts)?;
    Ok(Split { texts, seqs, labels: rows.iter().map(|&(_, l)| l).collect() })
}

/// Scores `model` on a split.
///
/// # Errors
/// Tensor errors.
fn evaluate(
    model: &SequenceClassifier,
    split: &Split,
    labels: &[String],
    batch: usize,
    pad: u32,
    device: &Device,
) -> Result<ClassificationReport> {
    let probs = probabilities(model, &split.seqs, batch, pad, device)?;
    let pairs = split.labels.iter().zip(&probs).map(|(&t, p)| (t, argmax(p)));
    ClassificationReport::from_indices(labels.to_vec(), pairs)
        .map_err(|e| Error::Config(e.to_string()))
}

/// Sequence classification as a task of the shared loop.
struct Classification<'a> {
    model: &'a SequenceClassifier,
    base: &'a ClassifierDir,
    train: &'a Split,
    valid: &'a Split,
    lengths: Vec<usize>,
    labels: &'a [String],
    hp: &'a ClassifyHParams,
    pad: u32,
    pad_to: Option<usize>,
    max_length: usize,
    device: &'a Device,
}

impl Task for Classification<'_> {
    type Report = ClassificationReport;

    fn lengths(&self) -> &[usize] {
        &self.lengths
    }

    fn loss(&self, batch: &[usize], step: u64) -> Result<Tensor> {
        let seqs: Vec<&[u32]> = batch.iter().map(|&i| self.train.seqs[i].as_slice()).collect();
        let (ids, mask) = make_batch(&seqs, self.pad, self.pad_to, self.device)?;
        let targets: Vec<u32> = batch.iter().map(|&i| self.train.labels[i] as u32).collect();
        let targets = Tensor::from_vec(targets, batch.len(), self.device)?;
        let dropout = Dropout::new(self.hp.seed, step);
        let logits = self.model.forward(&ids, &mask, Some(&dropout))?;
        Ok(candle_nn::loss::cross_entropy(&logits, &targets)?)
    }

    fn evaluate(&self) -> Result<ClassificationReport> {
        evaluate(
            self.model,
            self.valid,
            self.labels,
            self.hp.eval_batch_size,
            self.pad,
            self.device,
        )
    }

    fn score(&self, report: &ClassificationReport) -> f64 {
        report.macro_f1
    }

    fn score_name(&self) -> &'static str {
        "macro F1"
    }

    fn metric_names(&self) -> &'static [&'static str] {
        &["eval_accuracy", "eval_macro_f1"]
    }

    fn metrics(&self, report: &ClassificationReport) -> Vec<f64> {
        vec![report.accuracy, report.macro_f1]
    }

    fn save_model(&self, dir: &Path, params: &Params) -> Result<()> {
        self.base.save(dir, self.labels, params, self.max_length)
    }
}

/// Fine-tunes a classifier and writes the run directory (see the module docs of
/// [`crate::classify`]).
///
/// # Errors
/// Unreadable inputs, an invalid configuration, an `out` that already holds a run, or a
/// non-finite loss.
pub fn train(cfg: &ClassifyConfig, rep: &Reporter) -> Result<ClassifySummary> {
    let hp = &cfg.hparams;
    hp.validate()?;
    let inputs: Vec<&std::path::Path> = [Some(&cfg.base), Some(&cfg.train)]
        .into_iter()
        .chain([cfg.valid.as_ref(), cfg.test.as_ref()])
        .flatten()
        .map(PathBuf::as_path)
        .collect();
    let resume_from = trainer::claim_out(&cfg.out, cfg.resume, &inputs, "classifier")?;
    let base = ClassifierDir::open(&cfg.base)?;
    let max_length = hp.max_length.min(base.arch.max_positions());
    let tok = base.tokenizer_for(max_length)?;

    let train_table = read_table(&cfg.train, &cfg.columns, true)?;
    let valid_table =
        cfg.valid.as_deref().map(|p| read_table(p, &cfg.columns, true)).transpose()?;
    let mut all: Vec<&Table> = vec![&train_table];
    all.extend(valid_table.as_ref());
    let labels = label_set(cfg.labels.as_deref(), &all)?;
    if labels.len() < 2 {
        return Err(Error::Config(format!("{} labels found; need at least 2", labels.len())));
    }
    let train_rows = label_ids(&train_table, &labels)?;
    let (train_rows, valid_rows, valid_src) = match &valid_table {
        Some(v) => (train_rows, label_ids(v, &labels)?, v),
        None => {
            let ids: Vec<usize> = train_rows.iter().map(|&(_, l)| l).collect();
            let (t, v) = stratified_split(&ids, hp.valid_ratio, hp.seed);
            let pick = |idx: &[usize]| idx.iter().map(|&i| train_rows[i]).collect::<Vec<_>>();
            (pick(&t), pick(&v), &train_table)
        }
    };
    if valid_rows.is_empty() {
        return Err(Error::Config("the validation set is empty".into()));
    }
    let train_split = split_of(&train_table, &train_rows, &tok)?;
    let valid_split = split_of(valid_src, &valid_rows, &tok)?;
    let test = match &cfg.test {
        Some(p) => {
            let t = read_table(p, &cfg.columns, true)?;
            let rows = label_ids(&t, &labels)?;
            Some(split_of(&t, &rows, &tok)?)
        }
        None => None,
    };
    let truncated = train_split.seqs.iter().filter(|s| s.len() >= max_length).count();
    rep.log(&format!(
        "{} labels; {} training, {} validation examples (text column {:?}, label column {:?}); {} reach the {max_length}-token limit",
        labels.len(),
        train_split.seqs.len(),
        valid_split.seqs.len(),
        train_table.text_column,
        train_table.label_column.as_deref().unwrap_or(""),
        truncated
    ));

    let config_file = cfg.base.join(crate::model_dir::CONFIG_FILE);
    let mut files: Vec<&Path> = vec![&config_file, &cfg.train];
    files.extend(cfg.valid.as_deref());
    files.extend(cfg.test.as_deref());
    let fingerprint = trainer::fingerprint(hp, &[&labels.join("\n")], &files)?;
    let (model, params, initialised) = base.load(labels.len(), hp.seed, &cfg.device)?;
    if !initialised.is_empty() {
        rep.log(&format!("initialised {}", initialised.join(", ")));
    }
    let task = Classification {
        model: &model,
        base: &base,
        train: &train_split,
        valid: &valid_split,
        lengths: train_split.seqs.iter().map(Vec::len).collect(),
        labels: &labels,
        hp,
        pad: base.arch.pad_id(),
        pad_to: (hp.padding == Padding::MaxLength).then_some(max_length),
        max_length,
        device: &cfg.device,
    };
    let run = RunConfig {
        out: &cfg.out,
        hparams: hp,
        fingerprint,
        resume_from,
        stop_after: cfg.stop_after,
        name: "classify",
        device: &cfg.device,
    };
    let outcome = trainer::run(&task, &params, &run, rep)?;
    let valid_report = outcome.report.clone();
    write_report(&cfg.out.join(METRICS_FILE), &valid_report)?;
    write_confusion(&cfg.out.join("confusion_matrix.png"), &valid_report, "validation", rep);
    let pad = task.pad;
    let test_report = match &test {
        Some(t) => {
            let r = evaluate(&model, t, &labels, hp.eval_batch_size, pad, &cfg.device)?;
            write_report(&cfg.out.join(TEST_METRICS_FILE), &r)?;
            write_confusion(&cfg.out.join("test_confusion_matrix.png"), &r, "test", rep);
            Some(r)
        }
        None => None,
    };
    let (baseline_valid, baseline_test) = if cfg.baseline {
        let t0 = Instant::now();
        let clf = TfidfLogReg::fit(&train_split.texts, &train_split.labels, labels.len(), hp.seed);
        let score = |s: &Split| {
            let pairs = s.texts.iter().zip(&s.labels).map(|(x, &l)| (l, clf.predict(x)));
            ClassificationReport::from_indices(labels.clone(), pairs)
                .map_err(|e| Error::Config(e.to_string()))
        };
        let v = score(&valid_split)?;
        let t = test.as_ref().map(score).transpose()?;
        rep.log(&format!(
            "baseline tfidf-logreg ({:.1} s): validation accuracy {:.4}, macro F1 {:.4}",
            t0.elapsed().as_secs_f64(),
            v.accuracy,
            v.macro_f1
        ));
        let json = serde_json::json!({"validation": v, "test": t});
        records::atomic::write_bytes_atomic(
            &cfg.out.join(BASELINE_METRICS_FILE),
            &serde_json::to_vec_pretty(&json).unwrap_or_default(),
        )?;
        (Some(v), t)
    } else {
        (None, None)
    };
    let summary = ClassifySummary {
        labels: labels.len(),
        train_examples: train_split.seqs.len(),
        valid_examples: valid_split.seqs.len(),
        steps: outcome.steps,
        total_steps: outcome.total_steps,
        stopped_early: outcome.stopped_early,
        best_step: outcome.best_step,
        train_seconds: outcome.train_seconds,
        train_examples_per_second: outcome.trained_examples as f64
            / outcome.train_seconds.max(1e-9),
        valid: valid_report,
        test: test_report,
        baseline_valid,
        baseline_test,
    };
    write_info(cfg, &base, &params, max_length, &summary)?;
    Ok(summary)
}

fn write_report(path: &Path, r: &ClassificationReport) -> Result<()> {
    let json = serde_json::to_vec_pretty(r).map_err(|e| Error::json(path, 0, e))?;
    records::atomic::write_bytes_atomic(path, &json)?;
    Ok(())
}

/// Draws the confusion matrix; a missing font is a warning, not a failed run.
fn write_confusion(path: &Path, r: &ClassificationReport, what: &str, rep: &Reporter) {
    let config = eval::plot::confusion::ConfusionConfig {
        title: Some(format!("Confusion matrix ({what}, {} examples)", r.total)),
        ..Default::default()
    };
    let result = eval::plot::confusion::render_confusion_png(r, &config)
        .map_err(|e| e.to_string())
        .and_then(|png| records::atomic::write_bytes_atomic(path, &png).map_err(|e| e.to_string()));
    if let Err(e) = result {
        rep.log(&format!("warning: {}: no confusion matrix: {e}", path.display()));
    }
}

fn write_info(
    cfg: &ClassifyConfig,
    base: &ClassifierDir,
    params: &Params,
    max_length: usize,
    s: &ClassifySummary,
) -> Result<()> {
    let hp = &cfg.hparams;
    let mut t = String::new();
    let _ = writeln!(t, "classify train: {}", cfg.out.display());
    let _ = writeln!(
        t,
        "base: {} ({}, {} parameters)",
        cfg.base.display(),
        base.arch.class_name(),
        params.len()
    );
    let _ = writeln!(t, "train: {} ({} examples)", cfg.train.display(), s.train_examples);
    match &cfg.valid {
        Some(v) => {
            let _ = writeln!(t, "validation: {} ({} examples)", v.display(), s.valid_examples);
        }
        None => {
            let _ = writeln!(
                t,
                "validation: stratified {:.0}% of train, seed {} ({} examples)",
                hp.valid_ratio * 100.0,
                hp.seed,
                s.valid_examples
            );
        }
    }
    if let Some(p) = &cfg.test {
        let _ = writeln!(t, "test: {}", p.display());
    }
    let _ = writeln!(t, "labels: {}", s.labels);
    let _ = writeln!(t, "max length: {max_length} tokens");
    let _ = writeln!(t, "hyper-parameters: {}", serde_json::to_string(hp).unwrap_or_default());
    let _ = writeln!(
        t,
        "steps: {}/{}{}; best step {}",
        s.steps,
        s.total_steps,
        if s.stopped_early { " (stopped early)" } else { "" },
        s.best_step.map_or("-".into(), |b| b.to_string())
    );
    let _ = writeln!(
        t,
        "training time: {:.1} s ({:.2} examples/s, evaluation excluded)",
        s.train_seconds, s.train_examples_per_second
    );
    let line = |name: &str, r: &ClassificationReport| {
        format!(
            "{name}: accuracy {:.4}, macro F1 {:.4}, weighted F1 {:.4} ({} examples)\n",
            r.accuracy, r.macro_f1, r.weighted_f1, r.total
        )
    };
    t.push_str(&line("validation", &s.valid));
    if let Some(r) = &s.test {
        t.push_str(&line("test", r));
    }
    if let Some(r) = &s.baseline_valid {
        t.push_str(&line("baseline tfidf-logreg validation", r));
    }
    if let Some(r) = &s.baseline_test {
        t.push_str(&line("baseline tfidf-logreg test", r));
    }
    records::atomic::write_bytes_atomic(&cfg.out.join(INFO_FILE), t.as_bytes())?;
    Ok(())
}

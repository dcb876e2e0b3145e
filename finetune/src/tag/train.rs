//! Fine-tuning a part tagger through the shared loop ([`crate::trainer`]).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use records::dataset::{Example, TaggedExample};
use records::gold::Annotation;
use serde::{Deserialize, Serialize};

use crate::classify::model::ClassifierDir;
use crate::classify::predict::make_batch;
use crate::model_dir::Params;
use crate::models::bert::{BertForTokenClassification, Dropout};
use crate::progress::Reporter;
use crate::tag::data::{Window, Windower, O, TAGS};
use crate::tag::predict::{spans_of, SpanScore};
use crate::trainer::{self, HParams, Padding, RunConfig, Task};
use crate::{Error, Result};

/// Everything `tag train` needs.
#[derive(Debug, Clone)]
pub struct TagConfig {
    /// A BERT-family encoder directory (all-MiniLM-L6-v2, say).
    pub base: PathBuf,
    /// A tagging JSONL (`jsonl export --format tagging`).
    pub train: PathBuf,
    /// Validation examples (tagging JSONL); a `valid_ratio` share of `train` when absent.
    pub valid: Option<PathBuf>,
    /// Hand annotations of validation reviews (`data/gold/*.jsonl`): the validation score is
    /// then the guideline's F1 on the annotated validation reviews, not agreement with the
    /// labeler's spans (the validation file's `.ids` sidecar names its reviews).
    pub annotations: Option<PathBuf>,
    pub out: PathBuf,
    pub hparams: HParams,
    /// The loss weight of tokens the labeler left outside every span (`O`): below 1 trusts the
    /// lexicon's negatives less than its positives (a lexicon misses names; what it finds is
    /// mostly right).
    pub o_weight: f64,
    pub resume: bool,
    /// Stop after this optimizer step as if killed there (the run stays resumable; for tests).
    pub stop_after: Option<u64>,
    pub device: Device,
}

/// A validation report: span-level micro precision, recall and F1, against the labeler's spans
/// or (with annotations) by the guideline's rule against the hand annotations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TagReport {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Reviews scored.
    pub examples: usize,
    /// `annotations` (hand-annotated reviews) or `labeler` (the labeler's spans).
    pub against: String,
}

impl TagReport {
    fn from(score: &SpanScore, examples: usize, against: &str) -> Self {
        Self {
            precision: score.precision(),
            recall: score.recall(),
            f1: score.f1(),
            examples,
            against: against.to_owned(),
        }
    }
}

/// What a run reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagSummary {
    pub train_examples: usize,
    pub train_windows: usize,
    pub valid_examples: usize,
    pub steps: u64,
    pub total_steps: u64,
    pub stopped_early: bool,
    pub best_step: Option<u64>,
    pub train_seconds: f64,
    pub train_windows_per_second: f64,
    pub valid: TagReport,
}

/// Validation metrics of a tagger run.
pub const METRICS_FILE: &str = "metrics.json";
/// The human-readable run summary.
pub const INFO_FILE: &str = "training_info.txt";

/// Tagging examples of a JSONL file with their review ids (from the `.ids` sidecar, else line
/// numbers).
///
/// # Errors
/// The file cannot be read, a line is not a tagging example, or a span does not fit its text;
/// errors name the file and line.
pub fn read_tagged(path: &Path) -> Result<Vec<(String, TaggedExample)>> {
    let examples = crate::data::read_examples(path)?;
    let lines: Vec<u64> = examples.iter().map(|(l, _)| *l).collect();
    let ids = crate::data::example_ids(path, &lines)?;
    let mut out = Vec::with_capacity(examples.len());
    for ((line, ex), id) in examples.into_iter().zip(ids) {
        let Example::Tagged(t) = ex else {
            return Err(Error::json(
                path,
                line,
                "not a tagging example ({\"text\", \"spans\"}): export one with `jsonl export --format tagging`",
            ));
        };
        t.check().map_err(|m| Error::json(path, line, m))?;
        out.push((id, t));
    }
    Ok(out)
}

struct Tagging<'a> {
    model: &'a BertForTokenClassification,
    base: &'a ClassifierDir,
    windows: Vec<Window>,
    lengths: Vec<usize>,
    valid: &'a [(String, TaggedExample)],
    /// The annotations of validation reviews.
    gold: Option<Vec<Annotation>>,
    windower: &'a Windower,
    hp: &'a HParams,
    o_weight: f32,
    pad: u32,
    pad_to: Option<usize>,
    max_length: usize,
    device: &'a Device,
}

impl Task for Tagging<'_> {
    type Report = TagReport;

    fn lengths(&self) -> &[usize] {
        &self.lengths
    }

    fn loss(&self, batch: &[usize], step: u64) -> Result<Tensor> {
        let seqs: Vec<&[u32]> = batch.iter().map(|&i| self.windows[i].ids.as_slice()).collect();
        let (ids, mask) = make_batch(&seqs, self.pad, self.pad_to, self.device)?;
        let (b, t) = ids.dims2()?;
        let mut targets = vec![0u32; b * t];
        let mut weights = vec![0f32; b * t];
        for (r, &i) in batch.iter().enumerate() {
            for (k, tag) in self.windows[i].tags.iter().enumerate() {
                if let Some(tag) = *tag {
                    targets[r * t + k] = tag;
                    weights[r * t + k] = if tag == O { self.o_weight } else { 1.0 };
                }
            }
        }
        let total: f32 = weights.iter().sum();
        let targets = Tensor::from_vec(targets, b * t, self.device)?;
        let weights = Tensor::from_vec(weights, b * t, self.device)?;
        let dropout = Dropout::new(self.hp.seed, step);
        let logits = self.model.forward(&ids, &mask, Some(&dropout))?;
        let nll = crate::loss::cross_entropy(&logits.reshape((b * t, TAGS.len()))?, &targets)?;
        Ok(((nll * weights)?.sum_all()? / f64::from(total.max(1e-6)))?)
    }

    fn evaluate(&self) -> Result<TagReport> {
        let texts: Vec<&str> = self.valid.iter().map(|(_, e)| e.text.as_str()).collect();
        let found = spans_of(
            self.model,
            self.windower,
            &texts,
            self.hp.eval_batch_size,
            self.pad,
            crate::tag::predict::DEFAULT_JOIN,
            self.device,
        )?;
        let mut score = SpanScore::default();
        let mut n = 0;
        match &self.gold {
            Some(gold) => {
                // Scored exactly as `eval score --annotations` scores an extractor.
                let mut extracted = eval::human::Extracted::default();
                for ((id, ex), spans) in self.valid.iter().zip(&found) {
                    let parts = spans.iter().map(|f| ex.text[f.start..f.end].to_lowercase());
                    extracted.parts.insert(id.clone(), parts.collect());
                }
                let s = eval::human::score_annotations(&extracted, gold, "validation", 0);
                Ok(TagReport {
                    precision: s.precision,
                    recall: s.recall,
                    f1: s.f1,
                    examples: s.reviews,
                    against: "annotations".into(),
                })
            }
            None => {
                for ((_, ex), spans) in self.valid.iter().zip(&found) {
                    let got: Vec<(usize, usize)> = spans.iter().map(|f| (f.start, f.end)).collect();
                    let want: Vec<(usize, usize)> =
                        ex.spans.iter().map(|s| (s.start, s.end)).collect();
                    score.add_spans(&got, &want);
                    n += 1;
                }
                Ok(TagReport::from(&score, n, "labeler"))
            }
        }
    }

    fn score(&self, report: &TagReport) -> f64 {
        report.f1
    }

    fn score_name(&self) -> &'static str {
        "F1"
    }

    fn metric_names(&self) -> &'static [&'static str] {
        &["eval_precision", "eval_recall", "eval_f1"]
    }

    fn metrics(&self, report: &TagReport) -> Vec<f64> {
        vec![report.precision, report.recall, report.f1]
    }

    fn save_model(&self, dir: &Path, params: &Params) -> Result<()> {
        let labels: Vec<String> = TAGS.iter().map(|s| (*s).to_owned()).collect();
        self.base.save_as(dir, "BertForTokenClassification", None, &labels, params, self.max_length)
    }
}

/// Fine-tunes a part tagger and writes the run directory: a `BertForTokenClassification`
/// directory that `transformers` loads, `metrics.json`, `log.csv`, `training_info.txt`.
///
/// # Errors
/// Unreadable inputs, an invalid configuration, an `out` that already holds a run, no
/// validation example, or a non-finite loss.
pub fn train(cfg: &TagConfig, rep: &Reporter) -> Result<TagSummary> {
    let hp = &cfg.hparams;
    hp.validate()?;
    if !(cfg.o_weight > 0.0 && cfg.o_weight <= 1.0) {
        return Err(Error::Config(format!("o weight must be in (0, 1], got {}", cfg.o_weight)));
    }
    let inputs: Vec<&Path> = [Some(&cfg.base), Some(&cfg.train)]
        .into_iter()
        .chain([cfg.valid.as_ref(), cfg.annotations.as_ref()])
        .flatten()
        .map(PathBuf::as_path)
        .collect();
    let resume_from = trainer::claim_out(&cfg.out, cfg.resume, &inputs, "tagger")?;
    let base = ClassifierDir::open(&cfg.base)?;
    let max_length = hp.max_length.min(base.arch.max_positions());
    let windower = Windower::new(&base.tokenizer, max_length)?;

    let mut train_examples = read_tagged(&cfg.train)?;
    let valid_examples = match &cfg.valid {
        Some(p) => read_tagged(p)?,
        None => {
            let mut rng = crate::rng::Rng::derive(hp.seed, 0x7A66);
            let n_valid = ((train_examples.len() as f64) * hp.valid_ratio).round() as usize;
            let mut order: Vec<usize> = (0..train_examples.len()).collect();
            rng.shuffle(&mut order);
            let held: std::collections::HashSet<usize> = order[..n_valid].iter().copied().collect();
            let mut valid = Vec::with_capacity(n_valid);
            let mut train = Vec::with_capacity(train_examples.len() - n_valid);
            for (i, e) in train_examples.into_iter().enumerate() {
                if held.contains(&i) {
                    valid.push(e);
                } else {
                    train.push(e);
                }
            }
            train_examples = train;
            valid
        }
    };
    if train_examples.is_empty() {
        return Err(Error::Config(format!("{}: no training example", cfg.train.display())));
    }
    if valid_examples.is_empty() {
        return Err(Error::Config("no validation example".into()));
    }
    let annotations =
        cfg.annotations.as_deref().map(records::gold::read_annotations).transpose()?;
    let gold = match annotations {
        Some(list) => {
            let valid_ids: HashSet<&str> =
                valid_examples.iter().map(|(id, _)| id.as_str()).collect();
            let gold: Vec<Annotation> = list
                .into_iter()
                .filter(|a| valid_ids.contains(a.id().to_string().as_str()))
                .collect();
            if gold.is_empty() {
                return Err(Error::Config(format!(
                    "no validation review is annotated in {} (the validation file's .ids sidecar names its reviews: export it with --only {})",
                    cfg.annotations.as_deref().unwrap_or(Path::new("")).display(),
                    cfg.annotations.as_deref().unwrap_or(Path::new("")).display()
                )));
            }
            Some(gold)
        }
        None => None,
    };
    let texts: Vec<&str> = train_examples.iter().map(|(_, e)| e.text.as_str()).collect();
    let spans: Vec<&[records::dataset::TagSpan]> =
        train_examples.iter().map(|(_, e)| e.spans.as_slice()).collect();
    let windows = windower.windows(&texts, Some(&spans))?;
    let tagged = windows
        .iter()
        .map(|w| w.tags.iter().filter(|t| t.is_some_and(|t| t != O)).count())
        .sum::<usize>();
    rep.log(&format!(
        "{} training reviews in {} windows of at most {max_length} tokens ({tagged} part tokens), {} validation reviews{}",
        train_examples.len(),
        windows.len(),
        valid_examples.len(),
        match &gold {
            Some(g) => format!(" ({} annotated: validation scored by the guideline)", g.len()),
            None => " (scored against the labeler's spans)".into(),
        }
    ));

    let config_file = cfg.base.join(crate::model_dir::CONFIG_FILE);
    let mut files: Vec<&Path> = vec![&config_file, &cfg.train];
    files.extend(cfg.valid.as_deref());
    files.extend(cfg.annotations.as_deref());
    let o_weight = format!("o_weight={}", cfg.o_weight);
    let fingerprint = trainer::fingerprint(hp, &[&TAGS.join("\n"), &o_weight], &files)?;
    let (model, params, initialised) =
        base.load_token_classifier(TAGS.len(), hp.seed, &cfg.device)?;
    if !initialised.is_empty() {
        rep.log(&format!("initialised {}", initialised.join(", ")));
    }
    let task = Tagging {
        model: &model,
        base: &base,
        lengths: windows.iter().map(|w| w.ids.len()).collect(),
        windows,
        valid: &valid_examples,
        gold,
        windower: &windower,
        hp,
        o_weight: cfg.o_weight as f32,
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
        name: "tag",
        device: &cfg.device,
    };
    let outcome = trainer::run(&task, &params, &run, rep)?;
    let metrics = serde_json::to_vec_pretty(&outcome.report)
        .map_err(|e| Error::json(cfg.out.join(METRICS_FILE), 0, e))?;
    records::atomic::write_bytes_atomic(&cfg.out.join(METRICS_FILE), &metrics)?;
    let summary = TagSummary {
        train_examples: train_examples.len(),
        train_windows: task.windows.len(),
        valid_examples: valid_examples.len(),
        steps: outcome.steps,
        total_steps: outcome.total_steps,
        stopped_early: outcome.stopped_early,
        best_step: outcome.best_step,
        train_seconds: outcome.train_seconds,
        train_windows_per_second: outcome.trained_examples as f64 / outcome.train_seconds.max(1e-9),
        valid: outcome.report,
    };
    let mut t = String::new();
    let _ = writeln!(t, "tag train: {}", cfg.out.display());
    let _ = writeln!(t, "base: {} ({} parameters)", cfg.base.display(), params.len());
    let _ = writeln!(
        t,
        "train: {} ({} reviews, {} windows)",
        cfg.train.display(),
        summary.train_examples,
        summary.train_windows
    );
    let _ = writeln!(
        t,
        "validation: {} ({} reviews){}",
        cfg.valid.as_deref().map_or_else(
            || format!("{:.0}% of train, seed {}", hp.valid_ratio * 100.0, hp.seed),
            |p| p.display().to_string()
        ),
        summary.valid_examples,
        cfg.annotations
            .as_deref()
            .map_or(String::new(), |a| format!(", scored against {}", a.display()))
    );
    let _ = writeln!(t, "max length: {max_length} tokens; O weight {}", cfg.o_weight);
    let _ = writeln!(t, "hyper-parameters: {}", serde_json::to_string(hp).unwrap_or_default());
    let _ = writeln!(
        t,
        "steps: {}/{}{}; best step {}",
        summary.steps,
        summary.total_steps,
        if summary.stopped_early { " (stopped early)" } else { "" },
        summary.best_step.map_or("-".into(), |b| b.to_string())
    );
    let _ = writeln!(
        t,
        "training time: {:.1} s ({:.2} windows/s, evaluation excluded)",
        summary.train_seconds, summary.train_windows_per_second
    );
    let v = &summary.valid;
    let _ = writeln!(
        t,
        "validation ({}, {} reviews): precision {:.4}, recall {:.4}, F1 {:.4}",
        v.against, v.examples, v.precision, v.recall, v.f1
    );
    records::atomic::write_bytes_atomic(&cfg.out.join(INFO_FILE), t.as_bytes())?;
    Ok(summary)
}

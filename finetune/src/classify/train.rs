//! Fine-tuning a sequence classifier, in the spirit of the Hugging Face `Trainer`: AdamW with
//! linear warm-up and decay, gradient clipping, evaluation and saving by steps or epochs, the
//! best model kept by validation macro F1, early stopping.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Device, Tensor};
use eval::classification::ClassificationReport;
use serde::{Deserialize, Serialize};

use crate::batch::epoch_batches;
use crate::classify::baseline::TfidfLogReg;
use crate::classify::data::{label_ids, label_set, read_table, stratified_split, Columns, Table};
use crate::classify::model::{ClassifierDir, SequenceClassifier};
use crate::classify::predict::{argmax, encode_texts, make_batch, probabilities};
use crate::model_dir::Params;
use crate::models::bert::Dropout;
use crate::optim::{grad_norm, learning_rate, AdamW, AdamWConfig, Schedule};
use crate::progress::Reporter;
use crate::{Error, Result};

/// When to evaluate on the validation set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvalStrategy {
    /// Only once, after training.
    No,
    /// Every `eval_steps` optimizer steps.
    Steps,
    /// After every epoch.
    Epoch,
}

/// Which weights are written, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SaveStrategy {
    /// The final weights only.
    No,
    /// A `checkpoint-STEP/` model directory every `save_steps` steps; the final weights.
    Steps,
    /// A `checkpoint-STEP/` model directory after every epoch; the final weights.
    Epoch,
    /// The weights of the evaluation with the best macro F1.
    Best,
}

/// How batches are padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Padding {
    /// To the longest sequence of the batch.
    Longest,
    /// To `max_length` always.
    MaxLength,
}

/// Hyper-parameters (recorded in `training_info.txt`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifyHParams {
    pub epochs: usize,
    pub train_batch_size: usize,
    pub eval_batch_size: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    /// Share of the optimizer steps spent warming the learning rate up.
    pub warmup_ratio: f64,
    /// Clip the global gradient norm to this (0 disables).
    pub max_grad_norm: f64,
    /// Tokens per text, special tokens included.
    pub max_length: usize,
    pub padding: Padding,
    pub eval_strategy: EvalStrategy,
    pub eval_steps: u64,
    pub save_strategy: SaveStrategy,
    pub save_steps: u64,
    /// Stop after this many evaluations without a better macro F1.
    pub patience: Option<usize>,
    /// Share of each class held out for validation when no validation file is given.
    pub valid_ratio: f64,
    pub seed: u64,
    /// Stop after this many optimizer steps (the schedule still spans every epoch).
    pub max_steps: Option<u64>,
}

impl Default for ClassifyHParams {
    fn default() -> Self {
        Self {
            epochs: 3,
            train_batch_size: 32,
            eval_batch_size: 64,
            learning_rate: 5e-5,
            weight_decay: 0.01,
            warmup_ratio: 0.1,
            max_grad_norm: 1.0,
            max_length: 128,
            padding: Padding::Longest,
            eval_strategy: EvalStrategy::Epoch,
            eval_steps: 500,
            save_strategy: SaveStrategy::Best,
            save_steps: 500,
            patience: None,
            valid_ratio: 0.1,
            seed: 42,
            max_steps: None,
        }
    }
}

impl ClassifyHParams {
    fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(m.to_owned()));
        if self.epochs == 0 || self.train_batch_size == 0 || self.eval_batch_size == 0 {
            return bad("epochs and batch sizes must be positive");
        }
        if self.max_length < 2 {
            return bad("max length must be at least 2");
        }
        if !(0.0..1.0).contains(&self.valid_ratio) || !(0.0..=1.0).contains(&self.warmup_ratio) {
            return bad("valid ratio must be in [0, 1) and warmup ratio in [0, 1]");
        }
        if self.save_strategy == SaveStrategy::Best && self.eval_strategy == EvalStrategy::No {
            return bad("save strategy best needs an eval strategy (steps or epoch)");
        }
        Ok(())
    }
}

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

/// The loop's position and bookkeeping, saved as `state.json` in resumable checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LoopState {
    /// Optimizer steps done.
    step: u64,
    /// The epoch of the next step, and the next batch's index in it.
    epoch: usize,
    next_batch: usize,
    trained_examples: u64,
    train_time: f64,
    best_f1: Option<f64>,
    best_step: Option<u64>,
    best_report: Option<ClassificationReport>,
    last_report: Option<ClassificationReport>,
    without_improvement: usize,
    /// `log.csv` so far.
    log: String,
    /// Hash of the hyper-parameters, labels, base model and data; a resume must match it.
    fingerprint: String,
}

/// The best model's weights in a checkpoint of `--save-strategy best`.
const BEST_WEIGHTS_FILE: &str = "best.safetensors";
const CHECKPOINT_PREFIX: &str = "checkpoint-";

/// `checkpoint-N` directories of `out` that hold a resumable state, by step.
fn resumable_checkpoints(out: &Path) -> Vec<(u64, PathBuf)> {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(out)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let path = e.ok()?.path();
            let step = path.file_name()?.to_str()?.strip_prefix(CHECKPOINT_PREFIX)?.parse().ok()?;
            crate::checkpoint::is_resumable(&path).then_some((step, path))
        })
        .collect();
    found.sort();
    found
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

/// The per-step log file.
pub const LOG_FILE: &str = "log.csv";
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

/// Fine-tunes a classifier and writes the run directory (see the module docs of
/// [`crate::classify`]).
///
/// # Errors
/// Unreadable inputs, an invalid configuration, an `out` that already holds a run, or a
/// non-finite loss.
pub fn train(cfg: &ClassifyConfig, rep: &Reporter) -> Result<ClassifySummary> {
    let hp = &cfg.hparams;
    hp.validate()?;
    if cfg.out.join(crate::model_dir::WEIGHTS_FILE).exists() {
        return Err(Error::Config(format!(
            "{} already holds a finished model; choose another --out",
            cfg.out.display()
        )));
    }
    let checkpoints = resumable_checkpoints(&cfg.out);
    let resume_from = match (cfg.resume, checkpoints.last()) {
        (true, Some((_, dir))) => Some(dir.clone()),
        (true, None) => {
            return Err(Error::Resume {
                path: cfg.out.clone(),
                message: "no resumable checkpoint (runs save them with --save-strategy steps, epoch or best)".into(),
            })
        }
        (false, Some((step, _))) => {
            return Err(Error::Config(format!(
                "{} holds an unfinished run (checkpoint of step {step}); pass --resume to continue it, or choose another --out",
                cfg.out.display()
            )))
        }
        (false, None) => None,
    };
    let inputs: Vec<&std::path::Path> = [Some(&cfg.base), Some(&cfg.train)]
        .into_iter()
        .chain([cfg.valid.as_ref(), cfg.test.as_ref()])
        .flatten()
        .map(PathBuf::as_path)
        .collect();
    records::atomic::ensure_not_input(&cfg.out, &inputs)?;
    if resume_from.is_none() {
        if let Some(name) =
            crate::model_dir::MODEL_FILES.into_iter().find(|name| cfg.out.join(name).exists())
        {
            return Err(Error::Config(format!(
                "{} is not a run directory but holds {name}; the classifier would write over \
                 it: choose a new or empty --out",
                cfg.out.display()
            )));
        }
    }
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

    let fingerprint = {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(serde_json::to_vec(hp).unwrap_or_default());
        h.update(labels.join("\n"));
        h.update(crate::train::sha256_file(&cfg.base.join(crate::model_dir::CONFIG_FILE))?);
        for p in std::iter::once(&cfg.train).chain(&cfg.valid).chain(&cfg.test) {
            h.update(crate::train::sha256_file(p)?);
        }
        hex::encode(h.finalize())
    };
    let (model, params, initialised) = base.load(labels.len(), hp.seed, &cfg.device)?;
    if !initialised.is_empty() {
        rep.log(&format!("initialised {}", initialised.join(", ")));
    }
    std::fs::create_dir_all(&cfg.out).map_err(|e| Error::io(&cfg.out, e))?;
    let pad = base.arch.pad_id();
    let pad_to = (hp.padding == Padding::MaxLength).then_some(max_length);
    let lengths: Vec<usize> = train_split.seqs.iter().map(Vec::len).collect();
    let steps_per_epoch = lengths.len().div_ceil(hp.train_batch_size) as u64;
    let total_steps = steps_per_epoch * hp.epochs as u64;
    let warmup = (hp.warmup_ratio * total_steps as f64).ceil() as u64;
    let mut opt =
        AdamW::new(&params, AdamWConfig { weight_decay: hp.weight_decay, ..Default::default() })?;

    let mut st = LoopState {
        step: 0,
        epoch: 0,
        next_batch: 0,
        trained_examples: 0,
        train_time: 0.0,
        best_f1: None,
        best_step: None,
        best_report: None,
        last_report: None,
        without_improvement: 0,
        log: String::from(
            "step,epoch,learning_rate,loss,grad_norm,examples_per_second,eval_accuracy,eval_macro_f1,eval_loss_free_seconds\n",
        ),
        fingerprint,
    };
    // The best model's weights (`--save-strategy best`), in parameter order.
    let mut best_weights: Option<Vec<Tensor>> = None;
    if let Some(dir) = &resume_from {
        let saved: LoopState = crate::checkpoint::read_resumable(dir, &params, &mut opt)?;
        if saved.fingerprint != st.fingerprint {
            return Err(Error::Resume {
                path: dir.clone(),
                message:
                    "hyper-parameters, labels, base model or data differ from the checkpoint's"
                        .into(),
            });
        }
        st = saved;
        let best_path = dir.join(BEST_WEIGHTS_FILE);
        if best_path.exists() {
            let tensors = candle_core::safetensors::load(&best_path, &cfg.device)
                .map_err(|e| Error::model(&best_path, e.to_string()))?;
            let ordered = params
                .vars
                .iter()
                .map(|(name, _)| {
                    tensors
                        .get(name)
                        .cloned()
                        .ok_or_else(|| Error::model(&best_path, format!("no tensor {name}")))
                })
                .collect::<Result<Vec<_>>>()?;
            best_weights = Some(ordered);
        }
        rep.log(&format!("resumed from {} (step {})", dir.display(), st.step));
    }
    let log_path = cfg.out.join(LOG_FILE);
    let mut stopped_early = false;
    rep.start_at("classify", hp.max_steps.map_or(total_steps, |m| m.min(total_steps)), st.step);
    'epochs: for epoch in st.epoch..hp.epochs {
        let batches = epoch_batches(&lengths, hp.train_batch_size, hp.seed, epoch);
        let n_batches = batches.len();
        let first = if epoch == st.epoch { st.next_batch } else { 0 };
        for (bi, batch) in batches.into_iter().enumerate().skip(first) {
            let t0 = Instant::now();
            let step = st.step + 1;
            let seqs: Vec<&[u32]> = batch.iter().map(|&i| train_split.seqs[i].as_slice()).collect();
            let (ids, mask) = make_batch(&seqs, pad, pad_to, &cfg.device)?;
            let targets: Vec<u32> = batch.iter().map(|&i| train_split.labels[i] as u32).collect();
            let targets = Tensor::from_vec(targets, batch.len(), &cfg.device)?;
            let dropout = Dropout::new(hp.seed, step);
            let logits = model.forward(&ids, &mask, Some(&dropout))?;
            let loss = candle_nn::loss::cross_entropy(&logits, &targets)?;
            let loss_value = f64::from(loss.to_scalar::<f32>()?);
            if !loss_value.is_finite() {
                return Err(Error::NonFinite {
                    step,
                    loss: loss_value,
                    kept: match resumable_checkpoints(&cfg.out).last() {
                        Some((_, dir)) => {
                            format!("the last checkpoint is kept in {}", dir.display())
                        }
                        None => "no checkpoint was saved yet".into(),
                    },
                });
            }
            let mut store = loss.backward()?;
            let grads: Vec<Option<Tensor>> =
                params.vars.iter().map(|(_, v)| store.remove(v.as_tensor())).collect();
            let gnorm = grad_norm(&grads)?;
            let scale = if hp.max_grad_norm > 0.0 && gnorm > hp.max_grad_norm {
                hp.max_grad_norm / (gnorm + 1e-6)
            } else {
                1.0
            };
            let lr = learning_rate(hp.learning_rate, step, total_steps, warmup, Schedule::Linear);
            opt.step(&params, &grads, lr, scale)?;
            drop(grads);
            let dt = t0.elapsed().as_secs_f64();
            st.step = step;
            (st.epoch, st.next_batch) =
                if bi + 1 == n_batches { (epoch + 1, 0) } else { (epoch, bi + 1) };
            st.train_time += dt;
            st.trained_examples += batch.len() as u64;

            let end_of_epoch = bi + 1 == n_batches;
            let last = step == total_steps || hp.max_steps == Some(step);
            let eval_now = match hp.eval_strategy {
                EvalStrategy::No => false,
                EvalStrategy::Steps => hp.eval_steps > 0 && step.is_multiple_of(hp.eval_steps),
                EvalStrategy::Epoch => end_of_epoch,
            } || (last && hp.eval_strategy != EvalStrategy::No);
            let (mut acc, mut f1, mut eval_s) = (String::new(), String::new(), String::new());
            if eval_now {
                let te = Instant::now();
                let r =
                    evaluate(&model, &valid_split, &labels, hp.eval_batch_size, pad, &cfg.device)?;
                eval_s = format!("{:.1}", te.elapsed().as_secs_f64());
                acc = format!("{:.6}", r.accuracy);
                f1 = format!("{:.6}", r.macro_f1);
                rep.log(&format!(
                    "step {step} (epoch {:.2}): validation accuracy {:.4}, macro F1 {:.4}",
                    step as f64 / steps_per_epoch as f64,
                    r.accuracy,
                    r.macro_f1
                ));
                if st.best_f1.is_none_or(|b| r.macro_f1 > b) {
                    if hp.save_strategy == SaveStrategy::Best {
                        best_weights = Some(
                            params
                                .vars
                                .iter()
                                .map(|(_, v)| v.as_tensor().copy())
                                .collect::<candle_core::Result<Vec<_>>>()?,
                        );
                    }
                    st.best_f1 = Some(r.macro_f1);
                    st.best_step = Some(step);
                    st.best_report = Some(r.clone());
                    st.without_improvement = 0;
                } else {
                    st.without_improvement += 1;
                }
                if hp.patience.is_some_and(|p| st.without_improvement >= p) && !last {
                    stopped_early = true;
                }
                st.last_report = Some(r);
            }
            let _ = writeln!(
                st.log,
                "{step},{:.4},{lr:.6e},{loss_value:.6},{gnorm:.4},{:.2},{acc},{f1},{eval_s}",
                step as f64 / steps_per_epoch as f64,
                batch.len() as f64 / dt.max(1e-9),
            );
            records::atomic::write_bytes_atomic(&log_path, st.log.as_bytes())?;
            rep.update(
                step,
                format!(
                    "loss {loss_value:.4} {:.1} ex/s",
                    st.trained_examples as f64 / st.train_time.max(1e-9)
                ),
            );
            let save_now = match hp.save_strategy {
                SaveStrategy::Steps => hp.save_steps > 0 && step.is_multiple_of(hp.save_steps),
                SaveStrategy::Epoch => end_of_epoch,
                // A resumable checkpoint at every evaluation; the model is saved at the end.
                SaveStrategy::Best => eval_now,
                SaveStrategy::No => false,
            };
            if save_now && !last {
                let dir = cfg.out.join(format!("{CHECKPOINT_PREFIX}{step}"));
                if hp.save_strategy == SaveStrategy::Best {
                    crate::checkpoint::write_resumable(&dir, &st, &params, &opt)?;
                    // The best weights are those of an evaluation: one was just made.
                    if let Some(best) = &best_weights {
                        params.save_values(&dir.join(BEST_WEIGHTS_FILE), best)?;
                    }
                    // Only the newest is needed to resume.
                    for (_, old) in
                        resumable_checkpoints(&cfg.out).iter().filter(|(_, d)| *d != dir)
                    {
                        let _ = std::fs::remove_dir_all(old);
                    }
                } else {
                    base.save(&dir, &labels, &params, max_length)?;
                    crate::checkpoint::write_resumable_state(&dir, &st, &params, &opt)?;
                }
            }
            if cfg.stop_after == Some(step) && !last {
                rep.finish();
                return Err(Error::Config(format!(
                    "stopped after step {step} (--stop-after); resume with --resume"
                )));
            }
            if stopped_early {
                rep.log(&format!(
                    "stopping early at step {step}: no better macro F1 in {} evaluations",
                    st.without_improvement
                ));
                break 'epochs;
            }
            if last {
                break 'epochs;
            }
        }
    }
    rep.finish();

    let mut best_step = st.best_step;
    if hp.save_strategy == SaveStrategy::Best {
        if let (Some(s), Some(snapshot)) = (st.best_step, best_weights.take()) {
            if s != st.step {
                restore(&params, &snapshot)?;
                rep.log(&format!("kept the best model (step {s})"));
            }
        }
    } else {
        best_step = None;
    }
    let valid_report = match (hp.save_strategy, st.best_report.clone(), st.last_report.clone()) {
        (SaveStrategy::Best, Some(r), _) => r,
        (_, _, Some(r)) if hp.eval_strategy != EvalStrategy::No => r,
        _ => evaluate(&model, &valid_split, &labels, hp.eval_batch_size, pad, &cfg.device)?,
    };
    base.save(&cfg.out, &labels, &params, max_length)?;
    if hp.save_strategy == SaveStrategy::Best {
        // The finished model is written: the resumable checkpoints are no longer needed.
        for (_, dir) in resumable_checkpoints(&cfg.out) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    write_report(&cfg.out.join(METRICS_FILE), &valid_report)?;
    write_confusion(&cfg.out.join("confusion_matrix.png"), &valid_report, "validation", rep);
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
        steps: st.step,
        total_steps,
        stopped_early,
        best_step,
        train_seconds: st.train_time,
        train_examples_per_second: st.trained_examples as f64 / st.train_time.max(1e-9),
        valid: valid_report,
        test: test_report,
        baseline_valid,
        baseline_test,
    };
    write_info(cfg, &base, &params, max_length, &summary)?;
    Ok(summary)
}

fn restore(params: &Params, snapshot: &[Tensor]) -> Result<()> {
    for ((_, var), t) in params.vars.iter().zip(snapshot) {
        var.set(t)?;
    }
    Ok(())
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

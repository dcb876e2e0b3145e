//! The training loop of the encoder tasks, in the spirit of the Hugging Face `Trainer`: AdamW
//! with linear warm-up and decay, gradient clipping, a stop on a non-finite loss, evaluation and
//! saving by steps or epochs, the best model kept by a validation score, early stopping,
//! resumable checkpoints and a per-step `log.csv`.
//!
//! A task ([`Task`]) supplies what differs: the training examples' lengths (batches group
//! similar lengths), the loss of a batch, a validation report and the score that ranks reports,
//! and how a model directory is written. Sequence classification
//! ([`crate::classify::train`]) and token classification ([`crate::tag::train`]) both run
//! through [`run`]; the run directory's layout is the same for both:
//!
//! - `checkpoint-STEP/`: `state.json` + weights + optimizer moments (resumable), and with
//!   [`SaveStrategy::Best`] the best weights so far (`best.safetensors`); with `steps`/`epoch`
//!   also a model directory;
//! - `log.csv`: `step,epoch,learning_rate,loss,grad_norm,examples_per_second,<metrics>,
//!   eval_loss_free_seconds`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Device, Tensor};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::batch::epoch_batches;
use crate::model_dir::Params;
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
    /// The weights of the evaluation with the best score.
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

/// Hyper-parameters of the loop (recorded in a run's `training_info.txt`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HParams {
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
    /// Stop after this many evaluations without a better score.
    pub patience: Option<usize>,
    /// Share of the training data held out for validation when no validation file is given.
    pub valid_ratio: f64,
    pub seed: u64,
    /// Stop after this many optimizer steps (the schedule still spans every epoch).
    pub max_steps: Option<u64>,
}

impl Default for HParams {
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

impl HParams {
    /// Checks the values that cannot work together.
    ///
    /// # Errors
    /// [`Error::Config`] naming the problem.
    pub fn validate(&self) -> Result<()> {
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

/// What a task supplies to [`run`].
pub trait Task {
    /// A validation report, kept in the loop's state (and so in checkpoints).
    type Report: Clone + Serialize + DeserializeOwned;

    /// The token count of each training example; batches group similar lengths.
    fn lengths(&self) -> &[usize];

    /// The mean loss of the training examples `batch` (indices into [`lengths`](Self::lengths))
    /// at optimizer step `step` (dropout is seeded by the step, so a resumed run replays it).
    ///
    /// # Errors
    /// Tensor errors.
    fn loss(&self, batch: &[usize], step: u64) -> Result<Tensor>;

    /// Scores the current weights on the validation set.
    ///
    /// # Errors
    /// Tensor errors.
    fn evaluate(&self) -> Result<Self::Report>;

    /// The score that ranks reports (higher is better): it picks the best model and drives
    /// patience.
    fn score(&self, report: &Self::Report) -> f64;

    /// The name of the score, for messages (`macro F1`).
    fn score_name(&self) -> &'static str;

    /// The `log.csv` columns of a report (names, and values of one report).
    fn metric_names(&self) -> &'static [&'static str];
    fn metrics(&self, report: &Self::Report) -> Vec<f64>;

    /// Writes a model directory holding `params` (checkpoints of `--save-strategy steps|epoch`
    /// and the finished run).
    ///
    /// # Errors
    /// I/O errors naming the file.
    fn save_model(&self, dir: &Path, params: &Params) -> Result<()>;
}

/// The loop's position and bookkeeping, saved as `state.json` in resumable checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "R: Serialize + DeserializeOwned")]
struct LoopState<R> {
    /// Optimizer steps done.
    step: u64,
    /// The epoch of the next step, and the next batch's index in it.
    epoch: usize,
    next_batch: usize,
    trained_examples: u64,
    train_time: f64,
    /// The best score (the key keeps the name of the first task, classification).
    #[serde(rename = "best_f1")]
    best_score: Option<f64>,
    best_step: Option<u64>,
    best_report: Option<R>,
    last_report: Option<R>,
    without_improvement: usize,
    /// `log.csv` so far.
    log: String,
    /// Hash of the hyper-parameters, labels, base model and data; a resume must match it.
    fingerprint: String,
}

/// The best model's weights in a checkpoint of `--save-strategy best`.
const BEST_WEIGHTS_FILE: &str = "best.safetensors";
const CHECKPOINT_PREFIX: &str = "checkpoint-";
/// The per-step log file.
pub const LOG_FILE: &str = "log.csv";

/// `checkpoint-N` directories of `out` that hold a resumable state, by step.
pub fn resumable_checkpoints(out: &Path) -> Vec<(u64, PathBuf)> {
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

/// Checks that `out` can take a run, before anything is read or written: not one of `inputs`,
/// not a finished run, not an unfinished one unless `resume`, not a model directory. Returns the
/// checkpoint to resume from.
///
/// # Errors
/// [`Error::Config`] / [`Error::Resume`] saying what to do instead.
pub fn claim_out(
    out: &Path,
    resume: bool,
    inputs: &[&Path],
    what: &str,
) -> Result<Option<PathBuf>> {
    if out.join(crate::model_dir::WEIGHTS_FILE).exists() {
        return Err(Error::Config(format!(
            "{} already holds a finished model; choose another --out",
            out.display()
        )));
    }
    let checkpoints = resumable_checkpoints(out);
    let resume_from = match (resume, checkpoints.last()) {
        (true, Some((_, dir))) => Some(dir.clone()),
        (true, None) => {
            return Err(Error::Resume {
                path: out.to_owned(),
                message: "no resumable checkpoint (runs save them with --save-strategy steps, epoch or best)".into(),
            })
        }
        (false, Some((step, _))) => {
            return Err(Error::Config(format!(
                "{} holds an unfinished run (checkpoint of step {step}); pass --resume to continue it, or choose another --out",
                out.display()
            )))
        }
        (false, None) => None,
    };
    records::atomic::ensure_not_input(out, inputs)?;
    if resume_from.is_none() {
        if let Some(name) =
            crate::model_dir::MODEL_FILES.into_iter().find(|name| out.join(name).exists())
        {
            return Err(Error::Config(format!(
                "{} is not a run directory but holds {name}; the {what} would write over it: \
                 choose a new or empty --out",
                out.display()
            )));
        }
    }
    Ok(resume_from)
}

/// Where and how [`run`] runs.
#[derive(Debug, Clone)]
pub struct RunConfig<'a> {
    pub out: &'a Path,
    pub hparams: &'a HParams,
    /// Hash of everything that must not change across a resume.
    pub fingerprint: String,
    /// From [`claim_out`].
    pub resume_from: Option<PathBuf>,
    /// Stop after this optimizer step as if killed there (the run stays resumable; for tests).
    pub stop_after: Option<u64>,
    /// The progress bar's name.
    pub name: &'static str,
    pub device: &'a Device,
}

/// What a run reached. The weights in `params` are the kept model's (the best evaluation's with
/// [`SaveStrategy::Best`], else the last step's); the run directory holds it (written by
/// [`Task::save_model`]) and no resumable checkpoint is left with `best`.
#[derive(Debug, Clone)]
pub struct Outcome<R> {
    pub steps: u64,
    pub total_steps: u64,
    pub steps_per_epoch: u64,
    pub stopped_early: bool,
    /// The kept model's step (`--save-strategy best` only).
    pub best_step: Option<u64>,
    /// The kept model's report: the best with `best`, else the last evaluation's (an evaluation
    /// is made when the run never evaluated).
    pub report: R,
    pub train_seconds: f64,
    pub trained_examples: u64,
}

/// Trains `params` on `task` (see the module docs).
///
/// # Errors
/// A non-finite loss ([`Error::NonFinite`], the last checkpoint kept), a checkpoint that does not
/// match the run, tensor and I/O errors; `stop_after` ends with an error saying how to resume.
pub fn run<T: Task>(
    task: &T,
    params: &Params,
    cfg: &RunConfig<'_>,
    rep: &Reporter,
) -> Result<Outcome<T::Report>> {
    let hp = cfg.hparams;
    std::fs::create_dir_all(cfg.out).map_err(|e| Error::io(cfg.out, e))?;
    let lengths = task.lengths();
    let steps_per_epoch = lengths.len().div_ceil(hp.train_batch_size) as u64;
    let total_steps = steps_per_epoch * hp.epochs as u64;
    let warmup = (hp.warmup_ratio * total_steps as f64).ceil() as u64;
    let mut opt =
        AdamW::new(params, AdamWConfig { weight_decay: hp.weight_decay, ..Default::default() })?;
    let mut header = String::from("step,epoch,learning_rate,loss,grad_norm,examples_per_second");
    for name in task.metric_names() {
        header.push(',');
        header.push_str(name);
    }
    header.push_str(",eval_loss_free_seconds\n");
    let mut st: LoopState<T::Report> = LoopState {
        step: 0,
        epoch: 0,
        next_batch: 0,
        trained_examples: 0,
        train_time: 0.0,
        best_score: None,
        best_step: None,
        best_report: None,
        last_report: None,
        without_improvement: 0,
        log: header,
        fingerprint: cfg.fingerprint.clone(),
    };
    // The best model's weights (`--save-strategy best`), in parameter order.
    let mut best_weights: Option<Vec<Tensor>> = None;
    if let Some(dir) = &cfg.resume_from {
        let saved: LoopState<T::Report> = crate::checkpoint::read_resumable(dir, params, &mut opt)?;
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
            best_weights = Some(params.load_values(&best_path, cfg.device)?);
        }
        rep.log(&format!("resumed from {} (step {})", dir.display(), st.step));
    }
    let log_path = cfg.out.join(LOG_FILE);
    let mut stopped_early = false;
    rep.start_at(cfg.name, hp.max_steps.map_or(total_steps, |m| m.min(total_steps)), st.step);
    'epochs: for epoch in st.epoch..hp.epochs {
        let batches = epoch_batches(lengths, hp.train_batch_size, hp.seed, epoch);
        let n_batches = batches.len();
        let first = if epoch == st.epoch { st.next_batch } else { 0 };
        for (bi, batch) in batches.into_iter().enumerate().skip(first) {
            let t0 = Instant::now();
            let step = st.step + 1;
            let loss = task.loss(&batch, step)?;
            let loss_value = f64::from(loss.to_scalar::<f32>()?);
            if !loss_value.is_finite() {
                return Err(Error::NonFinite {
                    step,
                    loss: loss_value,
                    kept: match resumable_checkpoints(cfg.out).last() {
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
            opt.step(params, &grads, lr, scale)?;
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
            let mut cells = vec![String::new(); task.metric_names().len()];
            let mut eval_s = String::new();
            if eval_now {
                let te = Instant::now();
                let r = task.evaluate()?;
                eval_s = format!("{:.1}", te.elapsed().as_secs_f64());
                for (cell, v) in cells.iter_mut().zip(task.metrics(&r)) {
                    *cell = format!("{v:.6}");
                }
                let score = task.score(&r);
                let shown: Vec<String> = task
                    .metric_names()
                    .iter()
                    .zip(task.metrics(&r))
                    .map(|(n, v)| format!("{} {v:.4}", n.strip_prefix("eval_").unwrap_or(n)))
                    .collect();
                rep.log(&format!(
                    "step {step} (epoch {:.2}): validation {}",
                    step as f64 / steps_per_epoch as f64,
                    shown.join(", ")
                ));
                if st.best_score.is_none_or(|b| score > b) {
                    if hp.save_strategy == SaveStrategy::Best {
                        best_weights = Some(params.snapshot()?);
                    }
                    st.best_score = Some(score);
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
            let _ = write!(
                st.log,
                "{step},{:.4},{lr:.6e},{loss_value:.6},{gnorm:.4},{:.2}",
                step as f64 / steps_per_epoch as f64,
                batch.len() as f64 / dt.max(1e-9),
            );
            for cell in &cells {
                st.log.push(',');
                st.log.push_str(cell);
            }
            let _ = writeln!(st.log, ",{eval_s}");
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
                    crate::checkpoint::write_resumable(&dir, &st, params, &opt)?;
                    // The best weights are those of an evaluation: one was just made.
                    if let Some(best) = &best_weights {
                        params.save_values(&dir.join(BEST_WEIGHTS_FILE), best)?;
                    }
                    // Only the newest is needed to resume.
                    for (_, old) in resumable_checkpoints(cfg.out).iter().filter(|(_, d)| *d != dir)
                    {
                        let _ = std::fs::remove_dir_all(old);
                    }
                } else {
                    task.save_model(&dir, params)?;
                    crate::checkpoint::write_resumable_state(&dir, &st, params, &opt)?;
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
                    "stopping early at step {step}: no better {} in {} evaluations",
                    task.score_name(),
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
                params.restore(&snapshot)?;
                rep.log(&format!("kept the best model (step {s})"));
            }
        }
    } else {
        best_step = None;
    }
    let report = match (hp.save_strategy, st.best_report.clone(), st.last_report.clone()) {
        (SaveStrategy::Best, Some(r), _) => r,
        (_, _, Some(r)) if hp.eval_strategy != EvalStrategy::No => r,
        _ => task.evaluate()?,
    };
    task.save_model(cfg.out, params)?;
    if hp.save_strategy == SaveStrategy::Best {
        // The finished model is written: the resumable checkpoints are no longer needed.
        for (_, dir) in resumable_checkpoints(cfg.out) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    Ok(Outcome {
        steps: st.step,
        total_steps,
        steps_per_epoch,
        stopped_early,
        best_step,
        report,
        train_seconds: st.train_time,
        trained_examples: st.trained_examples,
    })
}

/// A SHA-256 over the JSON of `hparams`, `extra` strings and the files' contents: the
/// fingerprint a resume must match.
///
/// # Errors
/// A file cannot be read.
pub fn fingerprint<H: Serialize>(hparams: &H, extra: &[&str], files: &[&Path]) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(hparams).unwrap_or_default());
    for e in extra {
        h.update(e.as_bytes());
    }
    for p in files {
        h.update(crate::train::sha256_file(p)?);
    }
    Ok(hex::encode(h.finalize()))
}

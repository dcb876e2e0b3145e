//! The training loop: `train --base DIR --train F --valid F --out runs/NAME`.
//!
//! Writes into the run directory, every file atomically: `results.csv` (one row per optimizer
//! step, rewritten after each step), `checkpoints/` (see [`crate::checkpoint`]) while running,
//! and at the end `model.safetensors`, `config.json`, the tokenizer files and `hparams.json`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor};
use records::run::{read_results, write_results_to, ResultsRow};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::batch::{batch_loss, checkpointed_backward, epoch_batches, total_weight, Stats};
use crate::checkpoint::{self, TrainState, CHECKPOINTS_DIR};
use crate::data::{Dataset, Encoded, Encoder};
use crate::model_dir::{copy_model_files, ModelDir, Params, WEIGHTS_FILE};
use crate::models::llama::LlamaForCausalLM;
use crate::optim::{grad_norm, learning_rate, AdamW, AdamWConfig, Schedule};
use crate::progress::Reporter;
use crate::{Error, Result};

/// The results file of a run.
pub const RESULTS_FILE: &str = "results.csv";
/// The hyper-parameter and summary file of a finished run.
pub const HPARAMS_FILE: &str = "hparams.json";

/// The learning rate that `--lr-multiplier` multiplies.
pub const BASE_LEARNING_RATE: f64 = 1e-4;

/// Everything that determines the trained weights. Defaults are the CLI defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HParams {
    /// Passes over the training file (default 2).
    pub epochs: usize,
    /// Examples per micro-batch (default 8).
    pub batch_size: usize,
    /// Micro-batches per optimizer step (default 1).
    pub grad_accum: usize,
    /// Peak learning rate (default [`BASE_LEARNING_RATE`]).
    pub learning_rate: f64,
    /// Linear warm-up steps (default 0).
    pub warmup_steps: u64,
    /// Decay after warm-up (default linear).
    pub schedule: Schedule,
    pub adamw: AdamWConfig,
    /// Global gradient-norm clipping (default 1.0; `None` disables).
    pub max_grad_norm: Option<f64>,
    /// Loss weight of legacy prompt tokens (default 0.01, as the hosted legacy jobs had).
    pub prompt_loss_weight: f32,
    /// Longest sequence in tokens; longer examples lose their first tokens (default 512).
    pub max_seq_len: usize,
    /// Seed of the data order (default 0).
    pub seed: u64,
    /// Evaluate on the validation file every N steps, and at the end (default 0 = end only).
    pub eval_every: u64,
    /// Save a checkpoint every N steps (default 0 = never).
    pub save_every: u64,
    /// Stop after this many evaluations without a better validation loss (default none).
    pub patience: Option<u64>,
}

impl Default for HParams {
    fn default() -> Self {
        Self {
            epochs: 2,
            batch_size: 8,
            grad_accum: 1,
            learning_rate: BASE_LEARNING_RATE,
            warmup_steps: 0,
            schedule: Schedule::Linear,
            adamw: AdamWConfig::default(),
            max_grad_norm: Some(1.0),
            prompt_loss_weight: 0.01,
            max_seq_len: 512,
            seed: 0,
            eval_every: 0,
            save_every: 0,
            patience: None,
        }
    }
}

impl HParams {
    fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(m.to_owned()));
        if self.epochs == 0 {
            return bad("epochs must be at least 1");
        }
        if self.batch_size == 0 || self.grad_accum == 0 {
            return bad("batch size and gradient accumulation must be at least 1");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad("learning rate must be positive");
        }
        if !(0.0..=1.0).contains(&self.prompt_loss_weight) {
            return bad("prompt loss weight must be within 0..=1");
        }
        if self.max_seq_len < 2 {
            return bad("max sequence length must be at least 2");
        }
        Ok(())
    }
}

/// A training run, as `main.rs` builds it from the command line.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Base model directory (Hugging Face shape; a previous run works too).
    pub base: PathBuf,
    pub train: PathBuf,
    pub valid: Option<PathBuf>,
    /// The run directory.
    pub out: PathBuf,
    pub hparams: HParams,
    /// Continue from the run's newest checkpoint (from the start when it has none).
    pub resume: bool,
    /// Stop after this optimizer step as if killed there (the run stays resumable).
    pub stop_after: Option<u64>,
    /// Activation checkpointing: less memory for one extra forward pass of the layers. Not a
    /// hyper-parameter: the trained weights are the same either way, and a run may resume with
    /// the other setting.
    pub grad_checkpoint: bool,
    pub device: Device,
}

/// A data file used by a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataFile {
    pub path: PathBuf,
    pub sha256: String,
    /// Examples trained or evaluated on.
    pub rows: usize,
}

/// What a run did: written into `hparams.json` and returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSummary {
    pub steps: u64,
    pub total_steps: u64,
    /// False when the run stopped early by `stop_after` (resumable).
    pub completed: bool,
    pub stopped_early: bool,
    pub final_training_loss: Option<f64>,
    pub validation_loss: Option<f64>,
    pub validation_token_accuracy: Option<f64>,
    pub validation_sequence_accuracy: Option<f64>,
    pub best_validation_loss: Option<f64>,
    pub best_step: Option<u64>,
    pub boundary_merges: usize,
    pub truncated: usize,
}

/// The contents of `hparams.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub base: PathBuf,
    pub train: DataFile,
    pub valid: Option<DataFile>,
    pub parameters: usize,
    pub hparams: HParams,
    pub summary: TrainSummary,
}

/// Reads a finished run's `hparams.json`.
///
/// # Errors
/// The file is missing or invalid.
pub fn read_run_record(run: &Path) -> Result<RunRecord> {
    crate::model_dir::read_json(&run.join(HPARAMS_FILE))
}

/// SHA-256 of a file, hex.
///
/// # Errors
/// The file cannot be read.
pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Evaluates a model on a dataset (teacher-forced loss and accuracies), batches of similar
/// length.
///
/// # Errors
/// Tensor errors.
pub fn evaluate(
    model: &LlamaForCausalLM,
    ds: &Dataset,
    batch_size: usize,
    device: &Device,
) -> Result<Stats> {
    let mut order: Vec<usize> = (0..ds.examples.len()).collect();
    order.sort_by_key(|&i| ds.examples[i].len());
    let mut stats = Stats::default();
    for chunk in order.chunks(batch_size.max(1)) {
        let exs: Vec<&Encoded> = chunk.iter().map(|&i| &ds.examples[i]).collect();
        let (_, s) = batch_loss(model, &exs, 1.0, device)?;
        stats.add(&s);
    }
    Ok(stats)
}

fn write_results(path: &Path, rows: &[ResultsRow]) -> Result<()> {
    records::atomic::write_atomic(path, |w| write_results_to(rows, w))?;
    Ok(())
}

/// Trains a model; see the module docs for the files written.
///
/// # Errors
/// Unreadable inputs, an invalid configuration, a run directory that already holds another
/// run, a checkpoint that does not match, or a non-finite loss ([`Error::NonFinite`]).
pub fn train(cfg: &TrainConfig, rep: &Reporter) -> Result<TrainSummary> {
    let hp = &cfg.hparams;
    hp.validate()?;
    let base = ModelDir::open(&cfg.base)?;
    let encoder = Encoder::new(
        base.tokenizer.clone(),
        base.chat_template()?,
        hp.prompt_loss_weight,
        hp.max_seq_len,
    );
    let train_ds = encoder.encode_file(&cfg.train)?;
    if train_ds.examples.is_empty() {
        return Err(Error::Config(format!("{}: no trainable example", cfg.train.display())));
    }
    let valid_ds = cfg.valid.as_deref().map(|p| encoder.encode_file(p)).transpose()?;
    if let Some(ds) = valid_ds.as_ref().filter(|ds| ds.examples.is_empty()) {
        // An empty validation set would report a loss of 0: a perfect score that early
        // stopping and comparisons would trust.
        return Err(Error::Config(format!(
            "{}: no validation example; give a non-empty --valid or leave it out",
            ds.path.display()
        )));
    }
    for ds in std::iter::once(&train_ds).chain(valid_ds.as_ref()) {
        if ds.boundary_merges > 0 {
            rep.log(&format!(
                "warning: {}: {} examples tokenise differently across the prompt/completion boundary; trained on the split tokenisation",
                ds.path.display(),
                ds.boundary_merges
            ));
        }
        if ds.truncated > 0 {
            rep.log(&format!(
                "warning: {}: {} examples longer than {} tokens lost their first tokens",
                ds.path.display(),
                ds.truncated,
                hp.max_seq_len
            ));
        }
    }
    let lengths: Vec<usize> = train_ds.examples.iter().map(Encoded::len).collect();
    let batches_per_epoch = lengths.len().div_ceil(hp.batch_size);
    let steps_per_epoch = batches_per_epoch.div_ceil(hp.grad_accum) as u64;
    let total_steps = steps_per_epoch * hp.epochs as u64;

    let train_file = DataFile {
        path: cfg.train.clone(),
        sha256: sha256_file(&cfg.train)?,
        rows: train_ds.examples.len(),
    };
    let valid_file = match (&cfg.valid, &valid_ds) {
        (Some(p), Some(ds)) => {
            Some(DataFile { path: p.clone(), sha256: sha256_file(p)?, rows: ds.examples.len() })
        }
        _ => None,
    };
    let fingerprint = {
        let mut h = Sha256::new();
        h.update(serde_json::to_vec(hp).unwrap_or_default());
        h.update(sha256_file(&cfg.base.join(crate::model_dir::CONFIG_FILE))?);
        h.update(&train_file.sha256);
        h.update(valid_file.as_ref().map_or("", |v| v.sha256.as_str()));
        hex::encode(h.finalize())
    };

    let (model, params) = base.load_model(&cfg.device)?;
    let mut opt = AdamW::new(&params, hp.adamw)?;
    let mut state = TrainState {
        step: 0,
        epoch: 0,
        next_group: 0,
        elapsed_tokens: 0,
        elapsed_examples: 0,
        best_validation_loss: None,
        best_step: None,
        evals_without_improvement: 0,
        fingerprint: fingerprint.clone(),
        epoch_order: Vec::new(),
    };
    let results_path = cfg.out.join(RESULTS_FILE);
    let mut rows: Vec<ResultsRow> = Vec::new();
    let started_before = results_path.exists() || cfg.out.join(CHECKPOINTS_DIR).exists();
    if cfg.resume {
        if cfg.out.join(crate::train::HPARAMS_FILE).exists() {
            return Err(Error::Resume {
                path: cfg.out.clone(),
                message: "the run is already complete".into(),
            });
        }
        if let Some(dir) = checkpoint::latest(&cfg.out)? {
            state = checkpoint::load(&dir, &params, &mut opt)?;
            if state.fingerprint != fingerprint {
                return Err(Error::Resume {
                    path: dir,
                    message: "hyper-parameters, base model or data differ from the checkpoint's"
                        .into(),
                });
            }
            if results_path.exists() {
                rows = read_results(&results_path)?;
                rows.retain(|r| r.step <= state.step);
            }
            rep.log(&format!("resuming {} from step {}", cfg.out.display(), state.step));
        }
    } else if started_before {
        return Err(Error::Config(format!(
            "{} already holds a run; pass --resume to continue it or choose another --out",
            cfg.out.display()
        )));
    }
    records::atomic::ensure_not_input(&cfg.out, &[&cfg.base])?;
    if !started_before {
        // Not a run, but it may be a model directory (or anything else) whose files the run
        // would replace: refuse instead of writing over them.
        let taken = crate::model_dir::MODEL_FILES
            .into_iter()
            .chain([WEIGHTS_FILE, HPARAMS_FILE])
            .find(|name| cfg.out.join(name).exists());
        if let Some(name) = taken {
            return Err(Error::Config(format!(
                "{} is not a run directory but holds {name}; a run would write over it: \
                 choose a new or empty --out",
                cfg.out.display()
            )));
        }
    }
    std::fs::create_dir_all(&cfg.out).map_err(|e| Error::io(&cfg.out, e))?;

    rep.start_at("train", total_steps, state.step);
    let started = Instant::now();
    let mut tokens_here = 0u64;
    let mut stopped_early = false;
    let mut last_valid: Option<Stats> = None;
    let mut last_checkpoint: Option<PathBuf> = checkpoint::latest(&cfg.out)?;
    'epochs: for epoch in state.epoch..hp.epochs {
        let batches = epoch_batches(&lengths, hp.batch_size, hp.seed, epoch);
        if epoch == state.epoch && state.next_group > 0 && state.epoch_order != batches {
            return Err(Error::Resume {
                path: cfg.out.clone(),
                message: "the data order differs from the checkpoint's".into(),
            });
        }
        let groups: Vec<&[Vec<usize>]> = batches.chunks(hp.grad_accum).collect();
        let first = if epoch == state.epoch { state.next_group } else { 0 };
        for (gi, group) in groups.iter().enumerate().skip(first) {
            let step = state.step + 1;
            let micro: Vec<Vec<&Encoded>> =
                group.iter().map(|b| b.iter().map(|&i| &train_ds.examples[i]).collect()).collect();
            let lr =
                learning_rate(hp.learning_rate, step, total_steps, hp.warmup_steps, hp.schedule);
            let stats = match optimizer_step(
                &model,
                &params,
                &mut opt,
                &micro,
                StepOptions {
                    lr,
                    max_grad_norm: hp.max_grad_norm,
                    grad_checkpoint: cfg.grad_checkpoint,
                },
                &cfg.device,
            )? {
                Ok(stats) => stats,
                Err(bad) => return Err(non_finite(step, bad, last_checkpoint.as_deref())),
            };

            state.step = step;
            state.elapsed_tokens += stats.tokens;
            state.elapsed_examples += stats.examples;
            tokens_here += stats.tokens;
            if gi + 1 == groups.len() {
                state.epoch = epoch + 1;
                state.next_group = 0;
                state.epoch_order = Vec::new();
            } else {
                state.epoch = epoch;
                state.next_group = gi + 1;
                state.epoch_order = batches.clone();
            }
            let mut row = ResultsRow {
                step,
                elapsed_tokens: state.elapsed_tokens,
                elapsed_examples: state.elapsed_examples,
                training_loss: stats.loss(),
                training_sequence_accuracy: stats.sequence_accuracy(),
                training_token_accuracy: stats.token_accuracy(),
                validation_loss: None,
                validation_sequence_accuracy: None,
                validation_token_accuracy: None,
            };
            let last = step == total_steps;
            let eval_now = hp.eval_every > 0 && step.is_multiple_of(hp.eval_every);
            if let Some(valid) = valid_ds.as_ref().filter(|_| eval_now || last) {
                let v = evaluate(&model, valid, hp.batch_size, &cfg.device)?;
                row.validation_loss = Some(v.loss());
                row.validation_sequence_accuracy = Some(v.sequence_accuracy());
                row.validation_token_accuracy = Some(v.token_accuracy());
                if state.best_validation_loss.is_none_or(|b| v.loss() < b) {
                    state.best_validation_loss = Some(v.loss());
                    state.best_step = Some(step);
                    state.evals_without_improvement = 0;
                } else {
                    state.evals_without_improvement += 1;
                }
                if hp.patience.is_some_and(|p| state.evals_without_improvement >= p) {
                    stopped_early = !last;
                }
                last_valid = Some(v);
            }
            rep.update(
                step,
                format!(
                    "loss {:.4} acc {:.3} {:.0} tok/s",
                    row.training_loss,
                    row.training_token_accuracy,
                    tokens_here as f64 / started.elapsed().as_secs_f64().max(1e-9)
                ),
            );
            rows.push(row);
            write_results(&results_path, &rows)?;
            if hp.save_every > 0 && step.is_multiple_of(hp.save_every) && !last && !stopped_early {
                last_checkpoint = Some(checkpoint::save(&cfg.out, &state, &params, &opt)?);
            }
            if stopped_early {
                rep.log(&format!(
                    "stopping early at step {step}: no better validation loss in {} evaluations (best {:.4} at step {})",
                    state.evals_without_improvement,
                    state.best_validation_loss.unwrap_or(f64::NAN),
                    state.best_step.unwrap_or(0)
                ));
                break 'epochs;
            }
            if cfg.stop_after == Some(step) && !last {
                rep.finish();
                return Ok(summary(&state, total_steps, false, false, &rows, None, &train_ds));
            }
        }
    }
    rep.finish();

    if last_valid.is_none() {
        if let Some(valid) = &valid_ds {
            last_valid = Some(evaluate(&model, valid, hp.batch_size, &cfg.device)?);
        }
    }
    let summary =
        summary(&state, total_steps, true, stopped_early, &rows, last_valid.as_ref(), &train_ds);
    copy_model_files(&cfg.out, &cfg.base)?;
    params.save(&cfg.out.join(WEIGHTS_FILE))?;
    let record = RunRecord {
        base: cfg.base.clone(),
        train: train_file,
        valid: valid_file,
        parameters: params.len(),
        hparams: hp.clone(),
        summary: summary.clone(),
    };
    let json = serde_json::to_vec_pretty(&record).map_err(|e| Error::json(HPARAMS_FILE, 0, e))?;
    records::atomic::write_bytes_atomic(&cfg.out.join(HPARAMS_FILE), &json)?;
    // The finished weights are written: the checkpoints are no longer needed.
    let _ = std::fs::remove_dir_all(cfg.out.join(CHECKPOINTS_DIR));
    Ok(summary)
}

/// The settings of one optimizer step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOptions {
    /// Learning rate of this step.
    pub lr: f64,
    /// Global gradient-norm clipping (`None` disables).
    pub max_grad_norm: Option<f64>,
    /// Activation checkpointing ([`crate::batch::checkpointed_backward`]): one extra forward
    /// pass of the layers, activations of one layer alive at a time.
    pub grad_checkpoint: bool,
}

/// One optimizer step over the micro-batches of a group (gradient accumulation): forward,
/// backward, global-norm clipping to `max_grad_norm`, AdamW. The inner result is the step's
/// statistics, or the non-finite loss or gradient norm that stopped it before the update.
///
/// # Errors
/// Tensor errors.
pub fn optimizer_step(
    model: &LlamaForCausalLM,
    params: &Params,
    opt: &mut AdamW,
    micro: &[Vec<&Encoded>],
    o: StepOptions,
    device: &Device,
) -> Result<std::result::Result<Stats, f64>> {
    let all: Vec<&Encoded> = micro.iter().flatten().copied().collect();
    let norm = total_weight(&all);
    let mut grads: Vec<Option<Tensor>> = vec![None; params.vars.len()];
    let mut stats = Stats::default();
    // Dense-layer weight gradients accumulate in these slots over the micro-batches, in place;
    // the rest (norms, biases, embedding rows) comes through candle's gradient stores.
    let captured: std::collections::HashMap<_, _> =
        model.capture_weight_grads().into_iter().collect();
    let add = |slot: &mut Option<Tensor>, g: Tensor| -> Result<()> {
        *slot = Some(match slot.take() {
            Some(acc) => (acc + g)?,
            None => g,
        });
        Ok(())
    };
    for mb in micro {
        let mut collect = |store: &mut GradStore| -> Result<()> {
            for (slot, (_, var)) in grads.iter_mut().zip(&params.vars) {
                if let Some(g) = store.remove(var.as_tensor()) {
                    add(slot, g)?;
                }
            }
            Ok(())
        };
        let s = if o.grad_checkpoint {
            checkpointed_backward(model, mb, norm, device, &mut collect)?
        } else {
            let (loss, s) = batch_loss(model, mb, norm, device)?;
            if s.weighted_nll.is_finite() {
                collect(&mut loss.backward()?)?;
            }
            s
        };
        if !s.weighted_nll.is_finite() {
            // Leave no partial sums behind for the next step.
            captured.values().for_each(|slot| drop(slot.take()));
            return Ok(Err(s.loss()));
        }
        stats.add(&s);
    }
    for (slot, (_, var)) in grads.iter_mut().zip(&params.vars) {
        if let Some(g) = captured.get(&var.as_tensor().id()).and_then(|c| c.take()) {
            add(slot, Tensor::from_vec(g, var.shape(), device)?)?;
        }
    }
    let gnorm = grad_norm(&grads)?;
    if !gnorm.is_finite() {
        return Ok(Err(gnorm));
    }
    let scale = match o.max_grad_norm {
        Some(max) if gnorm > max => max / (gnorm + 1e-6),
        _ => 1.0,
    };
    opt.step(params, &grads, o.lr, scale)?;
    Ok(Ok(stats))
}

fn non_finite(step: u64, loss: f64, kept: Option<&Path>) -> Error {
    let kept = match kept {
        Some(dir) => format!("the last good checkpoint is kept in {}", dir.display()),
        None => "no checkpoint was saved yet (use --save-every)".to_owned(),
    };
    Error::NonFinite { step, loss, kept }
}

fn summary(
    state: &TrainState,
    total_steps: u64,
    completed: bool,
    stopped_early: bool,
    rows: &[ResultsRow],
    valid: Option<&Stats>,
    train: &Dataset,
) -> TrainSummary {
    TrainSummary {
        steps: state.step,
        total_steps,
        completed,
        stopped_early,
        final_training_loss: rows.last().map(|r| r.training_loss),
        validation_loss: valid.map(Stats::loss),
        validation_token_accuracy: valid.map(Stats::token_accuracy),
        validation_sequence_accuracy: valid.map(Stats::sequence_accuracy),
        best_validation_loss: state.best_validation_loss,
        best_step: state.best_step,
        boundary_merges: train.boundary_merges,
        truncated: train.truncated,
    }
}

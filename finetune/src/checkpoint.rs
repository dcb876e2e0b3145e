//! Training checkpoints: everything an exact resume needs.
//!
//! `RUN/checkpoints/step-000040/` holds `model.safetensors` (weights), `optimizer.safetensors`
//! (AdamW moments and step count) and `state.json` ([`TrainState`]: step, epoch and position in
//! it, the epoch's data order, elapsed counts, early-stopping state, the fingerprint of the
//! hyper-parameters and data). `RUN/checkpoints/latest` names the newest complete checkpoint and
//! is written last, atomically, so a run killed at any moment leaves a consistent checkpoint.
//! The data order needs no saved generator state: it is a pure function of the seed and the
//! epoch ([`crate::batch::epoch_batches`]), recorded in the state and checked on resume.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::model_dir::{read_json, Params, WEIGHTS_FILE};
use crate::optim::AdamW;
use crate::{Error, Result};

/// The directory holding a run's checkpoints.
pub const CHECKPOINTS_DIR: &str = "checkpoints";
const LATEST_FILE: &str = "latest";
const OPTIMIZER_FILE: &str = "optimizer.safetensors";
const STATE_FILE: &str = "state.json";
/// How many checkpoints are kept (the newest ones).
const KEEP: usize = 2;

/// The training loop's position and bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimizer steps done.
    pub step: u64,
    /// The epoch of the next step.
    pub epoch: usize,
    /// The next step's index inside its epoch.
    pub next_group: usize,
    pub elapsed_tokens: u64,
    pub elapsed_examples: u64,
    pub best_validation_loss: Option<f64>,
    pub best_step: Option<u64>,
    pub evals_without_improvement: u64,
    /// Hash of the hyper-parameters, base model and data; a resume must match it.
    pub fingerprint: String,
    /// The batches (example indices) of the current epoch.
    pub epoch_order: Vec<Vec<usize>>,
}

/// Writes `dir/model.safetensors`, `dir/optimizer.safetensors` and `dir/state.json` (each
/// atomically): what an exact resume of any training loop needs, its loop state being `state`.
///
/// # Errors
/// I/O errors name the file.
pub fn write_resumable<S: Serialize>(
    dir: &Path,
    state: &S,
    params: &Params,
    opt: &AdamW,
) -> Result<()> {
    params.save(&dir.join(WEIGHTS_FILE))?;
    write_resumable_state(dir, state, params, opt)
}

/// [`write_resumable`] without the weights, for a directory that already holds them (a saved
/// model directory of the same parameters).
///
/// # Errors
/// I/O errors name the file.
pub fn write_resumable_state<S: Serialize>(
    dir: &Path,
    state: &S,
    params: &Params,
    opt: &AdamW,
) -> Result<()> {
    opt.save(params, &dir.join(OPTIMIZER_FILE))?;
    let json =
        serde_json::to_vec_pretty(state).map_err(|e| Error::json(dir.join(STATE_FILE), 0, e))?;
    records::atomic::write_bytes_atomic(&dir.join(STATE_FILE), &json)?;
    Ok(())
}

/// Whether `dir` holds a complete [`write_resumable`] checkpoint (its state is written last).
pub fn is_resumable(dir: &Path) -> bool {
    dir.join(STATE_FILE).is_file()
}

/// Restores a [`write_resumable`] checkpoint into `params` and `opt` and returns its state.
///
/// # Errors
/// Files are missing or do not match the model.
pub fn read_resumable<S: DeserializeOwned>(
    dir: &Path,
    params: &Params,
    opt: &mut AdamW,
) -> Result<S> {
    let state: S = read_json(&dir.join(STATE_FILE))?;
    params.load_from(&dir.join(WEIGHTS_FILE))?;
    opt.load(params, &dir.join(OPTIMIZER_FILE))?;
    Ok(state)
}

/// Saves a checkpoint of step `state.step` and points `latest` at it; older checkpoints beyond
/// the newest two are removed.
///
/// # Errors
/// I/O errors name the file.
pub fn save(run: &Path, state: &TrainState, params: &Params, opt: &AdamW) -> Result<PathBuf> {
    let root = run.join(CHECKPOINTS_DIR);
    let name = format!("step-{:06}", state.step);
    let dir = root.join(&name);
    write_resumable(&dir, state, params, opt)?;
    records::atomic::write_bytes_atomic(&root.join(LATEST_FILE), name.as_bytes())?;
    let mut old: Vec<PathBuf> = std::fs::read_dir(&root)
        .map_err(|e| Error::io(&root, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("step-"))
        })
        .collect();
    old.sort();
    old.truncate(old.len().saturating_sub(KEEP));
    for p in old {
        // Best effort: an old checkpoint left behind costs disk space, not correctness.
        let _ = std::fs::remove_dir_all(p);
    }
    Ok(dir)
}

/// The newest complete checkpoint of a run, if any.
///
/// # Errors
/// `latest` exists but cannot be read.
pub fn latest(run: &Path) -> Result<Option<PathBuf>> {
    let path = run.join(CHECKPOINTS_DIR).join(LATEST_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let name = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    Ok(Some(run.join(CHECKPOINTS_DIR).join(name.trim())))
}

/// Restores a checkpoint into `params` and `opt` and returns its state.
///
/// # Errors
/// Files are missing or do not match the model.
pub fn load(dir: &Path, params: &Params, opt: &mut AdamW) -> Result<TrainState> {
    read_resumable(dir, params, opt)
}

//! Iterative rounds: `partfinder_t_001`, `_002`, ... under a runs directory, each starting
//! from the previous round's weights, with a lineage in `runs/index.json`.
//!
//! Round N+1 trains on the next `rows`-sized slice of the example pool, mixed with the pool
//! examples that round N predicted wrongly (hard examples) as `hard_fraction` of its rows.
//! After training, a round predicts its own training examples to find its hard examples.
//! A round directory holds the run files ([`crate::train`]) plus `train.jsonl` (the exact data
//! it trained on) and `hard.jsonl` (its mistakes).

use std::path::{Path, PathBuf};

use candle_core::Device;
use records::dataset::{defaults, parse_parts, Example};
use serde::{Deserialize, Serialize};

use crate::data::{gold_parts, read_examples};
use crate::predict::Predictor;
use crate::progress::Reporter;
use crate::train::{sha256_file, train, DataFile, HParams, TrainConfig, TrainSummary};
use crate::{Error, Result};

/// The lineage file inside the runs directory.
pub const INDEX_FILE: &str = "index.json";
/// Prefix of round names.
pub const ROUND_PREFIX: &str = "partfinder_t_";

/// One round in `runs/index.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    /// `partfinder_t_001`...
    pub name: String,
    /// The round this one started from (`None` for a first round).
    pub parent: Option<String>,
    /// The model directory the weights came from.
    pub base: PathBuf,
    /// The example pool and the slice of it this round took.
    pub pool: DataFile,
    pub pool_start: usize,
    pub pool_end: usize,
    /// Hard examples of the parent mixed in.
    pub hard_examples: usize,
    /// The composed training file (in the round directory) and validation file.
    pub train: DataFile,
    pub valid: Option<DataFile>,
    pub hparams: HParams,
    pub metrics: TrainSummary,
    /// 1-based pool lines this round predicted wrongly (candidates for the next round).
    pub hard_pool_lines: Vec<u64>,
}

/// `runs/index.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunsIndex {
    pub rounds: Vec<RoundRecord>,
}

impl RunsIndex {
    /// Reads the index of a runs directory (empty when it has none).
    ///
    /// # Errors
    /// The file exists but is invalid.
    pub fn load(runs: &Path) -> Result<Self> {
        let path = runs.join(INDEX_FILE);
        if !path.exists() {
            return Ok(Self::default());
        }
        crate::model_dir::read_json(&path)
    }

    fn save(&self, runs: &Path) -> Result<()> {
        let path = runs.join(INDEX_FILE);
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::json(&path, 0, e))?;
        records::atomic::write_bytes_atomic(&path, &json)?;
        Ok(())
    }

    /// The name the next round gets.
    pub fn next_name(&self) -> String {
        let n = self
            .rounds
            .iter()
            .filter_map(|r| r.name.strip_prefix(ROUND_PREFIX)?.parse::<u32>().ok())
            .max()
            .unwrap_or(0);
        format!("{ROUND_PREFIX}{:03}", n + 1)
    }
}

/// A round, as `main.rs` builds it.
#[derive(Debug, Clone)]
pub struct RoundConfig {
    /// The runs directory (`runs/`).
    pub runs: PathBuf,
    /// The example pool (JSONL, either format), consumed slice by slice.
    pub pool: PathBuf,
    pub valid: Option<PathBuf>,
    /// Base model of a first round.
    pub base: Option<PathBuf>,
    /// The round to continue from (its name); default the latest round, if any.
    pub from: Option<String>,
    /// Training rows of this round (new slice + hard examples).
    pub rows: usize,
    /// Share of `rows` taken from the parent's hard examples (as many as it has).
    pub hard_fraction: f64,
    pub hparams: HParams,
    /// Predict the round's training examples afterwards to find its hard examples.
    pub mine_hard: bool,
    pub predict_batch_size: usize,
    /// Activation checkpointing while training ([`TrainConfig::grad_checkpoint`]).
    pub grad_checkpoint: bool,
    pub device: Device,
}

/// Runs one round and records it in `runs/index.json`.
///
/// # Errors
/// No base model, an exhausted pool, or any training error.
pub fn run_round(cfg: &RoundConfig, rep: &Reporter) -> Result<RoundRecord> {
    if !(0.0..=1.0).contains(&cfg.hard_fraction) {
        return Err(Error::Config("hard fraction must be within 0..=1".into()));
    }
    let mut index = RunsIndex::load(&cfg.runs)?;
    let parent = match &cfg.from {
        Some(name) => {
            Some(index.rounds.iter().find(|r| &r.name == name).cloned().ok_or_else(|| {
                Error::Config(format!("no round {name} in {}", cfg.runs.display()))
            })?)
        }
        None if cfg.base.is_none() => index.rounds.last().cloned(),
        None => None,
    };
    let base = match (&parent, &cfg.base) {
        (Some(p), _) => cfg.runs.join(&p.name),
        (None, Some(b)) => b.clone(),
        (None, None) => {
            return Err(Error::Config("a first round needs --base (or --from a round)".into()))
        }
    };
    let pool = read_examples(&cfg.pool)?;
    let pool_sha = sha256_file(&cfg.pool)?;
    let start = parent.as_ref().filter(|p| p.pool.sha256 == pool_sha).map_or(0, |p| p.pool_end);
    let hard: Vec<u64> = parent.as_ref().map(|p| p.hard_pool_lines.clone()).unwrap_or_default();
    let n_hard = hard.len().min((cfg.rows as f64 * cfg.hard_fraction).round() as usize);
    let n_new = cfg.rows - n_hard;
    let end = (start + n_new).min(pool.len());
    if end <= start && n_hard == 0 {
        return Err(Error::Config(format!(
            "{}: the pool is used up ({} examples, this round would start at {start})",
            cfg.pool.display(),
            pool.len()
        )));
    }
    let name = index.next_name();
    let dir = cfg.runs.join(&name);
    // The composed training data: the new slice, then the hard examples (the trainer shuffles).
    let by_line: std::collections::HashMap<u64, &Example> =
        pool.iter().map(|(l, e)| (*l, e)).collect();
    let mut chosen: Vec<(u64, &Example)> = pool[start..end].iter().map(|(l, e)| (*l, e)).collect();
    chosen.extend(hard.iter().take(n_hard).filter_map(|l| by_line.get(l).map(|e| (*l, *e))));
    let train_path = dir.join("train.jsonl");
    write_jsonl(&train_path, chosen.iter().map(|(_, e)| *e))?;
    rep.log(&format!(
        "{name}: {} new pool rows ({}..{}) + {} hard examples from {}, base {}",
        end - start,
        start + 1,
        end,
        n_hard,
        parent.as_ref().map_or("-", |p| p.name.as_str()),
        base.display()
    ));

    let tcfg = TrainConfig {
        base: base.clone(),
        train: train_path.clone(),
        valid: cfg.valid.clone(),
        out: dir.clone(),
        hparams: cfg.hparams.clone(),
        // A round that was interrupted is resumed (its data file is rebuilt identically).
        resume: dir.exists(),
        stop_after: None,
        grad_checkpoint: cfg.grad_checkpoint,
        device: cfg.device.clone(),
    };
    let metrics = train(&tcfg, rep)?;

    let mut hard_pool_lines = Vec::new();
    if cfg.mine_hard {
        let predictor = Predictor::load(&dir, &cfg.device)?;
        let prompts: Vec<Vec<u32>> =
            chosen.iter().map(|(_, e)| predictor.prompt_ids(e)).collect::<Result<_>>()?;
        rep.start("hard examples", prompts.len() as u64);
        let mut wrong = Vec::new();
        for (i, chunk) in prompts.chunks(cfg.predict_batch_size.max(1)).enumerate() {
            let outs = predictor.generate(chunk, crate::predict::DEFAULT_MAX_NEW_TOKENS)?;
            for (j, completion) in outs.iter().enumerate() {
                let (line, ex) = chosen[i * cfg.predict_batch_size.max(1) + j];
                let got = parse_parts(completion, defaults::STOP);
                let want = gold_parts(ex).unwrap_or_default();
                if !records::dataset::same_parts(&got, &want) {
                    hard_pool_lines.push(line);
                    wrong.push(ex);
                }
            }
            rep.update(
                ((i + 1) * cfg.predict_batch_size.max(1)).min(prompts.len()) as u64,
                String::new(),
            );
        }
        rep.finish();
        write_jsonl(&dir.join("hard.jsonl"), wrong.into_iter())?;
        hard_pool_lines.sort_unstable();
        hard_pool_lines.dedup();
    }

    let record = RoundRecord {
        name: name.clone(),
        parent: parent.map(|p| p.name),
        base,
        pool: DataFile { path: cfg.pool.clone(), sha256: pool_sha, rows: pool.len() },
        pool_start: start,
        pool_end: end,
        hard_examples: n_hard,
        train: DataFile {
            path: train_path.clone(),
            sha256: sha256_file(&train_path)?,
            rows: chosen.len(),
        },
        valid: match &cfg.valid {
            Some(v) => Some(DataFile {
                path: v.clone(),
                sha256: sha256_file(v)?,
                rows: read_examples(v)?.len(),
            }),
            None => None,
        },
        hparams: cfg.hparams.clone(),
        metrics,
        hard_pool_lines,
    };
    index.rounds.retain(|r| r.name != name);
    index.rounds.push(record.clone());
    index.save(&cfg.runs)?;
    Ok(record)
}

fn write_jsonl<'a>(path: &Path, examples: impl Iterator<Item = &'a Example>) -> Result<()> {
    let examples: Vec<&Example> = examples.collect();
    records::atomic::write_atomic(path, |w| {
        for e in &examples {
            serde_json::to_writer(&mut *w, e)?;
            std::io::Write::write_all(w, b"\n")?;
        }
        Ok(())
    })?;
    Ok(())
}

//! `finetune bench`: the project's training step against PyTorch + transformers, same shape,
//! same batch, same CPU, in one run.
//!
//! Each side runs in its own process (so that peak RSS is its own), alternately, `rounds`
//! times; a process trains a randomly initialised model for `warmup + steps` optimizer steps on
//! one random batch and reports the median step time. The project's side is the trainer's own
//! [`crate::train::optimizer_step`] (forward, backward, clipping, fused AdamW); PyTorch's is
//! `finetune/bench/torch_train.py` (embedded in the binary): transformers' `LlamaForCausalLM`
//! with sdpa attention, cross-entropy, clipping and `torch.optim.AdamW`.

use std::time::Instant;

use candle_core::Device;
use serde::{Deserialize, Serialize};

use crate::data::Encoded;
use crate::model_dir::build_model;
use crate::models::llama::Config;
use crate::optim::{AdamW, AdamWConfig};
use crate::rng::Rng;
use crate::{Error, Result};

/// The PyTorch side, run by the driver with the Python it is given.
pub const TORCH_SCRIPT: &str = include_str!("../bench/torch_train.py");

/// A model shape to benchmark. Both sides build the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
pub enum Shape {
    /// Hidden 256, 4 layers, 4 heads, intermediate 688, vocabulary 8192 (5.3M parameters).
    Tiny,
    /// SmolLM2-135M: hidden 576, 30 layers, 9 heads / 3 KV heads, intermediate 1536,
    /// vocabulary 49152, tied embeddings.
    #[value(name = "smollm2-135m")]
    Smollm2_135m,
}

impl Shape {
    /// The name both sides use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tiny => "tiny",
            Self::Smollm2_135m => "smollm2-135m",
        }
    }

    /// The model configuration.
    pub fn config(self) -> Config {
        let (hidden, layers, heads, kv, inter, vocab, theta) = match self {
            Self::Tiny => (256, 4, 4, 4, 688, 8192, 10_000.0),
            Self::Smollm2_135m => (576, 30, 9, 3, 1536, 49152, 100_000.0),
        };
        let shape = crate::tiny::TinyConfig {
            hidden,
            layers,
            heads,
            kv_heads: kv,
            intermediate: inter,
            ..crate::tiny::TinyConfig::new(Vec::new(), std::path::PathBuf::new())
        };
        Config { rope_theta: theta, ..crate::tiny::tiny_config(&shape, vocab) }
    }
}

/// What one side measured (one process).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measured {
    pub engine: String,
    pub version: String,
    pub parameters: usize,
    /// Median seconds per optimizer step, warm-up steps excluded.
    pub s_per_step: f64,
    pub tokens_per_s: f64,
    pub peak_rss_bytes: u64,
    pub first_loss: f64,
    pub last_loss: f64,
}

/// Options of one measurement.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    pub shape: Shape,
    pub batch: usize,
    pub seq: usize,
    pub steps: usize,
    pub warmup: usize,
    pub seed: u64,
    /// Train with activation checkpointing.
    pub grad_checkpoint: bool,
}

/// Trains the shape with the project's trainer in this process and measures it.
///
/// # Errors
/// Tensor errors, or a non-finite loss.
pub fn measure_project(o: &BenchOptions) -> Result<Measured> {
    let device = Device::Cpu;
    let cfg = o.shape.config();
    let weights = crate::tiny::random_weights(&cfg, o.seed)?;
    let (model, params) = build_model(&cfg, weights, &device)
        .map_err(|e| Error::Config(format!("building the {} shape: {e}", o.shape.name())))?;
    let mut opt = AdamW::new(&params, AdamWConfig::default())?;
    // Every position carries loss, as with `labels = input_ids` on the PyTorch side.
    let mut rng = Rng::new(o.seed);
    let examples: Vec<Encoded> = (0..o.batch)
        .map(|_| {
            let ids: Vec<u32> =
                (0..=o.seq).map(|_| (rng.next_u64() % cfg.vocab_size as u64) as u32).collect();
            let mut weights = vec![1.0f32; ids.len()];
            weights[0] = 0.0;
            Encoded { counted: vec![true; ids.len()], ids, weights, line: 0 }
        })
        .collect();
    let micro = vec![examples.iter().collect::<Vec<_>>()];
    let (mut times, mut losses) = (Vec::new(), Vec::new());
    for step in 0..o.warmup + o.steps {
        let started = Instant::now();
        let stats = crate::train::optimizer_step(
            &model,
            &params,
            &mut opt,
            &micro,
            crate::train::StepOptions {
                lr: 1e-4,
                max_grad_norm: Some(1.0),
                grad_checkpoint: o.grad_checkpoint,
            },
            &device,
        )?
        .map_err(|bad| Error::Config(format!("non-finite loss or gradient norm {bad}")))?;
        if step >= o.warmup {
            times.push(started.elapsed().as_secs_f64());
        }
        losses.push(stats.loss());
    }
    let s_per_step = median(&mut times);
    Ok(Measured {
        engine: "project".into(),
        version: format!("partfinder {} (candle)", env!("CARGO_PKG_VERSION")),
        parameters: params.len(),
        s_per_step,
        tokens_per_s: (o.batch * o.seq) as f64 / s_per_step,
        peak_rss_bytes: peak_rss_bytes(),
        first_loss: losses[0],
        last_loss: *losses.last().unwrap_or(&f64::NAN),
    })
}

/// The median of `values` (sorted in place); NaN when empty.
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// This process's peak resident set size (`VmHWM`), 0 where unknown.
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()))
        })
        .map_or(0, |kb| kb * 1024)
}

/// One side over several rounds: the median step (tokens/s follows from it), the largest
/// peak RSS, the rest from the first round.
pub fn summarise(runs: &[Measured]) -> Option<Measured> {
    let first = runs.first()?;
    let mut steps: Vec<f64> = runs.iter().map(|m| m.s_per_step).collect();
    let s = median(&mut steps);
    Some(Measured {
        s_per_step: s,
        tokens_per_s: first.tokens_per_s * first.s_per_step / s,
        peak_rss_bytes: runs.iter().map(|m| m.peak_rss_bytes).max().unwrap_or(0),
        ..first.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_side_trains_the_tiny_shape() {
        let m = measure_project(&BenchOptions {
            shape: Shape::Tiny,
            batch: 2,
            seq: 16,
            steps: 3,
            warmup: 1,
            seed: 1,
            grad_checkpoint: false,
        })
        .unwrap();
        assert_eq!(m.parameters, 5_261_568, "the shape the PyTorch side builds");
        assert!(m.last_loss < m.first_loss, "{} -> {}", m.first_loss, m.last_loss);
        assert!(m.tokens_per_s > 0.0 && m.peak_rss_bytes > 0);
    }

    #[test]
    fn medians_and_summary() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        let m = |s: f64, rss: u64| Measured {
            engine: "x".into(),
            version: "v".into(),
            parameters: 1,
            s_per_step: s,
            tokens_per_s: 100.0 / s,
            peak_rss_bytes: rss,
            first_loss: 1.0,
            last_loss: 0.5,
        };
        let s = summarise(&[m(2.0, 5), m(1.0, 9), m(4.0, 7)]).unwrap();
        assert_eq!((s.s_per_step, s.tokens_per_s, s.peak_rss_bytes), (2.0, 50.0, 9));
    }
}

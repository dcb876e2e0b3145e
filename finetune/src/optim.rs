//! AdamW, fused and in place over the parameter buffers, with gradient clipping folded in, and
//! the learning-rate schedule.
//!
//! candle-nn's `AdamW` runs about ten allocating tensor ops per parameter and keeps its moments
//! private, so a run could not be resumed exactly. Here the first and second moments are plain
//! buffers that a checkpoint saves and restores bit for bit, and on the CPU one pass over each
//! parameter (in parallel chunks) applies decay, moment updates and the step.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use candle_core::{CpuStorage, Device, InplaceOp2, Layout, Tensor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model_dir::Params;
use crate::{Error, Result};

/// AdamW hyper-parameters (PyTorch semantics: decoupled weight decay `p -= lr * wd * p`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Applied to matrices only; norms and biases (rank-1 parameters) are not decayed.
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 }
    }
}

enum Moments {
    Cpu(Vec<f32>, Vec<f32>),
    Device(Tensor, Tensor),
}

/// The optimizer state: step count and both moments per parameter.
pub struct AdamW {
    cfg: AdamWConfig,
    step: u64,
    moments: Vec<Moments>,
}

struct Update<'a> {
    m: Mutex<&'a mut [f32]>,
    v: Mutex<&'a mut [f32]>,
    lr: f32,
    decay: f32,
    b1: f32,
    b2: f32,
    bc1: f32,
    bc2: f32,
    eps: f32,
    grad_scale: f32,
}

const CHUNK: usize = 1 << 14;

impl InplaceOp2 for Update<'_> {
    fn name(&self) -> &'static str {
        "fused-adamw"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let (CpuStorage::F32(p), CpuStorage::F32(g)) = (s1, s2) else {
            candle_core::bail!("fused-adamw: f32 parameters and gradients only")
        };
        let (Some((p0, p1)), Some((g0, g1))) = (l1.contiguous_offsets(), l2.contiguous_offsets())
        else {
            candle_core::bail!("fused-adamw: contiguous tensors only")
        };
        let p = &mut p[p0..p1];
        let g = &g[g0..g1];
        let mut m = self.m.lock().expect("poisoned");
        let mut v = self.v.lock().expect("poisoned");
        let s = self;
        p.par_chunks_mut(CHUNK)
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .zip(g.par_chunks(CHUNK))
            .for_each(|(((p, m), v), g)| {
                for i in 0..p.len() {
                    let gi = g[i] * s.grad_scale;
                    m[i] = s.b1 * m[i] + (1.0 - s.b1) * gi;
                    v[i] = s.b2 * v[i] + (1.0 - s.b2) * gi * gi;
                    let mhat = m[i] / s.bc1;
                    let vhat = v[i] / s.bc2;
                    p[i] = p[i] * (1.0 - s.lr * s.decay) - s.lr * mhat / (vhat.sqrt() + s.eps);
                }
            });
        Ok(())
    }
}

impl AdamW {
    /// Zero moments for `params`.
    ///
    /// # Errors
    /// Tensor allocation failure on a device.
    pub fn new(params: &Params, cfg: AdamWConfig) -> Result<Self> {
        let moments = params
            .vars
            .iter()
            .map(|(_, var)| {
                let t = var.as_tensor();
                Ok(match t.device() {
                    Device::Cpu => {
                        Moments::Cpu(vec![0.0; t.elem_count()], vec![0.0; t.elem_count()])
                    }
                    _ => Moments::Device(t.zeros_like()?, t.zeros_like()?),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self { cfg, step: 0, moments })
    }

    /// Optimizer steps taken.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// One update with learning rate `lr`; gradients are multiplied by `grad_scale` first (the
    /// clipping factor). `grads[i]` belongs to `params.vars[i]`; `None` means zero gradient.
    ///
    /// # Errors
    /// Tensor errors.
    pub fn step(
        &mut self,
        params: &Params,
        grads: &[Option<Tensor>],
        lr: f64,
        grad_scale: f64,
    ) -> Result<()> {
        self.step += 1;
        let t = self.step as i32;
        let (b1, b2) = (self.cfg.beta1, self.cfg.beta2);
        let bc1 = 1.0 - b1.powi(t);
        let bc2 = 1.0 - b2.powi(t);
        for (((_, var), grad), moments) in params.vars.iter().zip(grads).zip(&mut self.moments) {
            let tensor = var.as_tensor();
            let grad = match grad {
                Some(g) => g.contiguous()?,
                None => tensor.zeros_like()?,
            };
            let decay = if tensor.rank() > 1 { self.cfg.weight_decay } else { 0.0 };
            match moments {
                Moments::Cpu(m, v) => {
                    let op = Update {
                        m: Mutex::new(m),
                        v: Mutex::new(v),
                        lr: lr as f32,
                        decay: decay as f32,
                        b1: b1 as f32,
                        b2: b2 as f32,
                        bc1: bc1 as f32,
                        bc2: bc2 as f32,
                        eps: self.cfg.eps as f32,
                        grad_scale: grad_scale as f32,
                    };
                    tensor.inplace_op2(&grad, &op)?;
                }
                Moments::Device(m, v) => {
                    let g = (grad * grad_scale)?;
                    *m = ((&*m * b1)? + (&g * (1.0 - b1))?)?;
                    *v = ((&*v * b2)? + (g.sqr()? * (1.0 - b2))?)?;
                    let update = ((&*m / bc1)? / ((&*v / bc2)?.sqrt()? + self.cfg.eps)?)?;
                    let next = ((tensor * (1.0 - lr * decay))? - (update * lr)?)?;
                    var.set(&next)?;
                }
            }
        }
        Ok(())
    }

    /// Writes the moments (`m.NAME`, `v.NAME`) and the step count atomically.
    ///
    /// # Errors
    /// I/O errors name the file.
    pub fn save(&self, params: &Params, path: &Path) -> Result<()> {
        let mut tensors: Vec<(String, Tensor)> = Vec::new();
        for ((name, var), moments) in params.vars.iter().zip(&self.moments) {
            let shape = var.shape().clone();
            let (m, v) = match moments {
                Moments::Cpu(m, v) => (
                    Tensor::from_slice(m, shape.clone(), &Device::Cpu)?,
                    Tensor::from_slice(v, shape, &Device::Cpu)?,
                ),
                Moments::Device(m, v) => (m.to_device(&Device::Cpu)?, v.to_device(&Device::Cpu)?),
            };
            tensors.push((format!("m.{name}"), m));
            tensors.push((format!("v.{name}"), v));
        }
        let meta = HashMap::from([("step".to_owned(), self.step.to_string())]);
        let bytes =
            safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(meta))
                .map_err(|e| Error::Candle(candle_core::Error::Msg(e.to_string())))?;
        records::atomic::write_bytes_atomic(path, &bytes)?;
        Ok(())
    }

    /// Restores moments and step count saved by [`AdamW::save`].
    ///
    /// # Errors
    /// The file is unreadable or does not match the parameters.
    pub fn load(&mut self, params: &Params, path: &Path) -> Result<()> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let bad = |m: String| Error::Resume { path: path.to_owned(), message: m };
        let (_, meta) =
            safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
        self.step = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("step"))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("no step in metadata".into()))?;
        let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)?;
        for ((name, var), moments) in params.vars.iter().zip(&mut self.moments) {
            let get = |k: String| {
                tensors.get(&k).cloned().ok_or_else(|| bad(format!("missing optimizer tensor {k}")))
            };
            let (m, v) = (get(format!("m.{name}"))?, get(format!("v.{name}"))?);
            if m.shape() != var.shape() || v.shape() != var.shape() {
                return Err(bad(format!("optimizer tensor {name}: shape mismatch")));
            }
            *moments = match moments {
                Moments::Cpu(..) => {
                    Moments::Cpu(m.flatten_all()?.to_vec1()?, v.flatten_all()?.to_vec1()?)
                }
                Moments::Device(..) => {
                    Moments::Device(m.to_device(var.device())?, v.to_device(var.device())?)
                }
            };
        }
        Ok(())
    }
}

/// The global L2 norm of the gradients.
///
/// # Errors
/// Tensor errors.
pub fn grad_norm(grads: &[Option<Tensor>]) -> Result<f64> {
    let mut sum = 0f64;
    for g in grads.iter().flatten() {
        sum += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
    }
    Ok(sum.sqrt())
}

/// Decay after warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Linear decay to zero at the last step.
    Linear,
    /// Half-cosine decay to zero at the last step.
    Cosine,
    /// No decay.
    Constant,
}

/// The learning rate of optimizer step `step` (1-based) out of `total`, after `warmup` linear
/// warm-up steps.
pub fn learning_rate(base: f64, step: u64, total: u64, warmup: u64, schedule: Schedule) -> f64 {
    if warmup > 0 && step <= warmup {
        return base * step as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let progress = ((step - warmup) as f64 / span).clamp(0.0, 1.0);
    match schedule {
        Schedule::Linear => base * (1.0 - progress),
        Schedule::Cosine => base * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
        Schedule::Constant => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Var};

    #[test]
    fn fused_adamw_matches_the_reference_formula() {
        // Reference computed by hand with PyTorch's AdamW formulas, lr 0.1, wd 0.1, two steps
        // with gradient 0.5 then -1.0 on p = 1.0:
        //   step 1: p = 1*(1-0.01) - 0.1*1 = 0.89        (m̂/√v̂ = 1)
        //   step 2: m = 0.9*0.05 - 0.1 = -0.055, v = 0.999*0.00025 + 0.001 = 0.00124975
        //           m̂ = -0.055/0.19 = -0.289474, v̂ = 0.00124975/0.001999 = 0.625188
        //           p = 0.89*0.99 + 0.1*0.289474/0.790688 = 0.881100 + 0.036610 = 0.917710
        let var =
            Var::from_tensor(&Tensor::ones((2, 1), DType::F32, &Device::Cpu).unwrap()).unwrap();
        let params = Params { vars: vec![("w".into(), var.clone())] };
        let cfg = AdamWConfig { weight_decay: 0.1, ..AdamWConfig::default() };
        let mut opt = AdamW::new(&params, cfg).unwrap();
        let g1 = Tensor::full(0.5f32, (2, 1), &Device::Cpu).unwrap();
        opt.step(&params, &[Some(g1)], 0.1, 1.0).unwrap();
        let g2 = Tensor::full(-1.0f32, (2, 1), &Device::Cpu).unwrap();
        opt.step(&params, &[Some(g2)], 0.1, 1.0).unwrap();
        let p: Vec<f32> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
        assert!((p[0] - 0.917710).abs() < 1e-5, "{p:?}");
    }

    #[test]
    fn schedule_warms_up_then_decays_to_zero() {
        assert_eq!(learning_rate(1.0, 1, 10, 2, Schedule::Linear), 0.5);
        assert_eq!(learning_rate(1.0, 2, 10, 2, Schedule::Linear), 1.0);
        assert_eq!(learning_rate(1.0, 10, 10, 2, Schedule::Linear), 0.0);
        assert!((learning_rate(1.0, 6, 10, 2, Schedule::Cosine) - 0.5).abs() < 1e-12);
        assert_eq!(learning_rate(1.0, 7, 10, 0, Schedule::Constant), 1.0);
    }
}

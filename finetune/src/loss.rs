//! Fused softmax cross-entropy with a backward pass, for CPU training.
//!
//! The composite formula (subtract the row max, exp, sum, log, gather) allocates and walks the
//! `(rows, vocab)` logits four times forward and again backward, and with a 49,152-token
//! vocabulary each of those buffers is the largest tensor of the step. [`cross_entropy`] walks
//! the logits twice per row forward (max, then Σ exp) and once backward (softmax minus one-hot
//! from the row's logsumexp, written straight into the gradient), rows in parallel. Other devices use the composite
//! formula.

use candle_core::{CpuStorage, Layout, Shape, Tensor, D};

use crate::ops::{cpu_op, exp_f32, sum_exp_shifted};
use rayon::prelude::*;

/// Per-row negative log-likelihood `logsumexp(logits[i]) - logits[i, targets[i]]`: `logits`
/// `(n, vocab)` f32, `targets` `(n,)` u32; the result is `(n,)` f32 and differentiable in
/// `logits`.
///
/// # Errors
/// Shape or dtype mismatch; a target outside the vocabulary.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
    if logits.device().is_cpu() && logits.dtype() == candle_core::DType::F32 {
        let logits = logits.contiguous()?;
        let targets = targets.contiguous()?;
        return logits.apply_op2(&targets, CrossEntropy);
    }
    let max = logits.max_keepdim(D::Minus1)?.detach();
    let shifted = logits.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    let picked = shifted.gather(&targets.unsqueeze(1)?, D::Minus1)?;
    (lse - picked)?.squeeze(1)
}

struct CrossEntropy;

fn rows<'a>(
    name: &str,
    s1: &'a CpuStorage,
    l1: &Layout,
    s2: &'a CpuStorage,
    l2: &Layout,
) -> candle_core::Result<(&'a [f32], &'a [u32], usize, usize)> {
    let (CpuStorage::F32(logits), CpuStorage::U32(targets)) = (s1, s2) else {
        candle_core::bail!("{name}: f32 logits and u32 targets only")
    };
    let (n, vocab) = l1.shape().dims2()?;
    let (Some((a0, a1)), Some((b0, b1))) = (l1.contiguous_offsets(), l2.contiguous_offsets())
    else {
        candle_core::bail!("{name}: contiguous tensors only")
    };
    if b1 - b0 != n {
        candle_core::bail!("{name}: {n} rows of logits but {} targets", b1 - b0)
    }
    let targets = &targets[b0..b1];
    if let Some(t) = targets.iter().find(|&&t| t as usize >= vocab) {
        candle_core::bail!("{name}: target {t} outside the vocabulary of {vocab}")
    }
    Ok((&logits[a0..a1], targets, n, vocab))
}

/// `(max, Σ exp(x - max))` of one row.
fn row_stats(row: &[f32]) -> (f32, f32) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    (max, sum_exp_shifted(row, max))
}

cpu_op!(
    CustomOp2,
    CrossEntropy,
    "fused-cross-entropy",
    |self, s1, l1, s2, l2| {
        let (logits, targets, n, vocab) = rows(self.name(), s1, l1, s2, l2)?;
        let nll: Vec<f32> = logits
            .par_chunks(vocab)
            .zip(targets.par_iter())
            .map(|(row, &t)| {
                let (max, sum) = row_stats(row);
                max + sum.ln() - row[t as usize]
            })
            .collect();
        Ok((CpuStorage::F32(nll), Shape::from(n)))
    },
    fn bwd(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        // logsumexp of each row is nll + the target's logit: no second max / Σ exp pass.
        let picked = logits.gather(&targets.unsqueeze(1)?, D::Minus1)?.squeeze(1)?;
        let lse = (res + picked)?;
        let stats = Tensor::stack(&[&lse, &grad_res.contiguous()?], 1)?;
        let grad = logits.apply_op3_no_bwd(targets, &stats, &CrossEntropyGrad)?;
        Ok((Some(grad), None))
    }
);

/// `d nll[i] / d logits[i, j] · g[i] = (softmax(logits[i])_j - [j = t_i]) · g[i]`, from the
/// logits, the targets and `(n, 2)` rows of (logsumexp, g).
struct CrossEntropyGrad;

cpu_op!(CustomOp3, CrossEntropyGrad, "fused-cross-entropy-grad", |self, s1, l1, s2, l2, s3, l3| {
    let (logits, targets, n, vocab) = rows(self.name(), s1, l1, s2, l2)?;
    let (CpuStorage::F32(stats), Some((s0, s1))) = (s3, l3.contiguous_offsets()) else {
        candle_core::bail!("{}: contiguous f32 row statistics only", self.name())
    };
    let stats = &stats[s0..s1];
    // Every element is written below: no zero fill of the (n, vocab) buffer first.
    let mut out: Vec<f32> = Vec::with_capacity(n * vocab);
    out.spare_capacity_mut()[..n * vocab]
        .par_chunks_mut(vocab)
        .zip(logits.par_chunks(vocab))
        .zip(targets.par_iter().zip(stats.par_chunks(2)))
        .for_each(|((out, row), (&t, lse_g))| {
            let (lse, gi) = (lse_g[0], lse_g[1]);
            for (o, &x) in out.iter_mut().zip(row) {
                o.write(exp_f32(x - lse) * gi);
            }
            out[t as usize].write(exp_f32(row[t as usize] - lse) * gi - gi);
        });
    // SAFETY: the loop above initialised all n · vocab elements (n rows of `vocab`).
    unsafe { out.set_len(n * vocab) };
    Ok((CpuStorage::F32(out), Shape::from((n, vocab))))
});

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;

    fn composite(logits: &Tensor, targets: &Tensor) -> Tensor {
        let max = logits.max_keepdim(D::Minus1).unwrap().detach();
        let shifted = logits.broadcast_sub(&max).unwrap();
        let lse = shifted.exp().unwrap().sum_keepdim(D::Minus1).unwrap().log().unwrap();
        let picked = shifted.gather(&targets.unsqueeze(1).unwrap(), D::Minus1).unwrap();
        (lse - picked).unwrap().squeeze(1).unwrap()
    }

    #[test]
    fn fused_matches_the_composite_formula_forward_and_backward() {
        let dev = Device::Cpu;
        let data: Vec<f32> = (0..5 * 37).map(|i| ((i * 7919) % 101) as f32 / 9.0 - 5.0).collect();
        let targets = Tensor::new(&[0u32, 36, 5, 17, 17], &dev).unwrap();
        let weights = Tensor::new(&[1.0f32, 0.5, 0.01, 2.0, 0.0], &dev).unwrap();
        let mut results = Vec::new();
        for fused in [true, false] {
            let x = Var::from_vec(data.clone(), (5, 37), &dev).unwrap();
            let nll = if fused {
                cross_entropy(x.as_tensor(), &targets).unwrap()
            } else {
                composite(x.as_tensor(), &targets)
            };
            let loss = (&nll * &weights).unwrap().sum_all().unwrap();
            let grads = loss.backward().unwrap();
            let g: Vec<Vec<f32>> = grads.get(x.as_tensor()).unwrap().to_vec2().unwrap();
            results.push((nll.to_vec1::<f32>().unwrap(), g));
        }
        let ((nll_f, g_f), (nll_c, g_c)) = (&results[0], &results[1]);
        for (a, b) in nll_f.iter().zip(nll_c) {
            assert!((a - b).abs() < 1e-5, "nll {a} vs {b}");
        }
        for (ra, rb) in g_f.iter().zip(g_c) {
            for (a, b) in ra.iter().zip(rb) {
                assert!((a - b).abs() < 1e-6, "grad {a} vs {b}");
            }
        }
    }

    #[test]
    fn target_outside_the_vocabulary_is_an_error() {
        let dev = Device::Cpu;
        let x = Tensor::zeros((2, 4), candle_core::DType::F32, &dev).unwrap();
        let t = Tensor::new(&[1u32, 4], &dev).unwrap();
        let err = cross_entropy(&x, &t).unwrap_err().to_string();
        assert!(err.contains("target 4 outside the vocabulary of 4"), "{err}");
    }
}

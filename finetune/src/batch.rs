//! Data order (shuffled, length-bucketed batches) and the loss of one micro-batch.

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var, D};

use crate::data::Encoded;
use crate::models::llama::{causal_mask, LlamaForCausalLM};
use crate::rng::Rng;
use crate::Result;

/// How many batches' worth of examples are sorted by length together: large enough that
/// batches have little padding, small enough that the order stays random.
const BUCKET_WINDOW: usize = 32;

/// The batches of one epoch: the examples shuffled with a generator derived from `seed` and
/// `epoch`, sorted by length inside windows of `BUCKET_WINDOW` batches, cut into batches of
/// `batch_size`, and the batches shuffled again. The same inputs always give the same order.
pub fn epoch_batches(
    lengths: &[usize],
    batch_size: usize,
    seed: u64,
    epoch: usize,
) -> Vec<Vec<usize>> {
    let batch_size = batch_size.max(1);
    let mut rng = Rng::derive(seed, epoch as u64 + 1);
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    rng.shuffle(&mut order);
    let mut batches = Vec::new();
    for window in order.chunks_mut(batch_size * BUCKET_WINDOW) {
        window.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
        batches.extend(window.chunks(batch_size).map(<[usize]>::to_vec));
    }
    rng.shuffle(&mut batches);
    batches
}

/// Statistics of a forward pass over some batches.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    /// Σ weight · negative log-likelihood.
    pub weighted_nll: f64,
    /// Σ weight.
    pub weight: f64,
    /// Completion tokens predicted right (teacher-forced argmax).
    pub correct_tokens: u64,
    /// Completion tokens.
    pub counted_tokens: u64,
    /// Completions with every token right.
    pub correct_sequences: u64,
    /// Completions (examples with at least one counted token).
    pub sequences: u64,
    /// Tokens in the batches (padding excluded).
    pub tokens: u64,
    /// Examples.
    pub examples: u64,
}

impl Stats {
    /// Adds another batch's statistics.
    pub fn add(&mut self, o: &Stats) {
        self.weighted_nll += o.weighted_nll;
        self.weight += o.weight;
        self.correct_tokens += o.correct_tokens;
        self.counted_tokens += o.counted_tokens;
        self.correct_sequences += o.correct_sequences;
        self.sequences += o.sequences;
        self.tokens += o.tokens;
        self.examples += o.examples;
    }

    /// Weighted mean loss.
    pub fn loss(&self) -> f64 {
        if self.weight > 0.0 {
            self.weighted_nll / self.weight
        } else {
            0.0
        }
    }

    /// Token accuracy on completion tokens.
    pub fn token_accuracy(&self) -> f64 {
        ratio(self.correct_tokens, self.counted_tokens)
    }

    /// Sequence accuracy on completions.
    pub fn sequence_accuracy(&self) -> f64 {
        ratio(self.correct_sequences, self.sequences)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Σ weight of the predicted tokens of some examples (the loss normaliser of a step).
pub fn total_weight(examples: &[&Encoded]) -> f64 {
    examples.iter().map(|e| e.weights.iter().skip(1).map(|&w| f64::from(w)).sum::<f64>()).sum()
}

/// One micro-batch as tensors: right-padded inputs, the flat positions that carry loss, their
/// targets and weights.
struct Prepared {
    input: Tensor,
    positions: Tensor,
    mask: Tensor,
    select: Tensor,
    targets: Vec<u32>,
    weights: Vec<f32>,
    owner: Vec<usize>,
    counted: Vec<bool>,
    stats: Stats,
}

fn prepare(examples: &[&Encoded], device: &Device) -> Result<Prepared> {
    let b = examples.len();
    let t = examples.iter().map(|e| e.len()).max().unwrap_or(1).saturating_sub(1).max(1);
    let mut input = vec![0u32; b * t];
    let mut select = Vec::new();
    let mut targets = Vec::new();
    let mut weights = Vec::new();
    let mut owner = Vec::new();
    let mut counted = Vec::new();
    let mut stats = Stats { examples: b as u64, ..Stats::default() };
    for (bi, ex) in examples.iter().enumerate() {
        stats.tokens += ex.len() as u64;
        let n = ex.len().saturating_sub(1);
        input[bi * t..bi * t + n].copy_from_slice(&ex.ids[..n]);
        for j in 0..n {
            let w = ex.weights[j + 1];
            if w > 0.0 || ex.counted[j + 1] {
                select.push((bi * t + j) as u32);
                targets.push(ex.ids[j + 1]);
                weights.push(w);
                owner.push(bi);
                counted.push(ex.counted[j + 1]);
            }
        }
    }
    let n = select.len();
    Ok(Prepared {
        input: Tensor::from_vec(input, (b, t), device)?,
        positions: Tensor::arange(0u32, t as u32, device)?.reshape((1, t))?,
        mask: causal_mask(t, 0, device)?,
        select: Tensor::from_vec(select, n, device)?,
        targets,
        weights,
        owner,
        counted,
        stats,
    })
}

/// The loss `Σ w·nll / normaliser` of the selected logits, and the batch statistics.
fn loss_of(logits: &Tensor, p: &Prepared, normaliser: f64) -> Result<(Tensor, Stats)> {
    let device = logits.device();
    let n = p.targets.len();
    let b = p.stats.examples as usize;
    let targets_t = Tensor::from_slice(&p.targets, n, device)?;
    let weights_t = Tensor::from_slice(&p.weights, n, device)?;
    let nll = crate::loss::cross_entropy(logits, &targets_t)?;
    let weighted = (&nll * &weights_t)?.sum_all()?;
    let loss = (&weighted / normaliser.max(f64::MIN_POSITIVE))?;

    let mut stats = p.stats;
    stats.weighted_nll = f64::from(weighted.to_dtype(DType::F32)?.to_scalar::<f32>()?);
    stats.weight = p.weights.iter().map(|&w| f64::from(w)).sum();
    let predicted: Vec<u32> = logits.argmax(D::Minus1)?.to_vec1()?;
    let mut all_right = vec![true; b];
    let mut has_counted = vec![false; b];
    for i in 0..n {
        if p.counted[i] {
            stats.counted_tokens += 1;
            has_counted[p.owner[i]] = true;
            if predicted[i] == p.targets[i] {
                stats.correct_tokens += 1;
            } else {
                all_right[p.owner[i]] = false;
            }
        }
    }
    for bi in 0..b {
        if has_counted[bi] {
            stats.sequences += 1;
            stats.correct_sequences += u64::from(all_right[bi]);
        }
    }
    Ok((loss, stats))
}

/// The forward pass of one micro-batch: the loss tensor `Σ w·nll / normaliser` (for backward)
/// and its statistics.
///
/// # Errors
/// Tensor errors.
pub fn batch_loss(
    model: &LlamaForCausalLM,
    examples: &[&Encoded],
    normaliser: f64,
    device: &Device,
) -> Result<(Tensor, Stats)> {
    let p = prepare(examples, device)?;
    let logits = model.forward_selected(&p.input, &p.positions, &p.mask, &p.select)?;
    loss_of(&logits, &p, normaliser)
}

/// Forward and backward of one micro-batch with activation checkpointing: the forward pass
/// keeps only each layer's input `(b, t, hidden)` and drops the layer's activations; the
/// backward pass then goes from the top, recomputing one layer at a time from its saved input
/// and back-propagating the incoming gradient through it, so that at most one layer's
/// activations are alive. One extra forward pass of the layers buys memory that no longer grows
/// with depth. The gradients are the same as [`batch_loss`]'s backward (the kernels are
/// deterministic); each partial gradient store is handed to `collect` (several per call, each
/// holding part of the parameters' gradients). A non-finite loss returns before any backward
/// pass.
///
/// # Errors
/// Tensor errors.
pub fn checkpointed_backward(
    model: &LlamaForCausalLM,
    examples: &[&Encoded],
    normaliser: f64,
    device: &Device,
    mut collect: impl FnMut(&mut GradStore) -> Result<()>,
) -> Result<Stats> {
    let p = prepare(examples, device)?;
    let m = model.model();
    let embedded = m.embed(&p.input)?;
    let li = m.layer_inputs(&p.positions, &p.mask, embedded.dtype())?;
    // Layer inputs, detached: no graph keeps a layer's activations alive.
    let mut xs = vec![embedded.detach()];
    for i in 0..m.num_layers() {
        let y = m.layer(i, &xs[i], &li)?.detach();
        xs.push(y);
    }
    let top = Var::from_tensor(&xs[m.num_layers()])?;
    let logits = model.head_selected(&m.final_norm(top.as_tensor())?, &p.select)?;
    let (loss, stats) = loss_of(&logits, &p, normaliser)?;
    if !stats.weighted_nll.is_finite() {
        return Ok(stats);
    }
    let mut store = loss.backward()?;
    drop((loss, logits));
    let mut grad = store.remove(top.as_tensor()).ok_or_else(missing)?;
    collect(&mut store)?;
    drop(store);
    for i in (0..m.num_layers()).rev() {
        let x = Var::from_tensor(&xs[i])?;
        xs.truncate(i);
        let y = m.layer(i, x.as_tensor(), &li)?;
        let mut store = (y * &grad)?.sum_all()?.backward()?;
        grad = store.remove(x.as_tensor()).ok_or_else(missing)?;
        collect(&mut store)?;
    }
    let mut store = (embedded * &grad)?.sum_all()?.backward()?;
    collect(&mut store)?;
    Ok(stats)
}

fn missing() -> crate::Error {
    crate::Error::Config("activation checkpointing: a layer input received no gradient".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_order_is_deterministic_complete_and_bucketed() {
        let lengths: Vec<usize> = (0..50).map(|i| (i * 7) % 23 + 1).collect();
        let a = epoch_batches(&lengths, 4, 3, 0);
        assert_eq!(a, epoch_batches(&lengths, 4, 3, 0));
        assert_ne!(a, epoch_batches(&lengths, 4, 3, 1));
        let mut all: Vec<usize> = a.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
        for batch in &a {
            let lens: Vec<usize> = batch.iter().map(|&i| lengths[i]).collect();
            assert!(lens.windows(2).all(|w| w[0] >= w[1]), "batch not sorted by length: {lens:?}");
        }
    }
}

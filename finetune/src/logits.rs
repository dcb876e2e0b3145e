//! Next-token logits of a model directory on one text: the hook that
//! `scripts/compare_reference.py` uses to compare this crate's model with `transformers`.

use candle_core::{Device, Tensor};

use crate::model_dir::ModelDir;
use crate::models::llama::{causal_mask, LlamaForCausalLM};
use crate::{Error, Result};

/// The logits of the position after the last token of a text.
#[derive(Debug, Clone, PartialEq)]
pub struct NextTokenLogits {
    /// The token ids of the text (no special tokens added).
    pub ids: Vec<u32>,
    /// One logit per vocabulary entry, for the token that follows `ids`.
    pub logits: Vec<f32>,
}

impl NextTokenLogits {
    /// The `k` most likely next tokens as `(id, logit)`, best first.
    pub fn top(&self, k: usize) -> Vec<(u32, f32)> {
        let mut order: Vec<(u32, f32)> =
            self.logits.iter().enumerate().map(|(i, &l)| (i as u32, l)).collect();
        order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        order.truncate(k);
        order
    }
}

/// Tokenises `text` with the directory's tokenizer (special tokens in the text are matched, none
/// are added) and runs `model` on it in one causal forward pass.
///
/// # Errors
/// The text tokenises to nothing, or a tokenizer or tensor error.
pub fn next_token_logits(
    dir: &ModelDir,
    model: &LlamaForCausalLM,
    text: &str,
    device: &Device,
) -> Result<NextTokenLogits> {
    let ids = dir.tokenizer.encode(text, false).map_err(Error::tokenizer)?.get_ids().to_vec();
    if ids.is_empty() {
        return Err(Error::Config("the text has no tokens".into()));
    }
    let t = ids.len();
    let input = Tensor::from_vec(ids.clone(), (1, t), device)?;
    let positions = Tensor::from_vec((0..t as u32).collect::<Vec<_>>(), (1, t), device)?;
    let mask = causal_mask(t, 0, device)?;
    let mut cache = model.new_cache();
    let logits = model.forward_last(&input, &positions, &mask, &mut cache)?;
    let logits = logits.squeeze(0)?.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()?;
    Ok(NextTokenLogits { ids, logits })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiny::{init_tiny, TinyConfig};

    #[test]
    fn next_token_logits_are_the_last_row_of_a_full_forward_pass() {
        let tmp = tempfile::tempdir().unwrap();
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut cfg = TinyConfig::new(vec![fixture.join("train.jsonl")], tmp.path().join("m"));
        (cfg.hidden, cfg.layers, cfg.heads, cfg.kv_heads, cfg.intermediate) = (32, 2, 4, 2, 64);
        cfg.vocab_size = 300;
        init_tiny(&cfg).unwrap();
        let dir = ModelDir::open(&cfg.out).unwrap();
        let (model, _) = dir.load_model(&Device::Cpu).unwrap();

        let out = next_token_logits(&dir, &model, "The brake pad broke. ->", &Device::Cpu).unwrap();
        let t = out.ids.len();
        assert!(t > 2);
        assert_eq!(out.logits.len(), model.config().vocab_size);
        let full = model
            .forward_selected(
                &Tensor::from_vec(out.ids.clone(), (1, t), &Device::Cpu).unwrap(),
                &Tensor::from_vec((0..t as u32).collect::<Vec<_>>(), (1, t), &Device::Cpu).unwrap(),
                &causal_mask(t, 0, &Device::Cpu).unwrap(),
                &Tensor::new(&[t as u32 - 1], &Device::Cpu).unwrap(),
            )
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let diff = full.iter().zip(&out.logits).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(diff < 1e-5, "max diff {diff}");

        let top = out.top(3);
        assert_eq!(top.len(), 3);
        assert!(top[0].1 >= top[1].1 && top[1].1 >= top[2].1);
        assert_eq!(top[0].1, out.logits.iter().copied().fold(f32::MIN, f32::max));
        assert!(next_token_logits(&dir, &model, "", &Device::Cpu).is_err());
    }
}

//! A Llama-family decoder (Llama, SmolLM2, Qwen2-style q/k/v bias) written for training.
//!
//! Every operation here has a backward pass: RMSNorm, rotary embeddings, the attention softmax
//! and SwiGLU are the fused ops of [`crate::ops`] (candle-nn's `rms_norm`, `softmax_last_dim`,
//! `rope*` and `sdpa` are built without a backward pass and would silently stop the gradient). Parameter names mirror the Hugging Face checkpoint
//! (`model.layers.0.self_attn.q_proj.weight`), so a checkpoint loads without renaming.
//!
//! Rotary embeddings use the Hugging Face "rotate half" convention: the first and second halves
//! of each head are the two coordinates of a rotated pair.

use candle_core::{DType, Device, Module, Tensor, D};

use std::sync::Arc;

use crate::ops::{self, linear, GradSlot, Linear};
use candle_nn::{Embedding, VarBuilder};
use serde::{Deserialize, Serialize};

/// The model configuration, read from a Hugging Face `config.json` (unknown keys are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    /// Defaults to `num_attention_heads` (no grouped-query attention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_key_value_heads: Option<usize>,
    /// Defaults to `hidden_size / num_attention_heads`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_dim: Option<usize>,
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Llama's name for q/k/v/o biases; Qwen2 has q/k/v biases without this key.
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_position_embeddings: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    /// Only `null` is supported.
    #[serde(default)]
    pub rope_scaling: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_act: Option<String>,
}

fn default_rms_norm_eps() -> f64 {
    1e-5
}

fn default_rope_theta() -> f64 {
    10_000.0
}

impl Config {
    /// Key/value heads (grouped-query attention when fewer than the query heads).
    pub fn kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.head_dim.unwrap_or(self.hidden_size / self.num_attention_heads)
    }

    /// Whether q/k/v projections carry a bias (Llama `attention_bias`, or any Qwen2 model).
    pub fn qkv_bias(&self) -> bool {
        self.attention_bias || self.model_type.as_deref() == Some("qwen2")
    }

    /// Whether the output projection carries a bias (Llama `attention_bias` only).
    pub fn o_bias(&self) -> bool {
        self.attention_bias && self.model_type.as_deref() != Some("qwen2")
    }

    /// Checks what this implementation supports.
    ///
    /// # Errors
    /// A message naming the unsupported setting.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(scaling) = &self.rope_scaling {
            if !scaling.is_null() {
                return Err(format!("rope_scaling {scaling} is not supported"));
            }
        }
        if let Some(act) = &self.hidden_act {
            if act != "silu" {
                return Err(format!("hidden_act {act:?} is not supported (only silu)"));
            }
        }
        if self.num_attention_heads == 0
            || !self.num_attention_heads.is_multiple_of(self.kv_heads())
        {
            return Err(format!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                self.num_attention_heads,
                self.kv_heads()
            ));
        }
        if !self.head_dim().is_multiple_of(2) {
            return Err(format!("head_dim {} is odd", self.head_dim()));
        }
        Ok(())
    }

    /// Parameter count (tied embeddings counted once).
    pub fn parameter_count(&self) -> usize {
        let h = self.hidden_size;
        let hd = self.head_dim();
        let q = self.num_attention_heads * hd;
        let kv = self.kv_heads() * hd;
        let bias = if self.qkv_bias() { q + 2 * kv } else { 0 } + if self.o_bias() { h } else { 0 };
        let attn = h * q + 2 * h * kv + q * h + bias;
        let mlp = 3 * h * self.intermediate_size;
        let layer = attn + mlp + 2 * h;
        let embed = self.vocab_size * h;
        let head = if self.tie_word_embeddings { 0 } else { embed };
        embed + self.num_hidden_layers * layer + h + head
    }
}

/// RMSNorm: `x / sqrt(mean(x²) + eps) * weight` ([`ops::rms_norm`]).
#[derive(Debug, Clone)]
pub struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    /// Loads `weight` of shape `(size,)`.
    ///
    /// # Errors
    /// The tensor is missing or has the wrong shape.
    pub fn new(size: usize, eps: f64, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self { weight: vb.get(size, "weight")?, eps })
    }
}

impl Module for RmsNorm {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        ops::rms_norm(x, &self.weight, self.eps)
    }
}

/// Cosine and sine tables for the given positions: `positions` is `(b, t)` (u32), the result
/// `(b, 1, t, head_dim)` each, halves repeated as in Hugging Face's `rotate_half` convention.
///
/// # Errors
/// Tensor errors only.
pub fn rope_tables(
    positions: &Tensor,
    head_dim: usize,
    theta: f64,
) -> candle_core::Result<(Tensor, Tensor)> {
    let (b, t) = positions.dims2()?;
    let half = head_dim / 2;
    let inv: Vec<f32> =
        (0..half).map(|i| (1.0 / theta.powf((2 * i) as f64 / head_dim as f64)) as f32).collect();
    let inv = Tensor::from_vec(inv, (1, 1, half), positions.device())?;
    let pos = positions.to_dtype(DType::F32)?.reshape((b, t, 1))?;
    let freqs = pos.broadcast_mul(&inv)?;
    let freqs = Tensor::cat(&[&freqs, &freqs], D::Minus1)?.reshape((b, 1, t, head_dim))?;
    Ok((freqs.cos()?, freqs.sin()?))
}

/// Keys and values of the positions seen so far, per layer, for generation.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
}

impl KvCache {
    /// An empty cache for `layers` layers.
    pub fn new(layers: usize) -> Self {
        Self { layers: vec![None; layers] }
    }

    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.layers.first().and_then(|l| l.as_ref()).map_or(0, |(k, _)| k.dim(2).unwrap_or(0))
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Grouped-query self-attention with rotary embeddings.
#[derive(Debug, Clone)]
pub struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
}

impl Attention {
    /// Loads `q_proj`, `k_proj`, `v_proj`, `o_proj`.
    ///
    /// # Errors
    /// A tensor is missing or has the wrong shape.
    pub fn new(cfg: &Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let h = cfg.hidden_size;
        let hd = cfg.head_dim();
        let (nq, nkv) = (cfg.num_attention_heads, cfg.kv_heads());
        let bias = cfg.qkv_bias();
        Ok(Self {
            q_proj: linear(h, nq * hd, bias, vb.pp("q_proj"))?,
            k_proj: linear(h, nkv * hd, bias, vb.pp("k_proj"))?,
            v_proj: linear(h, nkv * hd, bias, vb.pp("v_proj"))?,
            o_proj: linear(nq * hd, h, cfg.o_bias(), vb.pp("o_proj"))?,
            heads: nq,
            kv_heads: nkv,
            head_dim: hd,
        })
    }

    fn linears(&self) -> [&Linear; 4] {
        [&self.q_proj, &self.k_proj, &self.v_proj, &self.o_proj]
    }

    /// `x`: `(b, t, hidden)`; `mask`: additive, broadcastable to `(b, 1, t, s)` where `s` counts
    /// cached plus new positions.
    fn forward(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: &Tensor,
        cache: Option<&mut Option<(Tensor, Tensor)>>,
    ) -> candle_core::Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let (hd, nq, nkv) = (self.head_dim, self.heads, self.kv_heads);
        let q = ops::rope_heads(&self.q_proj.forward(x)?, cos, sin, nq)?;
        let mut k = ops::rope_heads(&self.k_proj.forward(x)?, cos, sin, nkv)?;
        let v = self.v_proj.forward(x)?.reshape((b, t, nkv, hd))?.transpose(1, 2)?;
        let mut v = v.contiguous()?;
        if let Some(slot) = cache {
            if let Some((pk, pv)) = slot.as_ref() {
                k = Tensor::cat(&[pk, &k], 2)?;
                v = Tensor::cat(&[pv, &v], 2)?;
            }
            // Detached: a cache only serves generation, and a graph kept through it would chain
            // every decoding step's activations together (gigabytes for a 135M model).
            *slot = Some((k.detach(), v.detach()));
        }
        // Grouped-query attention without copying keys and values per query head: the query
        // heads that share one key/value head are stacked along the time axis.
        let rep = nq / nkv;
        let q = q.reshape((b, nkv, rep * t, hd))?;
        let scale = 1.0 / (hd as f64).sqrt();
        let att = ops::masked_softmax(&q.matmul(&k.t()?)?, mask, scale)?;
        let out = att.matmul(&v)?.reshape((b, nq, t, hd))?.transpose(1, 2)?;
        let out = out.reshape((b, t, nq * hd))?;
        self.o_proj.forward(&out)
    }
}

/// The SwiGLU feed-forward block: `down(silu(gate(x)) * up(x))`.
#[derive(Debug, Clone)]
pub struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

impl Mlp {
    /// Loads `gate_proj`, `up_proj`, `down_proj`.
    ///
    /// # Errors
    /// A tensor is missing or has the wrong shape.
    pub fn new(cfg: &Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        Ok(Self {
            gate_proj: linear(h, i, false, vb.pp("gate_proj"))?,
            up_proj: linear(h, i, false, vb.pp("up_proj"))?,
            down_proj: linear(i, h, false, vb.pp("down_proj"))?,
        })
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let act = ops::swiglu(&self.gate_proj.forward(x)?, &self.up_proj.forward(x)?)?;
        self.down_proj.forward(&act)
    }
}

/// One pre-norm decoder layer.
#[derive(Debug, Clone)]
pub struct DecoderLayer {
    input_layernorm: RmsNorm,
    self_attn: Attention,
    post_attention_layernorm: RmsNorm,
    mlp: Mlp,
}

impl DecoderLayer {
    /// Loads one layer (`model.layers.N`).
    ///
    /// # Errors
    /// A tensor is missing or has the wrong shape.
    pub fn new(cfg: &Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let h = cfg.hidden_size;
        Ok(Self {
            input_layernorm: RmsNorm::new(h, cfg.rms_norm_eps, vb.pp("input_layernorm"))?,
            self_attn: Attention::new(cfg, vb.pp("self_attn"))?,
            post_attention_layernorm: RmsNorm::new(
                h,
                cfg.rms_norm_eps,
                vb.pp("post_attention_layernorm"),
            )?,
            mlp: Mlp::new(cfg, vb.pp("mlp"))?,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: &Tensor,
        cache: Option<&mut Option<(Tensor, Tensor)>>,
    ) -> candle_core::Result<Tensor> {
        let h = self.self_attn.forward(&self.input_layernorm.forward(x)?, cos, sin, mask, cache)?;
        let x = (x + h)?;
        let h = self.mlp.forward(&self.post_attention_layernorm.forward(&x)?)?;
        x + h
    }
}

/// The decoder backbone (`model.*`): embeddings, layers, final norm.
#[derive(Debug, Clone)]
pub struct Model {
    embed_tokens: Embedding,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    cfg: Config,
}

/// What every layer of one forward pass reads besides its input: rotary tables and the
/// additive mask.
#[derive(Debug, Clone)]
pub struct LayerInputs {
    cos: Tensor,
    sin: Tensor,
    mask: Tensor,
}

/// Additive causal mask `(1, t, s)` for `t` new positions after `past` cached ones.
///
/// # Errors
/// Tensor errors only.
pub fn causal_mask(t: usize, past: usize, device: &Device) -> candle_core::Result<Tensor> {
    let s = past + t;
    let mask: Vec<f32> =
        (0..t).flat_map(|i| (0..s).map(move |j| if j > past + i { MASKED } else { 0.0 })).collect();
    Tensor::from_vec(mask, (1, t, s), device)
}

/// The additive value of a masked attention score. Finite, so that a row with every key masked
/// (a left-padding query during batched generation) gives a uniform distribution, not NaN.
pub const MASKED: f32 = -1e9;

impl Model {
    /// Loads the backbone from `vb` (the root of the checkpoint; names start with `model.`).
    ///
    /// # Errors
    /// A tensor is missing or has the wrong shape.
    pub fn new(cfg: &Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let vb = vb.pp("model");
        let embed_tokens =
            candle_nn::embedding(cfg.vocab_size, cfg.hidden_size, vb.pp("embed_tokens"))?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| DecoderLayer::new(cfg, vb.pp(format!("layers.{i}"))))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let norm = RmsNorm::new(cfg.hidden_size, cfg.rms_norm_eps, vb.pp("norm"))?;
        Ok(Self { embed_tokens, layers, norm, cfg: cfg.clone() })
    }

    /// The configuration this model was built from.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Final hidden states `(b, t, hidden)` of `input_ids` `(b, t)`.
    ///
    /// `positions` is `(b, t)` or `(1, t)` (u32); `mask` is additive and broadcastable to
    /// `(b, 1, t, s)` with `s` = cached + new positions; `cache` is updated when given.
    ///
    /// # Errors
    /// Tensor errors (shape mismatches).
    pub fn forward(
        &self,
        input_ids: &Tensor,
        positions: &Tensor,
        mask: &Tensor,
        mut cache: Option<&mut KvCache>,
    ) -> candle_core::Result<Tensor> {
        let mut x = self.embed(input_ids)?;
        let li = self.layer_inputs(positions, mask, x.dtype())?;
        for (i, layer) in self.layers.iter().enumerate() {
            let slot = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            x = layer.forward(&x, &li.cos, &li.sin, &li.mask, slot)?;
        }
        self.norm.forward(&x)
    }

    /// The input embedding matrix `(vocab, hidden)`.
    pub fn embeddings(&self) -> &Tensor {
        self.embed_tokens.embeddings()
    }

    /// The token embeddings of `input_ids` (the first piece of [`Model::forward`]).
    ///
    /// # Errors
    /// Tensor errors.
    pub fn embed(&self, input_ids: &Tensor) -> candle_core::Result<Tensor> {
        self.embed_tokens.forward(input_ids)
    }

    /// Everything the layers share: rotary tables and the mask, in `dtype`.
    ///
    /// # Errors
    /// Tensor errors.
    pub fn layer_inputs(
        &self,
        positions: &Tensor,
        mask: &Tensor,
        dtype: DType,
    ) -> candle_core::Result<LayerInputs> {
        let (cos, sin) = rope_tables(positions, self.cfg.head_dim(), self.cfg.rope_theta)?;
        Ok(LayerInputs {
            cos: cos.to_dtype(dtype)?,
            sin: sin.to_dtype(dtype)?,
            mask: mask.to_dtype(dtype)?,
        })
    }

    /// Number of decoder layers.
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Decoder layer `i` on `x` `(b, t, hidden)`, without a cache.
    ///
    /// # Errors
    /// Tensor errors.
    pub fn layer(&self, i: usize, x: &Tensor, inputs: &LayerInputs) -> candle_core::Result<Tensor> {
        self.layers[i].forward(x, &inputs.cos, &inputs.sin, &inputs.mask, None)
    }

    /// The final norm (the last piece of [`Model::forward`]).
    ///
    /// # Errors
    /// Tensor errors.
    pub fn final_norm(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.norm.forward(x)
    }
}

/// The causal language model: the backbone plus an LM head (tied to the embeddings when
/// `tie_word_embeddings`).
#[derive(Debug, Clone)]
pub struct LlamaForCausalLM {
    model: Model,
    lm_head: Linear,
}

impl LlamaForCausalLM {
    /// Loads the model from the root of a checkpoint.
    ///
    /// # Errors
    /// A tensor is missing or has the wrong shape.
    pub fn new(cfg: &Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let model = Model::new(cfg, vb.clone())?;
        let lm_head = if cfg.tie_word_embeddings {
            Linear::new(model.embeddings().clone(), None)
        } else {
            linear(cfg.hidden_size, cfg.vocab_size, false, vb.pp("lm_head"))?
        };
        Ok(Self { model, lm_head })
    }

    /// Routes the weight gradients of every dense layer (the attention and MLP projections and
    /// the LM head, which is the embedding matrix when tied) around candle's gradient store:
    /// backward passes accumulate them into the returned slots, keyed by the weight tensor.
    /// The training step adds them to what the store holds for the same tensor.
    pub fn capture_weight_grads(&self) -> Vec<(candle_core::TensorId, Arc<GradSlot>)> {
        let layers = self.model.layers.iter().flat_map(|l| {
            let [q, k, v, o] = l.self_attn.linears();
            [q, k, v, o, &l.mlp.gate_proj, &l.mlp.up_proj, &l.mlp.down_proj]
        });
        layers
            .chain([&self.lm_head])
            .map(|lin| (lin.weight().id(), lin.capture_weight_grad()))
            .collect()
    }

    /// The backbone.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.model.cfg
    }

    /// Logits `(n, vocab)` at the flat positions `select` (indices into `b * t`, u32) only: the
    /// LM head, the largest matrix product, runs on the positions that carry loss.
    ///
    /// # Errors
    /// Tensor errors (shape mismatches).
    pub fn forward_selected(
        &self,
        input_ids: &Tensor,
        positions: &Tensor,
        mask: &Tensor,
        select: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let hidden = self.model.forward(input_ids, positions, mask, None)?;
        self.head_selected(&hidden, select)
    }

    /// The LM head on the final (normed) hidden states `(b, t, hidden)` at the flat positions
    /// `select`.
    ///
    /// # Errors
    /// Tensor errors (shape mismatches).
    pub fn head_selected(&self, hidden: &Tensor, select: &Tensor) -> candle_core::Result<Tensor> {
        let (b, t, h) = hidden.dims3()?;
        let picked = hidden.reshape((b * t, h))?.index_select(select, 0)?;
        self.lm_head.forward(&picked)
    }

    /// Logits `(b, vocab)` of the last position, updating `cache` (generation).
    ///
    /// # Errors
    /// Tensor errors (shape mismatches).
    pub fn forward_last(
        &self,
        input_ids: &Tensor,
        positions: &Tensor,
        mask: &Tensor,
        cache: &mut KvCache,
    ) -> candle_core::Result<Tensor> {
        let hidden = self.model.forward(input_ids, positions, mask, Some(cache))?;
        let t = hidden.dim(1)?;
        let last = hidden.narrow(1, t - 1, 1)?.squeeze(1)?;
        self.lm_head.forward(&last)
    }

    /// An empty generation cache for this model.
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.model.layers.len())
    }
}

/// A decoder with a sequence-classification head, as `transformers`'
/// `LlamaForSequenceClassification`: the backbone (`model.*`) and `score.weight`
/// `(num_labels, hidden)` without bias, applied to the hidden state of each sequence's last
/// token (sequences are right-padded; the causal mask keeps padding out of every real token).
#[derive(Debug, Clone)]
pub struct LlamaForSequenceClassification {
    model: Model,
    score: Linear,
}

impl LlamaForSequenceClassification {
    /// Loads the backbone and `score.weight` from the root of a checkpoint.
    ///
    /// # Errors
    /// A tensor is missing or has the wrong shape.
    pub fn new(cfg: &Config, num_labels: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let model = Model::new(cfg, vb.clone())?;
        let score = vb.pp("score").get((num_labels, cfg.hidden_size), "weight")?;
        Ok(Self { model, score: Linear::new(score, None) })
    }

    /// Logits `(b, num_labels)` of `input_ids` `(b, t)`; `attention_mask` `(b, t)` is 1 for
    /// tokens and 0 for the right padding.
    ///
    /// # Errors
    /// Tensor errors (shape mismatches).
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let (b, t) = input_ids.dims2()?;
        let device = input_ids.device();
        let positions = Tensor::arange(0u32, t as u32, device)?.reshape((1, t))?;
        let hidden =
            self.model.forward(input_ids, &positions, &causal_mask(t, 0, device)?, None)?;
        let lengths: Vec<f32> = attention_mask.to_dtype(DType::F32)?.sum(1)?.to_vec1()?;
        let last: Vec<u32> = lengths
            .iter()
            .enumerate()
            .map(|(i, &n)| (i * t + (n.round() as usize).clamp(1, t) - 1) as u32)
            .collect();
        let last = Tensor::from_vec(last, b, device)?;
        let h = hidden.dim(2)?;
        self.score.forward(&hidden.reshape((b * t, h))?.index_select(&last, 0)?)
    }
}

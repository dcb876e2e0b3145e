//! BERT-family encoders (BERT, MiniLM) written for training, with the Hugging Face
//! `BertForSequenceClassification` and `BertForTokenClassification` heads.
//!
//! Every operation has a backward pass: LayerNorm is a composite of candle ops (candle-nn's fused
//! `layer_norm` has no backward pass and would silently stop the gradient), the attention
//! softmax and the dense layers are the fused ops of [`crate::ops`]. The
//! pieces here (LayerNorm, attention, embeddings, seeded dropout) are shared by
//! [`super::roberta`] and [`super::distilbert`]. Parameter names mirror the Hugging Face
//! checkpoint (`bert.encoder.layer.0.attention.self.query.weight`, `classifier.weight`).

use std::cell::RefCell;

use candle_core::{DType, Module, Tensor, D};
use candle_nn::{Embedding, VarBuilder};

use crate::ops::{linear, Linear};
use serde::{Deserialize, Serialize};

use crate::models::llama::MASKED;
use crate::rng::Rng;

/// A BERT or RoBERTa `config.json` (unknown keys are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    #[serde(default = "default_positions")]
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: Option<u32>,
    /// Dropout before the classifier; `hidden_dropout_prob` when absent.
    #[serde(default)]
    pub classifier_dropout: Option<f64>,
    #[serde(default = "default_init")]
    pub initializer_range: f64,
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_dropout() -> f64 {
    0.1
}
fn default_positions() -> usize {
    512
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_init() -> f64 {
    0.02
}

impl Config {
    /// Checks what this implementation supports.
    ///
    /// # Errors
    /// A message naming the unsupported setting.
    pub fn validate(&self) -> Result<(), String> {
        Activation::parse(&self.hidden_act)?;
        if let Some(p) = self.position_embedding_type.as_deref() {
            if p != "absolute" {
                return Err(format!("position_embedding_type {p:?} is not supported"));
            }
        }
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        Ok(())
    }

    /// The dropout before the classification layer.
    pub fn classifier_dropout(&self) -> f64 {
        self.classifier_dropout.unwrap_or(self.hidden_dropout_prob)
    }
}

/// The feed-forward activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Exact GELU (`gelu`): `x * Φ(x)` through `erf`.
    Gelu,
    /// The tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
    Relu,
}

impl Activation {
    /// Parses a Hugging Face `hidden_act` / `activation` name.
    ///
    /// # Errors
    /// A message naming the unsupported activation.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "gelu" => Ok(Self::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Self::GeluTanh),
            "relu" => Ok(Self::Relu),
            other => Err(format!("activation {other:?} is not supported")),
        }
    }

    /// Applies the activation (every variant has a backward pass in candle).
    ///
    /// # Errors
    /// Tensor errors only.
    pub fn apply(self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Self::Gelu => x.gelu_erf(),
            Self::GeluTanh => x.gelu(),
            Self::Relu => x.relu(),
        }
    }
}

/// Training-time dropout from a seeded generator, so that a step's masks are a pure function of
/// the seed and the step (an exact resume needs no generator state).
#[derive(Debug)]
pub struct Dropout {
    rng: RefCell<Rng>,
}

impl Dropout {
    /// Masks for step `step` of a run seeded with `seed`.
    pub fn new(seed: u64, step: u64) -> Self {
        Self { rng: RefCell::new(Rng::derive(seed ^ 0x00D2_0F00, step)) }
    }

    fn apply(&self, x: &Tensor, p: f64) -> candle_core::Result<Tensor> {
        if p <= 0.0 {
            return Ok(x.clone());
        }
        let scale = (1.0 / (1.0 - p)) as f32;
        let threshold = (p * 4_294_967_296.0) as u64;
        let mut rng = self.rng.borrow_mut();
        let mask: Vec<f32> = (0..x.elem_count())
            .map(|_| if rng.next_u64() >> 32 < threshold { 0.0 } else { scale })
            .collect();
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
        x * mask
    }
}

/// Dropout with probability `p` when `d` is given (training), the identity otherwise.
///
/// # Errors
/// Tensor errors only.
pub fn dropout(x: &Tensor, p: f64, d: Option<&Dropout>) -> candle_core::Result<Tensor> {
    match d {
        Some(d) => d.apply(x, p),
        None => Ok(x.clone()),
    }
}

/// LayerNorm from differentiable ops: `(x - mean) / sqrt(var + eps) * weight + bias`.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    /// Loads `weight` and `bias` of shape `(size,)`.
    ///
    /// # Errors
    /// A tensor is missing or has the wrong shape.
    pub fn new(size: usize, eps: f64, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self { weight: vb.get(size, "weight")?, bias: vb.get(size, "bias")?, eps })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let xc = x.broadcast_sub(&mean)?;
        let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
        let xn = xc.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        xn.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)
    }
}

/// The additive attention mask `(b, 1, 1, t)` of a `(b, t)` mask of ones (tokens) and zeros
/// (padding).
///
/// # Errors
/// Tensor errors only.
pub fn additive_mask(attention_mask: &Tensor, dtype: DType) -> candle_core::Result<Tensor> {
    let (b, t) = attention_mask.dims2()?;
    let m = attention_mask.to_dtype(DType::F32)?;
    let add = ((1.0 - m)? * f64::from(MASKED))?;
    add.reshape((b, 1, 1, t))?.to_dtype(dtype)
}

/// Multi-head scaled dot-product attention over already projected `q`, `k`, `v`
/// (`(b, t, hidden)` each); `mask` is additive `(b, 1, 1, t)`. Returns `(b, t, hidden)`.
///
/// # Errors
/// Tensor errors only.
pub fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &Tensor,
    heads: usize,
    p: f64,
    d: Option<&Dropout>,
) -> candle_core::Result<Tensor> {
    let (b, t, h) = q.dims3()?;
    let hd = h / heads;
    let split = |x: &Tensor| x.reshape((b, t, heads, hd))?.transpose(1, 2)?.contiguous();
    let (q, k, v) = (split(q)?, split(k)?, split(v)?);
    let scale = 1.0 / (hd as f64).sqrt();
    // The padding mask, one row per query position, for the fused softmax.
    let rows = mask.reshape((b, 1, t))?.broadcast_as((b, t, t))?.contiguous()?;
    let att = dropout(&crate::ops::masked_softmax(&q.matmul(&k.t()?)?, &rows, scale)?, p, d)?;
    att.matmul(&v)?.transpose(1, 2)?.reshape((b, t, h))
}

/// Word, position and token-type embeddings, LayerNorm and dropout (`*.embeddings`).
#[derive(Debug, Clone)]
pub struct Embeddings {
    word_embeddings: Embedding,
    position_embeddings: Embedding,
    token_type_embeddings: Option<Tensor>,
    layer_norm: LayerNorm,
    dropout: f64,
    position_offset: usize,
}

impl Embeddings {
    /// Loads `word_embeddings`, `position_embeddings`, `token_type_embeddings` (when
    /// `type_vocab_size > 0`) and `LayerNorm`. Position ids start at `position_offset` (RoBERTa:
    /// `padding_idx + 1`).
    ///
    /// # Errors
    /// A tensor is missing or has the wrong shape.
    pub fn new(cfg: &Config, position_offset: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let h = cfg.hidden_size;
        let word_embeddings = candle_nn::embedding(cfg.vocab_size, h, vb.pp("word_embeddings"))?;
        let position_embeddings =
            candle_nn::embedding(cfg.max_position_embeddings, h, vb.pp("position_embeddings"))?;
        let token_type_embeddings = if cfg.type_vocab_size > 0 {
            Some(vb.pp("token_type_embeddings").get((cfg.type_vocab_size, h), "weight")?)
        } else {
            None
        };
        Ok(Self {
            word_embeddings,
            position_embeddings,
            token_type_embeddings,
            layer_norm: LayerNorm::new(h, cfg.layer_norm_eps, vb.pp("LayerNorm"))?,
            dropout: cfg.hidden_dropout_prob,
            position_offset,
        })
    }

    /// Embeds `input_ids` `(b, t)` (token type 0 everywhere).
    ///
    /// # Errors
    /// Tensor errors (a sequence longer than the position table).
    pub fn forward(&self, input_ids: &Tensor, d: Option<&Dropout>) -> candle_core::Result<Tensor> {
        let t = input_ids.dim(1)?;
        let start = self.position_offset as u32;
        let pos = Tensor::arange(start, start + t as u32, input_ids.device())?;
        let mut x = self
            .word_embeddings
            .forward(input_ids)?
            .broadcast_add(&self.position_embeddings.forward(&pos)?.unsqueeze(0)?)?;
        if let Some(tt) = &self.token_type_embeddings {
            x = x.broadcast_add(&tt.narrow(0, 0, 1)?.unsqueeze(0)?)?;
        }
        dropout(&self.layer_norm.forward(&x)?, self.dropout, d)
    }
}

/// One post-norm encoder layer: self-attention, residual, LayerNorm, feed-forward, residual,
/// LayerNorm. BERT's (`encoder.layer.N`) and, under other names, DistilBERT's
/// (`transformer.layer.N`).
#[derive(Debug, Clone)]
pub struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_output: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
    act: Activation,
    heads: usize,
    hidden_dropout: f64,
    attention_dropout: f64,
    /// BERT drops out the attention output before the residual; DistilBERT does not.
    dropout_after_attention: bool,
}

/// The tensor names of a [`Layer`], relative to the layer's prefix.
#[derive(Debug, Clone, Copy)]
pub struct LayerNames {
    pub query: &'static str,
    pub key: &'static str,
    pub value: &'static str,
    pub attention_output: &'static str,
    pub attention_norm: &'static str,
    pub intermediate: &'static str,
    pub output: &'static str,
    pub output_norm: &'static str,
}

/// BERT's names.
pub const BERT_LAYER: LayerNames = LayerNames {
    query: "attention.self.query",
    key: "attention.self.key",
    value: "attention.self.value",
    attention_output: "attention.output.dense",
    attention_norm: "attention.output.LayerNorm",
    intermediate: "intermediate.dense",
    output: "output.dense",
    output_norm: "output.LayerNorm",
};

/// The sizes and settings of a [`Layer`].
#[derive(Debug, Clone)]
pub struct LayerShape {
    pub hidden: usize,
    pub intermediate: usize,
    pub heads: usize,
    pub eps: f64,
    pub act: String,
    pub hidden_dropout: f64,
    pub attention_dropout: f64,
    pub dropout_after_attention: bool,
}

impl Layer {
    /// Loads a BERT layer: `attention.self.{query,key,value}`, `attention.output.{dense,LayerNorm}`,
    /// `intermediate.dense` and `output.{dense,LayerNorm}`.
    ///
    /// # Errors
    /// A tensor is missing or has the wrong shape.
    pub fn new(cfg: &Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let shape = LayerShape {
            hidden: cfg.hidden_size,
            intermediate: cfg.intermediate_size,
            heads: cfg.num_attention_heads,
            eps: cfg.layer_norm_eps,
            act: cfg.hidden_act.clone(),
            hidden_dropout: cfg.hidden_dropout_prob,
            attention_dropout: cfg.attention_probs_dropout_prob,
            dropout_after_attention: true,
        };
        Self::with_names(&shape, &BERT_LAYER, vb)
    }

    /// Loads a layer of `shape` whose tensors are named `names`.
    ///
    /// # Errors
    /// A tensor is missing or has the wrong shape; an unknown activation.
    pub fn with_names(
        shape: &LayerShape,
        names: &LayerNames,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        let (h, i, eps) = (shape.hidden, shape.intermediate, shape.eps);
        Ok(Self {
            query: linear(h, h, true, vb.pp(names.query))?,
            key: linear(h, h, true, vb.pp(names.key))?,
            value: linear(h, h, true, vb.pp(names.value))?,
            attention_output: linear(h, h, true, vb.pp(names.attention_output))?,
            attention_norm: LayerNorm::new(h, eps, vb.pp(names.attention_norm))?,
            intermediate: linear(h, i, true, vb.pp(names.intermediate))?,
            output: linear(i, h, true, vb.pp(names.output))?,
            output_norm: LayerNorm::new(h, eps, vb.pp(names.output_norm))?,
            act: Activation::parse(&shape.act).map_err(candle_core::Error::Msg)?,
            heads: shape.heads,
            hidden_dropout: shape.hidden_dropout,
            attention_dropout: shape.attention_dropout,
            dropout_after_attention: shape.dropout_after_attention,
        })
    }

    /// `x` `(b, t, hidden)` with the additive padding `mask`; `d` while training.
    ///
    /// # Errors
    /// Tensor errors.
    pub fn forward(
        &self,
        x: &Tensor,
        mask: &Tensor,
        d: Option<&Dropout>,
    ) -> candle_core::Result<Tensor> {
        let ctx = attention(
            &self.query.forward(x)?,
            &self.key.forward(x)?,
            &self.value.forward(x)?,
            mask,
            self.heads,
            self.attention_dropout,
            d,
        )?;
        let mut a = self.attention_output.forward(&ctx)?;
        if self.dropout_after_attention {
            a = dropout(&a, self.hidden_dropout, d)?;
        }
        let a = self.attention_norm.forward(&(a + x)?)?;
        let i = self.act.apply(&self.intermediate.forward(&a)?)?;
        let o = dropout(&self.output.forward(&i)?, self.hidden_dropout, d)?;
        self.output_norm.forward(&(o + a)?)
    }
}

/// The encoder backbone without pooler (`bert.*` or `roberta.*`): embeddings and layers.
#[derive(Debug, Clone)]
pub struct Encoder {
    embeddings: Embeddings,
    layers: Vec<Layer>,
}

impl Encoder {
    /// Loads `embeddings.*` and `encoder.layer.N.*` under `vb`.
    ///
    /// # Errors
    /// A tensor is missing or has the wrong shape.
    pub fn new(cfg: &Config, position_offset: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let embeddings = Embeddings::new(cfg, position_offset, vb.pp("embeddings"))?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| Layer::new(cfg, vb.pp(format!("encoder.layer.{i}"))))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self { embeddings, layers })
    }

    /// Hidden states `(b, t, hidden)`; `attention_mask` is `(b, t)`, 1 for tokens, 0 for padding.
    ///
    /// # Errors
    /// Tensor errors (shape mismatches).
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        d: Option<&Dropout>,
    ) -> candle_core::Result<Tensor> {
        let mut x = self.embeddings.forward(input_ids, d)?;
        let mask = additive_mask(attention_mask, x.dtype())?;
        for layer in &self.layers {
            x = layer.forward(&x, &mask, d)?;
        }
        Ok(x)
    }
}

/// The first (`[CLS]`) position of hidden states `(b, t, h)`: `(b, h)`.
///
/// # Errors
/// Tensor errors only.
pub fn first_token(hidden: &Tensor) -> candle_core::Result<Tensor> {
    hidden.narrow(1, 0, 1)?.squeeze(1)
}

/// `BertForSequenceClassification`: the encoder, the pooler (dense + tanh on `[CLS]`), dropout
/// and `classifier`.
#[derive(Debug, Clone)]
pub struct BertForSequenceClassification {
    bert: Encoder,
    pooler: Linear,
    classifier: Linear,
    dropout: f64,
}

impl BertForSequenceClassification {
    /// Loads `bert.*` (with `bert.pooler.dense`) and `classifier` from the checkpoint root.
    ///
    /// # Errors
    /// A tensor is missing or has the wrong shape.
    pub fn new(cfg: &Config, num_labels: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let h = cfg.hidden_size;
        Ok(Self {
            bert: Encoder::new(cfg, 0, vb.pp("bert"))?,
            pooler: linear(h, h, true, vb.pp("bert.pooler.dense"))?,
            classifier: linear(h, num_labels, true, vb.pp("classifier"))?,
            dropout: cfg.classifier_dropout(),
        })
    }

    /// Logits `(b, num_labels)`.
    ///
    /// # Errors
    /// Tensor errors (shape mismatches).
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        d: Option<&Dropout>,
    ) -> candle_core::Result<Tensor> {
        let hidden = self.bert.forward(input_ids, attention_mask, d)?;
        let pooled = self.pooler.forward(&first_token(&hidden)?)?.tanh()?;
        self.classifier.forward(&dropout(&pooled, self.dropout, d)?)
    }
}

/// `BertForTokenClassification`: the encoder without pooler, dropout and `classifier` on every
/// token (as `transformers` builds it: `add_pooling_layer=False`).
#[derive(Debug, Clone)]
pub struct BertForTokenClassification {
    bert: Encoder,
    classifier: Linear,
    dropout: f64,
}

impl BertForTokenClassification {
    /// Loads `bert.*` (no pooler) and `classifier` from the checkpoint root.
    ///
    /// # Errors
    /// A tensor is missing or has the wrong shape.
    pub fn new(cfg: &Config, num_labels: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self {
            bert: Encoder::new(cfg, 0, vb.pp("bert"))?,
            classifier: linear(cfg.hidden_size, num_labels, true, vb.pp("classifier"))?,
            dropout: cfg.classifier_dropout(),
        })
    }

    /// Logits `(b, t, num_labels)`.
    ///
    /// # Errors
    /// Tensor errors (shape mismatches).
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        d: Option<&Dropout>,
    ) -> candle_core::Result<Tensor> {
        let hidden = self.bert.forward(input_ids, attention_mask, d)?;
        self.classifier.forward(&dropout(&hidden, self.dropout, d)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn layer_norm_matches_the_definition() {
        // x = [1, 2, 3, 4]: mean 2.5, variance 1.25, so (x - 2.5) / sqrt(1.25) with w = 2, b = 1
        // gives 1 + 2 * [-1.341641, -0.447214, 0.447214, 1.341641].
        let dev = Device::Cpu;
        let ln = LayerNorm {
            weight: Tensor::full(2f32, 4, &dev).unwrap(),
            bias: Tensor::ones(4, DType::F32, &dev).unwrap(),
            eps: 0.0,
        };
        let x = Tensor::new(&[[1f32, 2., 3., 4.]], &dev).unwrap();
        let y: Vec<f32> = ln.forward(&x).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let want = [-1.683282f32, 0.105573, 1.894427, 3.683282];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{y:?}");
        }
    }

    #[test]
    fn dropout_is_seeded_and_scales_what_it_keeps() {
        let x = Tensor::ones(1000, DType::F32, &Device::Cpu).unwrap();
        let a: Vec<f32> = Dropout::new(1, 5).apply(&x, 0.5).unwrap().to_vec1().unwrap();
        let b: Vec<f32> = Dropout::new(1, 5).apply(&x, 0.5).unwrap().to_vec1().unwrap();
        assert_eq!(a, b);
        assert!(a.iter().all(|&v| v == 0.0 || v == 2.0));
        let kept = a.iter().filter(|&&v| v > 0.0).count();
        assert!((400..600).contains(&kept), "{kept}");
    }
}

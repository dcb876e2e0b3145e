//! DistilBERT with the Hugging Face `DistilBertForSequenceClassification` head, written for
//! training.
//!
//! Names follow the checkpoint: `distilbert.embeddings.*`,
//! `distilbert.transformer.layer.N.attention.{q_lin,k_lin,v_lin,out_lin}`, `sa_layer_norm`,
//! `ffn.{lin1,lin2}`, `output_layer_norm`, then `pre_classifier` (ReLU) and `classifier` on the
//! first token.

use candle_core::{Module, Tensor};
use candle_nn::{Embedding, VarBuilder};

use serde::{Deserialize, Serialize};

use crate::models::bert::{
    additive_mask, dropout, first_token, Activation, Dropout, Layer, LayerNames, LayerNorm,
    LayerShape,
};
use crate::ops::{linear, Linear};

/// A DistilBERT `config.json` (unknown keys are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    pub dim: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub hidden_dim: usize,
    #[serde(default = "default_positions")]
    pub max_position_embeddings: usize,
    #[serde(default = "default_dropout")]
    pub dropout: f64,
    #[serde(default = "default_dropout")]
    pub attention_dropout: f64,
    #[serde(default = "default_classif_dropout")]
    pub seq_classif_dropout: f64,
    #[serde(default = "default_act")]
    pub activation: String,
    #[serde(default = "default_init")]
    pub initializer_range: f64,
    #[serde(default)]
    pub pad_token_id: Option<u32>,
    #[serde(default)]
    pub sinusoidal_pos_embds: bool,
}

fn default_positions() -> usize {
    512
}
fn default_dropout() -> f64 {
    0.1
}
fn default_classif_dropout() -> f64 {
    0.2
}
fn default_act() -> String {
    "gelu".into()
}
fn default_init() -> f64 {
    0.02
}

/// DistilBERT's LayerNorm epsilon (fixed in the Hugging Face code).
const EPS: f64 = 1e-12;

impl Config {
    /// Checks what this implementation supports.
    ///
    /// # Errors
    /// A message naming the unsupported setting.
    pub fn validate(&self) -> Result<(), String> {
        Activation::parse(&self.activation)?;
        if self.sinusoidal_pos_embds {
            return Err("sinusoidal_pos_embds is not supported".into());
        }
        if self.n_heads == 0 || !self.dim.is_multiple_of(self.n_heads) {
            return Err(format!("dim {} is not a multiple of n_heads {}", self.dim, self.n_heads));
        }
        Ok(())
    }
}

/// DistilBERT's names for the tensors of a post-norm layer.
const DISTILBERT_LAYER: LayerNames = LayerNames {
    query: "attention.q_lin",
    key: "attention.k_lin",
    value: "attention.v_lin",
    attention_output: "attention.out_lin",
    attention_norm: "sa_layer_norm",
    intermediate: "ffn.lin1",
    output: "ffn.lin2",
    output_norm: "output_layer_norm",
};

/// `DistilBertForSequenceClassification`.
#[derive(Debug, Clone)]
pub struct DistilBertForSequenceClassification {
    word_embeddings: Embedding,
    position_embeddings: Embedding,
    embeddings_norm: LayerNorm,
    layers: Vec<Layer>,
    pre_classifier: Linear,
    classifier: Linear,
    dropout: f64,
    classifier_dropout: f64,
}

impl DistilBertForSequenceClassification {
    /// Loads `distilbert.*`, `pre_classifier` and `classifier` from the checkpoint root.
    ///
    /// # Errors
    /// A tensor is missing or has the wrong shape.
    pub fn new(cfg: &Config, num_labels: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let d = cfg.dim;
        let base = vb.pp("distilbert");
        let shape = LayerShape {
            hidden: d,
            intermediate: cfg.hidden_dim,
            heads: cfg.n_heads,
            eps: EPS,
            act: cfg.activation.clone(),
            hidden_dropout: cfg.dropout,
            attention_dropout: cfg.attention_dropout,
            dropout_after_attention: false,
        };
        let emb = base.pp("embeddings");
        Ok(Self {
            word_embeddings: candle_nn::embedding(cfg.vocab_size, d, emb.pp("word_embeddings"))?,
            position_embeddings: candle_nn::embedding(
                cfg.max_position_embeddings,
                d,
                emb.pp("position_embeddings"),
            )?,
            embeddings_norm: LayerNorm::new(d, EPS, emb.pp("LayerNorm"))?,
            layers: (0..cfg.n_layers)
                .map(|i| {
                    Layer::with_names(
                        &shape,
                        &DISTILBERT_LAYER,
                        base.pp(format!("transformer.layer.{i}")),
                    )
                })
                .collect::<candle_core::Result<Vec<_>>>()?,
            pre_classifier: linear(d, d, true, vb.pp("pre_classifier"))?,
            classifier: linear(d, num_labels, true, vb.pp("classifier"))?,
            dropout: cfg.dropout,
            classifier_dropout: cfg.seq_classif_dropout,
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
        let t = input_ids.dim(1)?;
        let pos = Tensor::arange(0u32, t as u32, input_ids.device())?;
        let x = self
            .word_embeddings
            .forward(input_ids)?
            .broadcast_add(&self.position_embeddings.forward(&pos)?.unsqueeze(0)?)?;
        let mut x = dropout(&self.embeddings_norm.forward(&x)?, self.dropout, d)?;
        let mask = additive_mask(attention_mask, x.dtype())?;
        for layer in &self.layers {
            x = layer.forward(&x, &mask, d)?;
        }
        let pooled = self.pre_classifier.forward(&first_token(&x)?)?.relu()?;
        self.classifier.forward(&dropout(&pooled, self.classifier_dropout, d)?)
    }
}

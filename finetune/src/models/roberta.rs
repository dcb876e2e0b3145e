//! RoBERTa-family encoders (RoBERTa, CamemBERT, XLM-RoBERTa) with the Hugging Face
//! `RobertaForSequenceClassification` head, written for training.
//!
//! The backbone is BERT's ([`super::bert::Encoder`], under `roberta.*`, no pooler) with position
//! ids that start at `padding_idx + 1`; the head is `classifier.dense` (tanh) and
//! `classifier.out_proj` on the first (`<s>`) token, with dropout before each.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::ops::{linear, Linear};

use crate::models::bert::{dropout, first_token, Config, Dropout, Encoder};

/// `RobertaForSequenceClassification` (also CamemBERT's and XLM-RoBERTa's).
#[derive(Debug, Clone)]
pub struct RobertaForSequenceClassification {
    roberta: Encoder,
    dense: Linear,
    out_proj: Linear,
    dropout: f64,
}

impl RobertaForSequenceClassification {
    /// Loads `roberta.*` and `classifier.{dense,out_proj}` from the checkpoint root.
    ///
    /// # Errors
    /// A tensor is missing or has the wrong shape.
    pub fn new(cfg: &Config, num_labels: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let h = cfg.hidden_size;
        let offset = cfg.pad_token_id.unwrap_or(1) as usize + 1;
        Ok(Self {
            roberta: Encoder::new(cfg, offset, vb.pp("roberta"))?,
            dense: linear(h, h, true, vb.pp("classifier.dense"))?,
            out_proj: linear(h, num_labels, true, vb.pp("classifier.out_proj"))?,
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
        let hidden = self.roberta.forward(input_ids, attention_mask, d)?;
        let x = dropout(&first_token(&hidden)?, self.dropout, d)?;
        let x = dropout(&self.dense.forward(&x)?.tanh()?, self.dropout, d)?;
        self.out_proj.forward(&x)
    }
}

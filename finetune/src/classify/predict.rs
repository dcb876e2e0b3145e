//! Inference with a saved classifier: probabilities for texts, label predictions for a file
//! (JSONL that `eval classify` reads), and base-versus-fine-tuned comparisons.

use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use crate::classify::data::{read_table, Columns};
use crate::classify::model::{ClassifierDir, SequenceClassifier};
use crate::{Error, Result};

/// Token ids of `texts`, truncated by the tokenizer's settings, special tokens added.
///
/// # Errors
/// The tokenizer fails.
pub fn encode_texts(tokenizer: &Tokenizer, texts: &[String]) -> Result<Vec<Vec<u32>>> {
    let enc = tokenizer.encode_batch(texts.to_vec(), true).map_err(Error::tokenizer)?;
    Ok(enc.into_iter().map(|e| e.get_ids().to_vec()).collect())
}

/// A padded batch: `input_ids` `(b, t)` u32 and `attention_mask` `(b, t)` f32, `t` the longest
/// member (or `pad_to` when given and longer).
///
/// # Errors
/// Tensor errors only.
pub fn make_batch(
    seqs: &[&[u32]],
    pad_id: u32,
    pad_to: Option<usize>,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let longest = seqs.iter().map(|s| s.len()).max().unwrap_or(1).max(1);
    let t = pad_to.map_or(longest, |p| p.max(longest));
    let mut ids = Vec::with_capacity(seqs.len() * t);
    let mut mask = Vec::with_capacity(seqs.len() * t);
    for s in seqs {
        ids.extend_from_slice(s);
        ids.extend(std::iter::repeat_n(pad_id, t - s.len()));
        mask.extend(std::iter::repeat_n(1f32, s.len()));
        mask.extend(std::iter::repeat_n(0f32, t - s.len()));
    }
    let b = seqs.len();
    Ok((Tensor::from_vec(ids, (b, t), device)?, Tensor::from_vec(mask, (b, t), device)?))
}

/// Class probabilities of every sequence, in input order; sequences are batched by length.
///
/// # Errors
/// Tensor errors.
pub fn probabilities(
    model: &SequenceClassifier,
    seqs: &[Vec<u32>],
    batch_size: usize,
    pad_id: u32,
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let mut order: Vec<usize> = (0..seqs.len()).collect();
    order.sort_by_key(|&i| seqs[i].len());
    let mut out = vec![Vec::new(); seqs.len()];
    for chunk in order.chunks(batch_size.max(1)) {
        let batch: Vec<&[u32]> = chunk.iter().map(|&i| seqs[i].as_slice()).collect();
        let (ids, mask) = make_batch(&batch, pad_id, None, device)?;
        let logits = model.forward(&ids, &mask, None)?.detach();
        let probs = candle_nn::ops::softmax_last_dim(&logits.to_dtype(DType::F32)?)?;
        for (&i, row) in chunk.iter().zip(probs.to_vec2::<f32>()?) {
            out[i] = row;
        }
    }
    Ok(out)
}

/// The index of the largest value.
pub fn argmax(p: &[f32]) -> usize {
    p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i)
}

/// A loaded classifier with its labels and tokenizer.
pub struct Classifier {
    pub dir: ClassifierDir,
    pub model: SequenceClassifier,
    pub labels: Vec<String>,
    tokenizer: Tokenizer,
    device: Device,
}

/// One prediction line of `classify predict --out`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelPrediction {
    /// `FILE#LINE` for file input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub text: String,
    /// The true label, when the input has one (as `eval classify` expects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub predicted: String,
    pub confidence: f32,
    /// Label → probability.
    pub probabilities: serde_json::Map<String, serde_json::Value>,
}

/// Tokens per text when neither the caller nor the classifier says (`classify train`'s default).
pub const DEFAULT_MAX_LENGTH: usize = 128;

impl Classifier {
    /// Loads a saved classifier (a `*ForSequenceClassification` directory with `id2label`).
    ///
    /// # Errors
    /// The directory is not a classifier or its files are invalid.
    /// `max_length` defaults to the length the classifier was trained with (its
    /// `model_max_length`), else [`DEFAULT_MAX_LENGTH`].
    pub fn load(path: &Path, max_length: Option<usize>, device: &Device) -> Result<Self> {
        let dir = ClassifierDir::open(path)?;
        let labels = dir.labels.clone().ok_or_else(|| {
            Error::model(path.join("config.json"), "not a sequence classifier (no id2label)")
        })?;
        let max_length = max_length.or(dir.model_max_length).unwrap_or(DEFAULT_MAX_LENGTH);
        Self::with_labels(dir, labels, max_length, device)
    }

    /// Loads any supported directory with the given labels; a base encoder without a head gets a
    /// randomly initialised one (seed 0), as `transformers` does.
    ///
    /// # Errors
    /// The files are invalid.
    pub fn with_labels(
        dir: ClassifierDir,
        labels: Vec<String>,
        max_length: usize,
        device: &Device,
    ) -> Result<Self> {
        let (model, _, _) = dir.load(labels.len(), 0, device)?;
        let tokenizer = dir.tokenizer_for(max_length.min(dir.arch.max_positions()))?;
        Ok(Self { dir, model, labels, tokenizer, device: device.clone() })
    }

    /// Class probabilities of each text.
    ///
    /// # Errors
    /// Tokenizer or tensor errors.
    pub fn probabilities(&self, texts: &[String], batch_size: usize) -> Result<Vec<Vec<f32>>> {
        let seqs = encode_texts(&self.tokenizer, texts)?;
        probabilities(&self.model, &seqs, batch_size, self.dir.arch.pad_id(), &self.device)
    }

    /// A prediction line for a text and its probabilities.
    pub fn prediction(&self, text: &str, probs: &[f32]) -> LabelPrediction {
        let best = argmax(probs);
        LabelPrediction {
            id: None,
            text: text.to_owned(),
            label: None,
            predicted: self.labels[best].clone(),
            confidence: probs[best],
            probabilities: self
                .labels
                .iter()
                .zip(probs)
                .map(|(l, &p)| (l.clone(), serde_json::json!((p * 1e6).round() / 1e6)))
                .collect(),
        }
    }
}

/// What `classify predict --input` reads and writes.
#[derive(Debug, Clone)]
pub struct PredictConfig {
    pub model: PathBuf,
    pub input: PathBuf,
    pub out: PathBuf,
    pub columns: Columns,
    pub batch_size: usize,
    /// Tokens per text; `None`: the length the classifier was trained with.
    pub max_length: Option<usize>,
    pub device: Device,
}

/// Predicts every row of a file into JSONL; returns the predictions.
///
/// # Errors
/// Unreadable input, an invalid model, or an unwritable output.
pub fn predict_file(cfg: &PredictConfig) -> Result<Vec<LabelPrediction>> {
    let clf = Classifier::load(&cfg.model, cfg.max_length, &cfg.device)?;
    let table = read_table(&cfg.input, &cfg.columns, false)?;
    let texts: Vec<String> = table.rows.iter().map(|r| r.text.clone()).collect();
    let probs = clf.probabilities(&texts, cfg.batch_size)?;
    let name = cfg.input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let preds: Vec<LabelPrediction> = table
        .rows
        .iter()
        .zip(&probs)
        .map(|(r, p)| {
            let mut pred = clf.prediction(&r.text, p);
            pred.id = Some(format!("{name}#{}", r.line));
            pred.label = r.label.clone();
            pred
        })
        .collect();
    write_jsonl(&cfg.out, &preds)?;
    Ok(preds)
}

/// Writes serialisable lines atomically.
///
/// # Errors
/// I/O errors name the file.
pub fn write_jsonl<T: Serialize>(path: &Path, lines: &[T]) -> Result<()> {
    records::atomic::write_atomic(path, |w| {
        for l in lines {
            serde_json::to_writer(&mut *w, l).map_err(std::io::Error::other)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })?;
    Ok(())
}

/// One row of `classify compare`: the base model's and the fine-tuned model's predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub base: String,
    pub base_confidence: f32,
    pub tuned: String,
    pub tuned_confidence: f32,
}

/// Predicts `input` with the fine-tuned classifier `model` and with `base` given the same
/// labels (its head initialised from seed 0 when it has none, as `transformers` would).
///
/// # Errors
/// Unreadable input or invalid models.
pub fn compare(
    base: &Path,
    model: &Path,
    input: &Path,
    columns: &Columns,
    batch_size: usize,
    max_length: Option<usize>,
    device: &Device,
) -> Result<Vec<Comparison>> {
    let tuned = Classifier::load(model, max_length, device)?;
    let max_length =
        max_length.or(ClassifierDir::open(model)?.model_max_length).unwrap_or(DEFAULT_MAX_LENGTH);
    let base_dir = ClassifierDir::open(base)?;
    let base = Classifier::with_labels(base_dir, tuned.labels.clone(), max_length, device)?;
    let table = read_table(input, columns, false)?;
    let texts: Vec<String> = table.rows.iter().map(|r| r.text.clone()).collect();
    let pb = base.probabilities(&texts, batch_size)?;
    let pt = tuned.probabilities(&texts, batch_size)?;
    Ok(table
        .rows
        .iter()
        .zip(pb.iter().zip(&pt))
        .map(|(r, (b, t))| {
            let (bi, ti) = (argmax(b), argmax(t));
            Comparison {
                text: r.text.clone(),
                label: r.label.clone(),
                base: base.labels[bi].clone(),
                base_confidence: b[bi],
                tuned: tuned.labels[ti].clone(),
                tuned_confidence: t[ti],
            }
        })
        .collect())
}

//! Sequence-classification model directories: which architecture a Hugging Face directory
//! holds, loading it with a classification head (initialised when the base has none), and
//! writing a directory that `transformers`' `AutoModelForSequenceClassification` loads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use tokenizers::{Tokenizer, TruncationParams};

use crate::model_dir::{
    build_with, load_safetensors_dir, read_json, Params, CONFIG_FILE, TOKENIZER_CONFIG_FILE,
    TOKENIZER_FILE, WEIGHTS_FILE,
};
use crate::models::bert::{
    self, BertForSequenceClassification, BertForTokenClassification, Dropout,
};
use crate::models::distilbert::{self, DistilBertForSequenceClassification};
use crate::models::llama::{self, LlamaForSequenceClassification};
use crate::models::roberta::RobertaForSequenceClassification;
use crate::rng::Rng;
use crate::{Error, Result};

/// Tokenizer side files copied into a saved classifier when the base has them (the slow
/// tokenizers of `transformers` read these).
const TOKENIZER_SIDE_FILES: [&str; 6] = [
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "tokenizer.model",
];

/// The encoder architectures supported, with their configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum Arch {
    /// BERT and BERT-shaped models (MiniLM).
    Bert(bert::Config),
    DistilBert(distilbert::Config),
    /// RoBERTa, CamemBERT and XLM-RoBERTa; the string is the `model_type`.
    Roberta(bert::Config, String),
    /// A Llama-family decoder (Llama, SmolLM2, Qwen2, Mistral) with last-token pooling.
    Decoder(Box<DecoderHead>),
}

/// What a decoder classifier needs beside the backbone's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct DecoderHead {
    pub config: llama::Config,
    /// `pad_token_id` of `config.json`, else `eos_token_id`, else 0; saved into the
    /// classifier's config (`transformers` needs it to find each sequence's last token).
    pub pad_id: u32,
    pub initializer_range: f64,
}

impl Arch {
    /// Reads the architecture from a `config.json` value (by `model_type`).
    ///
    /// # Errors
    /// Unknown or unsupported model type or configuration; the error names the file.
    pub fn from_config(path: &Path, v: &serde_json::Value) -> Result<Self> {
        let model_type = v.get("model_type").and_then(|m| m.as_str()).unwrap_or("");
        let parse_err = |e: serde_json::Error| Error::json(path, 0, e);
        let arch = match model_type {
            "bert" => Self::Bert(serde_json::from_value(v.clone()).map_err(parse_err)?),
            "distilbert" => Self::DistilBert(serde_json::from_value(v.clone()).map_err(parse_err)?),
            "roberta" | "camembert" | "xlm-roberta" => {
                Self::Roberta(serde_json::from_value(v.clone()).map_err(parse_err)?, model_type.into())
            }
            "llama" | "qwen2" | "mistral" => {
                let config: llama::Config =
                    serde_json::from_value(v.clone()).map_err(parse_err)?;
                let id = |key: &str| {
                    v.get(key).and_then(|x| x.as_u64().or_else(|| x.get(0)?.as_u64()))
                };
                let pad_id = id("pad_token_id").or_else(|| id("eos_token_id")).unwrap_or(0) as u32;
                let initializer_range =
                    v.get("initializer_range").and_then(serde_json::Value::as_f64).unwrap_or(0.02);
                Self::Decoder(Box::new(DecoderHead { config, pad_id, initializer_range }))
            }
            other => {
                return Err(Error::model(
                    path,
                    format!(
                        "model_type {other:?} is not a supported classifier (bert, distilbert, roberta, camembert, xlm-roberta, llama, qwen2, mistral)"
                    ),
                ))
            }
        };
        let checked = match &arch {
            Self::Bert(c) | Self::Roberta(c, _) => c.validate(),
            Self::DistilBert(c) => c.validate(),
            Self::Decoder(d) => d.config.validate(),
        };
        checked.map_err(|m| Error::model(path, m))?;
        Ok(arch)
    }

    /// The name prefix of the backbone's tensors (`bert`, `distilbert`, `roberta`).
    pub fn prefix(&self) -> &'static str {
        match self {
            Self::Bert(_) => "bert",
            Self::DistilBert(_) => "distilbert",
            Self::Roberta(..) => "roberta",
            Self::Decoder(_) => "model",
        }
    }

    /// The `architectures` entry of a saved classifier.
    pub fn class_name(&self) -> &'static str {
        match self {
            Self::Bert(_) => "BertForSequenceClassification",
            Self::DistilBert(_) => "DistilBertForSequenceClassification",
            Self::Roberta(_, t) if t == "camembert" => "CamembertForSequenceClassification",
            Self::Roberta(_, t) if t == "xlm-roberta" => "XLMRobertaForSequenceClassification",
            Self::Roberta(..) => "RobertaForSequenceClassification",
            Self::Decoder(d) => match d.config.model_type.as_deref() {
                Some("qwen2") => "Qwen2ForSequenceClassification",
                Some("mistral") => "MistralForSequenceClassification",
                _ => "LlamaForSequenceClassification",
            },
        }
    }

    fn hidden(&self) -> usize {
        match self {
            Self::Bert(c) | Self::Roberta(c, _) => c.hidden_size,
            Self::DistilBert(c) => c.dim,
            Self::Decoder(d) => d.config.hidden_size,
        }
    }

    fn initializer_range(&self) -> f64 {
        match self {
            Self::Bert(c) | Self::Roberta(c, _) => c.initializer_range,
            Self::DistilBert(c) => c.initializer_range,
            Self::Decoder(d) => d.initializer_range,
        }
    }

    /// The padding token id (BERT and DistilBERT 0, RoBERTa 1 unless configured).
    pub fn pad_id(&self) -> u32 {
        match self {
            Self::Bert(c) => c.pad_token_id.unwrap_or(0),
            Self::Roberta(c, _) => c.pad_token_id.unwrap_or(1),
            Self::DistilBert(c) => c.pad_token_id.unwrap_or(0),
            Self::Decoder(d) => d.pad_id,
        }
    }

    /// The longest input the position table allows, in tokens.
    pub fn max_positions(&self) -> usize {
        match self {
            Self::Bert(c) => c.max_position_embeddings,
            Self::Roberta(c, _) => {
                c.max_position_embeddings - c.pad_token_id.unwrap_or(1) as usize - 1
            }
            Self::DistilBert(c) => c.max_position_embeddings,
            Self::Decoder(d) => d.config.max_position_embeddings.unwrap_or(usize::MAX),
        }
    }

    /// The head's tensors `(name, shape)`: initialised when the checkpoint lacks them.
    fn head_shapes(&self, num_labels: usize) -> Vec<(String, Vec<usize>)> {
        let h = self.hidden();
        let (inner, outer) = match self {
            Self::Bert(_) => ("bert.pooler.dense", "classifier"),
            Self::DistilBert(_) => ("pre_classifier", "classifier"),
            Self::Roberta(..) => ("classifier.dense", "classifier.out_proj"),
            Self::Decoder(_) => return vec![("score.weight".into(), vec![num_labels, h])],
        };
        vec![
            (format!("{inner}.weight"), vec![h, h]),
            (format!("{inner}.bias"), vec![h]),
            (format!("{outer}.weight"), vec![num_labels, h]),
            (format!("{outer}.bias"), vec![num_labels]),
        ]
    }
}

/// A classifier of any supported architecture.
#[derive(Debug, Clone)]
pub enum SequenceClassifier {
    Bert(BertForSequenceClassification),
    DistilBert(DistilBertForSequenceClassification),
    Roberta(RobertaForSequenceClassification),
    Decoder(LlamaForSequenceClassification),
}

impl SequenceClassifier {
    /// Logits `(b, num_labels)` of `input_ids` `(b, t)` with `attention_mask` `(b, t)` (1 for
    /// tokens, 0 for padding); `dropout` is given while training.
    ///
    /// # Errors
    /// Tensor errors (shape mismatches).
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        dropout: Option<&Dropout>,
    ) -> candle_core::Result<Tensor> {
        match self {
            Self::Bert(m) => m.forward(input_ids, attention_mask, dropout),
            Self::DistilBert(m) => m.forward(input_ids, attention_mask, dropout),
            Self::Roberta(m) => m.forward(input_ids, attention_mask, dropout),
            // Llama-family models are trained without dropout (attention_dropout 0).
            Self::Decoder(m) => m.forward(input_ids, attention_mask),
        }
    }
}

/// An opened Hugging Face directory of a supported encoder (weights not loaded yet).
#[derive(Debug, Clone)]
pub struct ClassifierDir {
    pub path: PathBuf,
    pub arch: Arch,
    /// The whole `config.json`, kept to write it back with the classification keys.
    pub config: serde_json::Value,
    pub tokenizer: Tokenizer,
    /// The labels of a saved classifier (`id2label` of a `*ForSequenceClassification` config).
    pub labels: Option<Vec<String>>,
    /// `model_max_length` of `tokenizer_config.json`: for a classifier saved by `train`, the
    /// length it was trained with.
    pub model_max_length: Option<usize>,
}

impl ClassifierDir {
    /// Reads `config.json` and `tokenizer.json` of `path`.
    ///
    /// # Errors
    /// A file is missing or invalid, or the architecture is not supported.
    pub fn open(path: &Path) -> Result<Self> {
        let config_path = path.join(CONFIG_FILE);
        let config: serde_json::Value = read_json(&config_path)?;
        let arch = Arch::from_config(&config_path, &config)?;
        let tok_path = path.join(TOKENIZER_FILE);
        if !tok_path.exists() {
            return Err(Error::model(&tok_path, "missing tokenizer file"));
        }
        let tokenizer = Tokenizer::from_file(&tok_path)
            .map_err(|e| Error::model(&tok_path, format!("invalid tokenizer: {e}")))?;
        let is_classifier =
            config.get("architectures").and_then(|a| a.as_array()).is_some_and(|a| {
                a.iter().any(|n| {
                    n.as_str().is_some_and(|n| {
                        n.ends_with("ForSequenceClassification")
                            || n.ends_with("ForTokenClassification")
                    })
                })
            });
        let labels = if is_classifier { id2label(&config_path, &config)? } else { None };
        let tok_config = path.join(TOKENIZER_CONFIG_FILE);
        let model_max_length = if tok_config.exists() {
            let json: serde_json::Value = read_json(&tok_config)?;
            // Hugging Face writes a huge sentinel when there is no limit.
            json.get("model_max_length")
                .and_then(serde_json::Value::as_u64)
                .filter(|&n| n < 1 << 32)
                .map(|n| n as usize)
        } else {
            None
        };
        Ok(Self { path: path.to_owned(), arch, config, tokenizer, labels, model_max_length })
    }

    /// A tokenizer that truncates to `max_length` tokens (special tokens included) and does not
    /// pad (batches are padded to their longest member).
    ///
    /// # Errors
    /// The tokenizer rejects the truncation settings.
    pub fn tokenizer_for(&self, max_length: usize) -> Result<Tokenizer> {
        let mut tok = self.tokenizer.clone();
        tok.with_truncation(Some(TruncationParams { max_length, ..Default::default() }))
            .map_err(Error::tokenizer)?;
        tok.with_padding(None);
        Ok(tok)
    }

    /// Loads the weights as f32 variables and builds the classifier for `num_labels` labels.
    /// Head tensors that the checkpoint lacks (or holds for another label count) are
    /// initialised as `transformers` does (normal weights with `initializer_range`, zero biases,
    /// from `seed`); their names are returned. Sentence-transformers directories, whose names
    /// lack the backbone prefix (`embeddings.*` instead of `bert.embeddings.*`), are accepted.
    ///
    /// # Errors
    /// The weights are missing, unreadable, or do not match the configuration.
    pub fn load(
        &self,
        num_labels: usize,
        seed: u64,
        device: &Device,
    ) -> Result<(SequenceClassifier, Params, Vec<String>)> {
        let mut tensors = load_safetensors_dir(&self.path, device)?;
        let prefix = format!("{}.", self.arch.prefix());
        if !tensors.keys().any(|k| k.starts_with(&prefix)) {
            tensors = tensors
                .into_iter()
                .map(|(k, t)| {
                    let head = k.starts_with("classifier.")
                        || k.starts_with("pre_classifier.")
                        || k.starts_with("score.");
                    (if head { k } else { format!("{prefix}{k}") }, t)
                })
                .collect();
        }
        let initialised = init_head(&mut tensors, &self.arch, num_labels, seed, device)?;
        let weights = self.path.join(WEIGHTS_FILE);
        let err = |e: candle_core::Error| Error::model(&weights, e.to_string());
        let (model, params) = match &self.arch {
            Arch::Bert(c) => build_with(tensors, device, DType::F32, |vb| {
                BertForSequenceClassification::new(c, num_labels, vb).map(SequenceClassifier::Bert)
            }),
            Arch::DistilBert(c) => build_with(tensors, device, DType::F32, |vb| {
                DistilBertForSequenceClassification::new(c, num_labels, vb)
                    .map(SequenceClassifier::DistilBert)
            }),
            Arch::Roberta(c, _) => build_with(tensors, device, DType::F32, |vb| {
                RobertaForSequenceClassification::new(c, num_labels, vb)
                    .map(SequenceClassifier::Roberta)
            }),
            Arch::Decoder(d) => build_with(tensors, device, DType::F32, |vb| {
                LlamaForSequenceClassification::new(&d.config, num_labels, vb)
                    .map(SequenceClassifier::Decoder)
            }),
        }
        .map_err(err)?;
        Ok((model, params, initialised))
    }

    /// Loads the weights as f32 variables and builds a BERT-family token classifier
    /// (`BertForTokenClassification`) for `num_labels` labels; the head is initialised as in
    /// [`load`](Self::load) when the checkpoint lacks it.
    ///
    /// # Errors
    /// Not a BERT-family model; the weights are missing, unreadable, or do not match.
    pub fn load_token_classifier(
        &self,
        num_labels: usize,
        seed: u64,
        device: &Device,
    ) -> Result<(BertForTokenClassification, Params, Vec<String>)> {
        let Arch::Bert(c) = &self.arch else {
            return Err(Error::model(
                &self.path,
                format!(
                    "token classification supports BERT-family encoders (BERT, MiniLM); this is {}",
                    self.arch.class_name()
                ),
            ));
        };
        let mut tensors = load_safetensors_dir(&self.path, device)?;
        if !tensors.keys().any(|k| k.starts_with("bert.")) {
            tensors = tensors
                .into_iter()
                .map(|(k, t)| {
                    (if k.starts_with("classifier.") { k } else { format!("bert.{k}") }, t)
                })
                .collect();
        }
        let h = c.hidden_size;
        let shapes = vec![
            ("classifier.weight".to_owned(), vec![num_labels, h]),
            ("classifier.bias".to_owned(), vec![num_labels]),
        ];
        let initialised = init_tensors(&mut tensors, shapes, c.initializer_range, seed, device)?;
        let weights = self.path.join(WEIGHTS_FILE);
        let (model, params) = build_with(tensors, device, DType::F32, |vb| {
            BertForTokenClassification::new(c, num_labels, vb)
        })
        .map_err(|e| Error::model(&weights, e.to_string()))?;
        Ok((model, params, initialised))
    }

    /// Writes the classifier: `config.json` (the base's, with `architectures`, `id2label`,
    /// `label2id` and `problem_type`), `model.safetensors` with Hugging Face names, the tokenizer
    /// files copied from the base, `tokenizer_config.json` recording `max_length` as
    /// `model_max_length` (the length prediction then uses by default). Every file is written
    /// atomically.
    ///
    /// # Errors
    /// Unwritable files.
    pub fn save(
        &self,
        out: &Path,
        labels: &[String],
        params: &Params,
        max_length: usize,
    ) -> Result<()> {
        let class = self.arch.class_name();
        self.save_as(out, class, Some("single_label_classification"), labels, params, max_length)
    }

    /// [`save`](Self::save) with another `architectures` entry and `problem_type` (none for
    /// token classification).
    ///
    /// # Errors
    /// Unwritable files.
    pub fn save_as(
        &self,
        out: &Path,
        class_name: &str,
        problem_type: Option<&str>,
        labels: &[String],
        params: &Params,
        max_length: usize,
    ) -> Result<()> {
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        let mut config = self.config.clone();
        if let Some(obj) = config.as_object_mut() {
            obj.insert("architectures".into(), serde_json::json!([class_name]));
            let id2label: serde_json::Map<String, serde_json::Value> =
                labels.iter().enumerate().map(|(i, l)| (i.to_string(), l.clone().into())).collect();
            let label2id: serde_json::Map<String, serde_json::Value> =
                labels.iter().enumerate().map(|(i, l)| (l.clone(), i.into())).collect();
            obj.insert("id2label".into(), id2label.into());
            obj.insert("label2id".into(), label2id.into());
            match problem_type {
                Some(t) => obj.insert("problem_type".into(), t.into()),
                None => obj.remove("problem_type"),
            };
            if let Arch::Decoder(d) = &self.arch {
                obj.insert("pad_token_id".into(), d.pad_id.into());
            }
            obj.remove("num_labels");
        }
        let json = serde_json::to_vec_pretty(&config)
            .map_err(|e| Error::json(out.join(CONFIG_FILE), 0, e))?;
        records::atomic::write_bytes_atomic(&out.join(CONFIG_FILE), &json)?;
        params.save(&out.join(WEIGHTS_FILE))?;
        if out != self.path {
            for name in
                [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE].into_iter().chain(TOKENIZER_SIDE_FILES)
            {
                let src = self.path.join(name);
                if src.exists() {
                    let bytes = std::fs::read(&src).map_err(|e| Error::io(&src, e))?;
                    records::atomic::write_bytes_atomic(&out.join(name), &bytes)?;
                }
            }
        }
        let tok_config = out.join(TOKENIZER_CONFIG_FILE);
        let mut json: serde_json::Value =
            if tok_config.exists() { read_json(&tok_config)? } else { serde_json::json!({}) };
        if let Some(obj) = json.as_object_mut() {
            obj.insert("model_max_length".into(), max_length.into());
        }
        let bytes = serde_json::to_vec_pretty(&json).map_err(|e| Error::json(&tok_config, 0, e))?;
        records::atomic::write_bytes_atomic(&tok_config, &bytes)?;
        Ok(())
    }
}

/// The labels of `id2label`, in id order.
fn id2label(path: &Path, config: &serde_json::Value) -> Result<Option<Vec<String>>> {
    let Some(map) = config.get("id2label").and_then(|m| m.as_object()) else { return Ok(None) };
    let mut pairs = Vec::with_capacity(map.len());
    for (k, v) in map {
        let id: usize = k
            .parse()
            .map_err(|_| Error::model(path, format!("id2label key {k:?} is not an id")))?;
        pairs.push((id, v.as_str().unwrap_or_default().to_owned()));
    }
    pairs.sort();
    if pairs.iter().enumerate().any(|(i, (id, _))| i != *id) {
        return Err(Error::model(path, "id2label ids are not 0..n"));
    }
    Ok(Some(pairs.into_iter().map(|(_, l)| l).collect()))
}

/// Inserts initial head tensors that are missing or have another shape; returns their names.
fn init_head(
    tensors: &mut HashMap<String, Tensor>,
    arch: &Arch,
    num_labels: usize,
    seed: u64,
    device: &Device,
) -> Result<Vec<String>> {
    init_tensors(tensors, arch.head_shapes(num_labels), arch.initializer_range(), seed, device)
}

/// Inserts the tensors of `shapes` that are missing or have another shape, as `transformers`
/// initialises heads (normal weights with standard deviation `std`, zero biases, from `seed`);
/// returns their names.
fn init_tensors(
    tensors: &mut HashMap<String, Tensor>,
    shapes: Vec<(String, Vec<usize>)>,
    std: f64,
    seed: u64,
    device: &Device,
) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for (i, (name, shape)) in shapes.into_iter().enumerate() {
        if tensors.get(&name).is_some_and(|t| t.dims() == shape.as_slice()) {
            continue;
        }
        let n: usize = shape.iter().product();
        let t = if shape.len() == 1 {
            Tensor::zeros(shape, DType::F32, device)?
        } else {
            let mut rng = Rng::derive(seed ^ 0x4EAD, i as u64);
            let v: Vec<f32> = (0..n).map(|_| (rng.normal() * std) as f32).collect();
            Tensor::from_vec(v, shape, device)?
        };
        tensors.insert(name.clone(), t);
        done.push(name);
    }
    Ok(done)
}

//! Hugging Face model directories: `config.json`, `model.safetensors` (or a sharded
//! `model.safetensors.index.json`), `tokenizer.json` and `tokenizer_config.json`.
//!
//! A training run writes the same shape, so a run directory is itself a base model for the
//! next round and a model for `predict`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;
use tokenizers::Tokenizer;

use crate::models::llama::{Config, LlamaForCausalLM};
use crate::template::{Template, Value};
use crate::{Error, Result};

pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const WEIGHTS_INDEX_FILE: &str = "model.safetensors.index.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const TOKENIZER_CONFIG_FILE: &str = "tokenizer_config.json";
/// Side files copied along when a model directory is written (when the base has them).
const SIDE_FILES: [&str; 2] = ["generation_config.json", "special_tokens_map.json"];

/// The files of a model directory that [`copy_model_files`] writes into a run, with the
/// weights: a directory that already holds one of them (and is not a run) is a model, and a
/// run must never be written over it.
pub const MODEL_FILES: [&str; 5] =
    [CONFIG_FILE, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, SIDE_FILES[0], SIDE_FILES[1]];

/// What `tokenizer_config.json` says about special tokens and chat formatting.
#[derive(Debug, Clone, Default)]
pub struct TokenizerConfig {
    /// The Jinja chat template source, when the model has one.
    pub chat_template: Option<String>,
    /// The end-of-sequence token (for ChatML models `<|im_end|>`).
    pub eos_token: Option<String>,
    /// The beginning-of-sequence token.
    pub bos_token: Option<String>,
}

impl TokenizerConfig {
    fn from_json(v: &serde_json::Value) -> Self {
        fn token(v: Option<&serde_json::Value>) -> Option<String> {
            match v? {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Object(o) => o.get("content")?.as_str().map(str::to_owned),
                _ => None,
            }
        }
        let chat_template = match v.get("chat_template") {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            // Some models keep a list of named templates; "default" is the chat one.
            Some(serde_json::Value::Array(list)) => list
                .iter()
                .find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
                .or_else(|| list.first())
                .and_then(|t| t.get("template")?.as_str().map(str::to_owned)),
            _ => None,
        };
        Self {
            chat_template,
            eos_token: token(v.get("eos_token")),
            bos_token: token(v.get("bos_token")),
        }
    }
}

/// An opened model directory (weights not loaded yet).
#[derive(Debug, Clone)]
pub struct ModelDir {
    pub path: PathBuf,
    pub config: Config,
    pub tokenizer: Tokenizer,
    pub tokenizer_config: TokenizerConfig,
}

impl ModelDir {
    /// Reads `config.json`, `tokenizer.json` and `tokenizer_config.json` (optional) of `path`.
    ///
    /// # Errors
    /// A file is missing or invalid, or the configuration is not supported.
    pub fn open(path: &Path) -> Result<Self> {
        let config_path = path.join(CONFIG_FILE);
        let config: Config = read_json(&config_path)?;
        config.validate().map_err(|m| Error::model(&config_path, m))?;
        let tok_path = path.join(TOKENIZER_FILE);
        if !tok_path.exists() {
            return Err(Error::model(&tok_path, "missing tokenizer file"));
        }
        let tokenizer = Tokenizer::from_file(&tok_path)
            .map_err(|e| Error::model(&tok_path, format!("invalid tokenizer: {e}")))?;
        let tc_path = path.join(TOKENIZER_CONFIG_FILE);
        let tokenizer_config = if tc_path.exists() {
            TokenizerConfig::from_json(&read_json::<serde_json::Value>(&tc_path)?)
        } else {
            TokenizerConfig::default()
        };
        Ok(Self { path: path.to_owned(), config, tokenizer, tokenizer_config })
    }

    /// The parsed chat template, when the model has one.
    ///
    /// # Errors
    /// The template uses Jinja this renderer does not support.
    pub fn chat_template(&self) -> Result<Option<ChatFormat>> {
        let Some(src) = &self.tokenizer_config.chat_template else { return Ok(None) };
        let template = Template::parse(src).map_err(Error::Template)?;
        Ok(Some(ChatFormat {
            template,
            bos_token: self.tokenizer_config.bos_token.clone().unwrap_or_default(),
            eos_token: self.tokenizer_config.eos_token.clone().unwrap_or_default(),
        }))
    }

    /// Loads the weights (as f32 variables on `device`) and builds the model.
    ///
    /// # Errors
    /// The weights are missing, unreadable, or do not match the configuration.
    pub fn load_model(&self, device: &Device) -> Result<(LlamaForCausalLM, Params)> {
        let tensors = load_safetensors_dir(&self.path, device)?;
        build_model(&self.config, tensors, device)
            .map_err(|e| Error::model(self.path.join(WEIGHTS_FILE), e.to_string()))
    }

    /// The model for inference only: plain tensors instead of trainable variables, so that no
    /// autograd graph is recorded (a graph keeps every activation of a forward pass alive).
    ///
    /// # Errors
    /// Unreadable or mismatched weights.
    pub fn load_frozen(&self, device: &Device) -> Result<LlamaForCausalLM> {
        let tensors = load_safetensors_dir(&self.path, device)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        LlamaForCausalLM::new(&self.config, vb)
            .map_err(|e| Error::model(self.path.join(WEIGHTS_FILE), e.to_string()))
    }
}

/// A chat template plus the special tokens it refers to.
#[derive(Debug, Clone)]
pub struct ChatFormat {
    template: Template,
    bos_token: String,
    /// The token that ends an assistant turn (`<|im_end|>` for ChatML).
    pub eos_token: String,
}

impl ChatFormat {
    /// Renders `messages` (role, content) as the model sees them.
    ///
    /// # Errors
    /// The template fails (for example it raises on an unsupported role order).
    pub fn render(
        &self,
        messages: &[records::dataset::Message],
        add_generation_prompt: bool,
    ) -> Result<String> {
        let msgs = messages
            .iter()
            .map(|m| {
                let role = serde_json::to_value(m.role)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                Value::Map(vec![
                    ("role".into(), Value::Str(role)),
                    ("content".into(), Value::Str(m.content.clone())),
                ])
            })
            .collect();
        self.template
            .render(&[
                ("messages", Value::List(msgs)),
                ("add_generation_prompt", Value::Bool(add_generation_prompt)),
                ("bos_token", Value::Str(self.bos_token.clone())),
                ("eos_token", Value::Str(self.eos_token.clone())),
            ])
            .map_err(Error::Template)
    }
}

/// Reads and parses a JSON file.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::json(path, e.line() as u64, e))
}

/// Loads every tensor of a model directory (single file or sharded index), as f32.
///
/// # Errors
/// No weights file, an unreadable shard, or an invalid index.
pub fn load_safetensors_dir(dir: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    let single = dir.join(WEIGHTS_FILE);
    let files: Vec<PathBuf> = if single.exists() {
        vec![single]
    } else {
        let index_path = dir.join(WEIGHTS_INDEX_FILE);
        if !index_path.exists() {
            return Err(Error::model(
                dir,
                format!("no {WEIGHTS_FILE} and no {WEIGHTS_INDEX_FILE}"),
            ));
        }
        let index: serde_json::Value = read_json(&index_path)?;
        let map = index
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| Error::model(&index_path, "no weight_map object"))?;
        let mut shards: Vec<PathBuf> =
            map.values().filter_map(|v| v.as_str()).map(|f| dir.join(f)).collect();
        shards.sort();
        shards.dedup();
        shards
    };
    let mut out = HashMap::new();
    for file in files {
        let tensors = candle_core::safetensors::load(&file, device)
            .map_err(|e| Error::model(&file, e.to_string()))?;
        for (name, t) in tensors {
            let t = if t.dtype() == DType::F32 { t } else { t.to_dtype(DType::F32)? };
            out.insert(name, t);
        }
    }
    Ok(out)
}

/// The trainable parameters of a model, in a fixed order (construction order).
#[derive(Debug, Clone)]
pub struct Params {
    pub vars: Vec<(String, Var)>,
}

impl Params {
    /// Number of scalars.
    pub fn len(&self) -> usize {
        self.vars.iter().map(|(_, v)| v.elem_count()).sum()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// The safetensors bytes of all parameters.
    ///
    /// # Errors
    /// Serialisation failure.
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let data: Vec<(&str, &Tensor)> =
            self.vars.iter().map(|(n, v)| (n.as_str(), v.as_tensor())).collect();
        safetensors::serialize(data, None)
            .map_err(|e| Error::Candle(candle_core::Error::Msg(e.to_string())))
    }

    /// Writes the weights atomically.
    ///
    /// # Errors
    /// I/O errors name the file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_safetensors()?;
        records::atomic::write_bytes_atomic(path, &bytes)?;
        Ok(())
    }

    /// Writes `values` (one tensor per parameter, in parameter order: a snapshot of earlier
    /// weights) atomically under the parameters' names.
    ///
    /// # Errors
    /// Serialisation failure; I/O errors name the file.
    pub fn save_values(&self, path: &Path, values: &[Tensor]) -> Result<()> {
        let data: Vec<(&str, &Tensor)> =
            self.vars.iter().zip(values).map(|((n, _), t)| (n.as_str(), t)).collect();
        let bytes = safetensors::serialize(data, None)
            .map_err(|e| Error::Candle(candle_core::Error::Msg(e.to_string())))?;
        records::atomic::write_bytes_atomic(path, &bytes)?;
        Ok(())
    }

    /// A copy of every parameter's current value, in parameter order.
    ///
    /// # Errors
    /// Tensor errors.
    pub fn snapshot(&self) -> Result<Vec<Tensor>> {
        Ok(self
            .vars
            .iter()
            .map(|(_, v)| v.as_tensor().copy())
            .collect::<candle_core::Result<Vec<_>>>()?)
    }

    /// Sets every parameter to a [`snapshot`](Self::snapshot)'s value.
    ///
    /// # Errors
    /// Shape mismatches.
    pub fn restore(&self, snapshot: &[Tensor]) -> Result<()> {
        for ((_, var), t) in self.vars.iter().zip(snapshot) {
            var.set(t)?;
        }
        Ok(())
    }

    /// The tensors of a file written by [`save_values`](Self::save_values), in parameter order.
    ///
    /// # Errors
    /// The file is unreadable or lacks a parameter.
    pub fn load_values(&self, path: &Path, device: &Device) -> Result<Vec<Tensor>> {
        let tensors = candle_core::safetensors::load(path, device)
            .map_err(|e| Error::model(path, e.to_string()))?;
        self.vars
            .iter()
            .map(|(name, _)| {
                tensors
                    .get(name)
                    .cloned()
                    .ok_or_else(|| Error::model(path, format!("no tensor {name}")))
            })
            .collect()
    }

    /// Overwrites the parameters with the tensors of a safetensors file (same names and shapes).
    ///
    /// # Errors
    /// A tensor is missing or has another shape.
    pub fn load_from(&self, path: &Path) -> Result<()> {
        let tensors = candle_core::safetensors::load(path, &Device::Cpu)
            .map_err(|e| Error::model(path, e.to_string()))?;
        for (name, var) in &self.vars {
            let t = tensors
                .get(name)
                .ok_or_else(|| Error::model(path, format!("missing tensor {name}")))?;
            if t.shape() != var.shape() {
                return Err(Error::model(path, format!("tensor {name}: shape {:?}", t.shape())));
            }
            var.set(&t.to_device(var.device())?)?;
        }
        Ok(())
    }
}

struct ParamSource {
    tensors: Mutex<HashMap<String, Tensor>>,
    taken: Mutex<Vec<(String, Var)>>,
}

#[derive(Clone)]
struct ParamBackend(Arc<ParamSource>);

impl SimpleBackend for ParamBackend {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let t = self.get_unchecked(name, dtype, dev)?;
        if t.shape() != &s {
            candle_core::bail!("tensor {name}: expected shape {s:?}, found {:?}", t.shape());
        }
        Ok(t)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let t = self.0.tensors.lock().expect("poisoned").remove(name);
        let Some(t) = t else { candle_core::bail!("missing tensor {name}") };
        let t = t.to_dtype(dtype)?.to_device(dev)?.contiguous()?;
        let var = Var::from_tensor(&t)?;
        let out = var.as_tensor().clone();
        self.0.taken.lock().expect("poisoned").push((name.to_owned(), var));
        Ok(out)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.0.tensors.lock().expect("poisoned").contains_key(name)
    }
}

/// Builds the model from named tensors; every parameter becomes a trainable variable.
/// Tensors the model does not use (a tied `lm_head.weight`, rotary buffers) are ignored.
///
/// # Errors
/// A tensor is missing or has the wrong shape.
pub fn build_model(
    cfg: &Config,
    tensors: HashMap<String, Tensor>,
    device: &Device,
) -> candle_core::Result<(LlamaForCausalLM, Params)> {
    build_model_dtype(cfg, tensors, device, DType::F32)
}

/// [`build_model`] with parameters of another float type (f64 for gradient checks).
///
/// # Errors
/// A tensor is missing or has the wrong shape.
pub fn build_model_dtype(
    cfg: &Config,
    tensors: HashMap<String, Tensor>,
    device: &Device,
    dtype: DType,
) -> candle_core::Result<(LlamaForCausalLM, Params)> {
    let source =
        Arc::new(ParamSource { tensors: Mutex::new(tensors), taken: Mutex::new(Vec::new()) });
    let vb =
        VarBuilder::from_backend(Box::new(ParamBackend(source.clone())), dtype, device.clone());
    let model = LlamaForCausalLM::new(cfg, vb)?;
    let vars = std::mem::take(&mut *source.taken.lock().expect("poisoned"));
    Ok((model, Params { vars }))
}

/// Builds any model from named tensors through `build` (which receives a `VarBuilder` at the
/// checkpoint root); every tensor it asks for becomes a trainable variable, in request order.
///
/// # Errors
/// `build` fails (a tensor is missing or has the wrong shape).
pub fn build_with<M>(
    tensors: HashMap<String, Tensor>,
    device: &Device,
    dtype: DType,
    build: impl FnOnce(VarBuilder) -> candle_core::Result<M>,
) -> candle_core::Result<(M, Params)> {
    let source =
        Arc::new(ParamSource { tensors: Mutex::new(tensors), taken: Mutex::new(Vec::new()) });
    let vb =
        VarBuilder::from_backend(Box::new(ParamBackend(source.clone())), dtype, device.clone());
    let model = build(vb)?;
    let vars = std::mem::take(&mut *source.taken.lock().expect("poisoned"));
    Ok((model, Params { vars }))
}

/// Writes a model directory: the base's `config.json`, tokenizer files and side files copied
/// byte for byte, and the parameters as `model.safetensors`. Every file is written atomically.
///
/// # Errors
/// I/O errors name the file.
pub fn write_model_dir(out: &Path, base: &Path, params: &Params) -> Result<()> {
    copy_model_files(out, base)?;
    params.save(&out.join(WEIGHTS_FILE))
}

/// Copies config, tokenizer and side files of `base` into `out` (atomically, when they differ).
///
/// # Errors
/// I/O errors name the file.
pub fn copy_model_files(out: &Path, base: &Path) -> Result<()> {
    if out == base {
        return Ok(());
    }
    for name in MODEL_FILES {
        let src = base.join(name);
        if !src.exists() {
            continue;
        }
        let bytes = std::fs::read(&src).map_err(|e| Error::io(&src, e))?;
        let dst = out.join(name);
        if std::fs::read(&dst).ok().as_deref() != Some(&bytes[..]) {
            records::atomic::write_bytes_atomic(&dst, &bytes)?;
        }
    }
    Ok(())
}

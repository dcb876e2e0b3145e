//! `init-tiny`: a small random Llama and a byte-level BPE tokenizer trained on the text it will
//! see, written as a Hugging Face model directory. It serves the embedded default model and the
//! tests: a few million parameters train in seconds on a CPU.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use records::dataset::Example;
use serde_json::json;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Tokenizer};

use crate::data::read_examples;
use crate::model_dir::{build_model, CONFIG_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE};
use crate::models::llama::Config;
use crate::rng::Rng;
use crate::{Error, Result};

/// The chat template of tiny models: ChatML, as SmolLM2 uses, without a default system turn.
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// Special tokens of tiny models (ids 0, 1, 2).
pub const SPECIAL_TOKENS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/// The shape of a tiny model. Defaults: hidden 256, 4 layers, 8 heads, 4 key/value heads,
/// intermediate 768, vocabulary up to 4096, seed 0.
#[derive(Debug, Clone, PartialEq)]
pub struct TinyConfig {
    /// JSONL files whose text trains the tokenizer.
    pub train: Vec<PathBuf>,
    pub out: PathBuf,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub intermediate: usize,
    /// Upper bound of the vocabulary (BPE stops earlier on a small text).
    pub vocab_size: usize,
    pub seed: u64,
}

impl TinyConfig {
    /// The default shape for the given training files and output directory.
    pub fn new(train: Vec<PathBuf>, out: PathBuf) -> Self {
        Self {
            train,
            out,
            hidden: 256,
            layers: 4,
            heads: 8,
            kv_heads: 4,
            intermediate: 768,
            vocab_size: 4096,
            seed: 0,
        }
    }
}

/// The texts of a JSONL file, as the model will see them (prompts, completions, messages).
fn texts(path: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (_, ex) in read_examples(path)? {
        match ex {
            Example::Legacy(l) => out.push(format!("{}{}", l.prompt, l.completion)),
            Example::Chat(c) => out.extend(c.messages.into_iter().map(|m| m.content)),
            Example::Tagged(t) => out.push(t.text),
        }
    }
    Ok(out)
}

/// Trains a byte-level BPE tokenizer (GPT-2 pre-tokenisation: digits, spaces and punctuation
/// split as in SmolLM2's) on `texts`.
///
/// # Errors
/// Training fails.
pub fn train_tokenizer(texts: &[String], vocab_size: usize) -> Result<Tokenizer> {
    let mut trainer: TrainerWrapper = BpeTrainerBuilder::new()
        .show_progress(false)
        .vocab_size(vocab_size)
        .min_frequency(2)
        .special_tokens(SPECIAL_TOKENS.iter().map(|t| AddedToken::from(*t, true)).collect())
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build()
        .into();
    let mut tok = Tokenizer::new(BPE::default());
    tok.with_pre_tokenizer(Some(ByteLevel::default().add_prefix_space(false)));
    tok.with_post_processor(Some(ByteLevel::default().trim_offsets(false)));
    tok.with_decoder(Some(ByteLevel::default()));
    tok.train(&mut trainer, texts.iter()).map_err(Error::tokenizer)?;
    Ok(tok)
}

/// The HF `config.json` of a tiny model.
pub fn tiny_config(cfg: &TinyConfig, vocab: usize) -> Config {
    Config {
        vocab_size: vocab,
        hidden_size: cfg.hidden,
        intermediate_size: cfg.intermediate,
        num_hidden_layers: cfg.layers,
        num_attention_heads: cfg.heads,
        num_key_value_heads: Some(cfg.kv_heads),
        head_dim: None,
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        tie_word_embeddings: true,
        attention_bias: false,
        max_position_embeddings: Some(2048),
        model_type: Some("llama".into()),
        rope_scaling: None,
        hidden_act: Some("silu".into()),
    }
}

/// Random initial weights: normal(0, 0.02) matrices, unit norms, drawn in name order from
/// `seed`, so the same seed gives the same model everywhere.
///
/// # Errors
/// The configuration is not buildable.
pub fn random_weights(cfg: &Config, seed: u64) -> Result<HashMap<String, Tensor>> {
    let device = Device::Cpu;
    let mut tensors = HashMap::new();
    let mut rng = Rng::new(seed);
    for (name, shape) in parameter_shapes(cfg)? {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = if name.ends_with("norm.weight") {
            vec![1.0; n]
        } else if name.ends_with(".bias") {
            vec![0.0; n]
        } else {
            (0..n).map(|_| (rng.normal() * 0.02) as f32).collect()
        };
        tensors.insert(name, Tensor::from_vec(data, shape, &device)?);
    }
    Ok(tensors)
}

/// Parameter names and shapes of a configuration, sorted by name.
///
/// # Errors
/// The configuration is not buildable.
pub fn parameter_shapes(cfg: &Config) -> Result<Vec<(String, Vec<usize>)>> {
    let h = cfg.hidden_size;
    let hd = cfg.head_dim();
    let (q, kv, i) = (cfg.num_attention_heads * hd, cfg.kv_heads() * hd, cfg.intermediate_size);
    let mut out = vec![
        ("model.embed_tokens.weight".to_owned(), vec![cfg.vocab_size, h]),
        ("model.norm.weight".to_owned(), vec![h]),
    ];
    if !cfg.tie_word_embeddings {
        out.push(("lm_head.weight".to_owned(), vec![cfg.vocab_size, h]));
    }
    for l in 0..cfg.num_hidden_layers {
        let p = format!("model.layers.{l}");
        out.push((format!("{p}.input_layernorm.weight"), vec![h]));
        out.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
        for (n, o) in [("q_proj", q), ("k_proj", kv), ("v_proj", kv)] {
            out.push((format!("{p}.self_attn.{n}.weight"), vec![o, h]));
            if cfg.qkv_bias() {
                out.push((format!("{p}.self_attn.{n}.bias"), vec![o]));
            }
        }
        out.push((format!("{p}.self_attn.o_proj.weight"), vec![h, q]));
        if cfg.o_bias() {
            out.push((format!("{p}.self_attn.o_proj.bias"), vec![h]));
        }
        out.push((format!("{p}.mlp.gate_proj.weight"), vec![i, h]));
        out.push((format!("{p}.mlp.up_proj.weight"), vec![i, h]));
        out.push((format!("{p}.mlp.down_proj.weight"), vec![h, i]));
    }
    out.sort();
    Ok(out)
}

/// Writes a tiny model directory: `config.json`, `model.safetensors`, `tokenizer.json`,
/// `tokenizer_config.json`. Returns the parameter count.
///
/// # Errors
/// Unreadable training files, tokenizer training failure, or I/O errors.
pub fn init_tiny(cfg: &TinyConfig) -> Result<usize> {
    let mut all = Vec::new();
    for path in &cfg.train {
        all.extend(texts(path)?);
    }
    if all.is_empty() {
        return Err(Error::Config("no training text for the tokenizer".into()));
    }
    let tokenizer = train_tokenizer(&all, cfg.vocab_size)?;
    let vocab = tokenizer.get_vocab_size(true);
    let config = tiny_config(cfg, vocab);
    config.validate().map_err(Error::Config)?;
    let weights = random_weights(&config, cfg.seed)?;
    let (_, params) = build_model(&config, weights, &Device::Cpu)?;

    let out = &cfg.out;
    let id = |t: &str| tokenizer.token_to_id(t);
    let mut config_json = serde_json::to_value(&config).map_err(|e| Error::json(out, 0, e))?;
    if let Some(obj) = config_json.as_object_mut() {
        obj.insert("architectures".into(), json!(["LlamaForCausalLM"]));
        obj.insert("bos_token_id".into(), json!(id("<|im_start|>")));
        obj.insert("eos_token_id".into(), json!(id("<|im_end|>")));
        obj.insert("torch_dtype".into(), json!("float32"));
    }
    let tokenizer_config = json!({
        "add_prefix_space": false,
        "bos_token": "<|im_start|>",
        "eos_token": "<|im_end|>",
        "pad_token": "<|im_end|>",
        "unk_token": "<|endoftext|>",
        "chat_template": CHATML_TEMPLATE,
        "model_max_length": 2048,
        "tokenizer_class": "GPT2Tokenizer",
    });
    let pretty = |v: &serde_json::Value| serde_json::to_vec_pretty(v).unwrap_or_default();
    records::atomic::write_bytes_atomic(&out.join(CONFIG_FILE), &pretty(&config_json))?;
    records::atomic::write_bytes_atomic(
        &out.join(TOKENIZER_CONFIG_FILE),
        &pretty(&tokenizer_config),
    )?;
    let tok_json = tokenizer.to_string(true).map_err(Error::tokenizer)?;
    records::atomic::write_bytes_atomic(&out.join(TOKENIZER_FILE), tok_json.as_bytes())?;
    params.save(&out.join(crate::model_dir::WEIGHTS_FILE))?;
    Ok(params.len())
}

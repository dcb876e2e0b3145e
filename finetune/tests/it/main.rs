//! Integration tests of the finetune crate: the model's gradients, training, prediction,
//! exact resume and rounds, on a tiny model and a fixture written for these tests.

mod bad_input;
mod classify;
mod gguf_import;
#[cfg(feature = "hub")]
mod hub;
mod model;
mod rounds;
mod tag;
mod train;

use std::path::{Path, PathBuf};

/// The fixture directory.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Writes a very small model (hidden 128, 2 layers, 0.35M parameters) with a tokenizer trained on the fixture.
pub fn tiny_model(dir: &Path) -> PathBuf {
    let out = dir.join("tiny");
    let mut cfg = finetune::tiny::TinyConfig::new(vec![fixture("train.jsonl")], out.clone());
    cfg.hidden = 128;
    cfg.layers = 2;
    cfg.heads = 4;
    cfg.kv_heads = 2;
    cfg.intermediate = 256;
    cfg.vocab_size = 512;
    cfg.seed = 1;
    finetune::tiny::init_tiny(&cfg).unwrap();
    out
}

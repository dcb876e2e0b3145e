//! Trains a small byte-level BPE `tokenizer.json` on the texts of a JSONL dataset, for the
//! benchmark when no real model tokenizer is at hand (no download).
//!
//! ```text
//! cargo run --release -p jsonl --example train_bpe -- out/bench/train.jsonl out/bench/tokenizer.json 8000
//! ```

use std::io::BufRead;

use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::Tokenizer;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output, rest @ ..] = &args[..] else {
        anyhow::bail!("usage: train_bpe INPUT.jsonl OUTPUT.json [VOCAB_SIZE]");
    };
    let vocab: usize = rest.first().map_or(Ok(8000), |v| v.parse())?;
    let mut texts = Vec::new();
    for line in std::io::BufReader::new(std::fs::File::open(input)?).lines() {
        let value: serde_json::Value = serde_json::from_str(&line?)?;
        for key in ["prompt", "completion"] {
            if let Some(s) = value[key].as_str() {
                texts.push(s.to_owned());
            }
        }
        if let Some(messages) = value["messages"].as_array() {
            texts.extend(messages.iter().filter_map(|m| m["content"].as_str().map(str::to_owned)));
        }
    }
    let mut tokenizer = Tokenizer::new(BPE::default());
    // GPT-2 style: no prefix space, the GPT-2 regex.
    tokenizer.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
    tokenizer.with_decoder(Some(ByteLevel::default()));
    let mut trainer: TrainerWrapper = BpeTrainerBuilder::new()
        .vocab_size(vocab)
        .min_frequency(2)
        .show_progress(false)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build()
        .into();
    tokenizer.train(&mut trainer, texts.iter()).map_err(|e| anyhow::anyhow!("{e}"))?;
    tokenizer.save(output, false).map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!("trained a {vocab}-token byte-level BPE on {} texts: {output}", texts.len());
    Ok(())
}

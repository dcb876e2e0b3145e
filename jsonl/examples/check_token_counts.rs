//! Checks that `TokenCounter`'s fast byte-level path gives exactly the tokenizer's own counts
//! on every text of a JSONL file (prompts, completions, message contents, roles).
//!
//! ```text
//! cargo run --release -p jsonl --example check_token_counts -- models/x/tokenizer.json data.jsonl
//! ```

use std::io::BufRead;
use std::time::Instant;

use jsonl::tokens::TokenCounter;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, tokenizer, input] = &args[..] else {
        anyhow::bail!("usage: check_token_counts TOKENIZER.json INPUT.jsonl");
    };
    let counter = TokenCounter::from_file(tokenizer.as_ref())?;
    anyhow::ensure!(
        counter.is_fast(),
        "{tokenizer}: the fast path does not apply to this tokenizer"
    );
    let mut texts = Vec::new();
    for line in std::io::BufReader::new(std::fs::File::open(input)?).lines() {
        let value: serde_json::Value = serde_json::from_str(&line?)?;
        for key in ["prompt", "completion"] {
            if let Some(s) = value[key].as_str() {
                texts.push(s.to_owned());
            }
        }
        for m in value["messages"].as_array().into_iter().flatten() {
            texts.extend(
                ["role", "content"].iter().filter_map(|k| m[k].as_str().map(str::to_owned)),
            );
        }
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let t = Instant::now();
    let fast = counter.count_batch(&refs)?;
    let fast_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let exact = counter.count_batch_exact(&refs)?;
    let exact_s = t.elapsed().as_secs_f64();
    let differ: Vec<usize> = (0..refs.len()).filter(|&i| fast[i] != exact[i]).collect();
    let tokens: u64 = exact.iter().map(|&n| u64::from(n)).sum();
    println!(
        "{} texts, {tokens} tokens: fast {fast_s:.2} s, tokenizer {exact_s:.2} s, {} differ",
        refs.len(),
        differ.len()
    );
    for &i in differ.iter().take(5) {
        println!("  fast {} vs {}: {:?}", fast[i], exact[i], refs[i]);
    }
    anyhow::ensure!(differ.is_empty(), "the fast path differs");
    Ok(())
}

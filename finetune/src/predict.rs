//! Prediction: batched greedy decoding with a KV cache.
//!
//! `predict --model DIR --input F --out predictions.jsonl` continues each example's prompt (a
//! legacy prompt, or a chat conversation without its final assistant turn) until the stop
//! sequence ` END`, the model's end-of-turn token, or `max_new_tokens`, and writes one
//! [`records::run::Prediction`] per example. Prompts of a batch are left-padded; the padding
//! keys are masked and every row keeps its own rotary positions, so a batch predicts exactly
//! what each prompt would alone.

use std::path::PathBuf;

use candle_core::{Device, Tensor, D};
use records::dataset::{defaults, parse_parts, Example, Message, Role};
use records::run::Prediction;

use crate::data::{example_ids, gold_parts, read_examples, Encoder};
use crate::model_dir::ModelDir;
use crate::models::llama::{LlamaForCausalLM, MASKED};
use crate::progress::Reporter;
use crate::{Error, Result};

/// Default cap on generated tokens.
pub const DEFAULT_MAX_NEW_TOKENS: usize = 64;

/// A loaded model ready to generate.
pub struct Predictor {
    model: LlamaForCausalLM,
    encoder: Encoder,
    eos_id: Option<u32>,
    device: Device,
}

impl Predictor {
    /// Loads a model directory (a base model or a finished run).
    ///
    /// # Errors
    /// The directory is not a loadable model.
    pub fn load(dir: &std::path::Path, device: &Device) -> Result<Self> {
        let md = ModelDir::open(dir)?;
        let model = md.load_frozen(device)?;
        let chat = md.chat_template()?;
        let eos_id =
            md.tokenizer_config.eos_token.as_deref().and_then(|t| md.tokenizer.token_to_id(t));
        let encoder = Encoder::new(md.tokenizer.clone(), chat, 0.0, usize::MAX);
        Ok(Self { model, encoder, eos_id, device: device.clone() })
    }

    /// The prompt tokens of an example.
    ///
    /// # Errors
    /// Tokenizer or template failure.
    pub fn prompt_ids(&self, ex: &Example) -> Result<Vec<u32>> {
        self.encoder.prompt_ids(ex)
    }

    /// Greedy completions of several prompts (the stop sequence and end token excluded).
    ///
    /// # Errors
    /// Tensor or tokenizer errors.
    pub fn generate(&self, prompts: &[Vec<u32>], max_new_tokens: usize) -> Result<Vec<String>> {
        let b = prompts.len();
        if b == 0 {
            return Ok(Vec::new());
        }
        let dev = &self.device;
        let l = prompts.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let pads: Vec<usize> = prompts.iter().map(|p| l - p.len()).collect();
        let mut input = vec![0u32; b * l];
        let mut positions = vec![0u32; b * l];
        let mut mask = vec![0f32; b * l * l];
        for r in 0..b {
            input[r * l + pads[r]..(r + 1) * l].copy_from_slice(&prompts[r]);
            for i in 0..l {
                positions[r * l + i] = i.saturating_sub(pads[r]) as u32;
                for j in 0..l {
                    if j > i || j < pads[r] {
                        mask[(r * l + i) * l + j] = MASKED;
                    }
                }
            }
        }
        let mut cache = self.model.new_cache();
        let mut logits = self.model.forward_last(
            &Tensor::from_vec(input, (b, l), dev)?,
            &Tensor::from_vec(positions, (b, l), dev)?,
            &Tensor::from_vec(mask, (b, l, l), dev)?,
            &mut cache,
        )?;
        let mut generated: Vec<Vec<u32>> = vec![Vec::new(); b];
        let mut done: Vec<Option<String>> = vec![None; b];
        for step in 0..max_new_tokens {
            let next: Vec<u32> = logits.argmax(D::Minus1)?.to_vec1()?;
            for r in 0..b {
                if done[r].is_some() {
                    continue;
                }
                if Some(next[r]) == self.eos_id {
                    done[r] = Some(self.decode(&generated[r])?);
                    continue;
                }
                generated[r].push(next[r]);
                let text = self.decode(&generated[r])?;
                if let Some(at) = text.find(defaults::STOP) {
                    done[r] = Some(text[..at].to_owned());
                }
            }
            if done.iter().all(Option::is_some) || step + 1 == max_new_tokens {
                break;
            }
            let s = l + step + 1;
            let mut mask = vec![0f32; b * s];
            for r in 0..b {
                mask[r * s..r * s + pads[r]].fill(MASKED);
            }
            let positions: Vec<u32> = (0..b).map(|r| (l - pads[r] + step) as u32).collect();
            logits = self.model.forward_last(
                &Tensor::from_vec(next, (b, 1), dev)?,
                &Tensor::from_vec(positions, (b, 1), dev)?,
                &Tensor::from_vec(mask, (b, 1, s), dev)?,
                &mut cache,
            )?;
        }
        (0..b)
            .map(|r| match done[r].take() {
                Some(t) => Ok(t),
                None => self.decode(&generated[r]),
            })
            .collect()
    }

    fn decode(&self, ids: &[u32]) -> Result<String> {
        self.encoder.tokenizer().decode(ids, false).map_err(Error::tokenizer)
    }

    /// Predicts the parts of one review text: as the legacy prompt `jsonl export` would have
    /// written ([`records::dataset::legacy_prompt`]: normalised, separator and stop sequence
    /// rewritten out of it, then ` ->`), or with `chat` as one user message rendered by the
    /// chat template.
    ///
    /// # Errors
    /// Tensor, tokenizer or template errors; a text that holds the separator or the stop
    /// sequence in a form with no rewrite.
    pub fn predict_text(
        &self,
        text: &str,
        chat: bool,
        max_new_tokens: usize,
    ) -> Result<(String, Vec<String>)> {
        let text = records::text::normalize(text);
        let ex = if chat {
            Example::Chat(records::dataset::ChatExample {
                messages: vec![Message::new(Role::User, text)],
            })
        } else {
            let prompt =
                records::dataset::legacy_prompt(&text, defaults::SEPARATOR, defaults::STOP)
                    .ok_or_else(|| {
                        Error::Config(format!(
                            "the text holds {:?} or {:?}, which a legacy prompt cannot carry",
                            defaults::SEPARATOR.trim(),
                            defaults::STOP
                        ))
                    })?;
            Example::Legacy(records::dataset::LegacyExample { prompt, completion: String::new() })
        };
        let ids = self.prompt_ids(&ex)?;
        let completion = self.generate(&[ids], max_new_tokens)?.remove(0);
        let parts = parse_parts(&completion, defaults::STOP);
        Ok((completion, parts))
    }
}

/// A prediction run, as `main.rs` builds it.
#[derive(Debug, Clone)]
pub struct PredictConfig {
    pub model: PathBuf,
    pub input: PathBuf,
    pub out: PathBuf,
    /// Prompts decoded together (default 16).
    pub batch_size: usize,
    pub max_new_tokens: usize,
    pub device: Device,
    /// Keep only the parts the review can be seen to mention (see [`Grounding`]). Default none.
    pub grounding: Option<Grounding>,
}

/// Keeps a predicted part only when the review mentions it: the part's own name, or one of the
/// lexicon's surfaces of that part, occurs in the review as whole words (a plural `s`/`es`
/// allowed). A decoder can name a part the review never mentions (an association learned in
/// training: "brakes" in every review about stopping); this drops those, and keeps the parts the
/// lexicon lacks when the review names them literally.
#[derive(Debug, Clone, Default)]
pub struct Grounding {
    /// Lower-cased canonical → its lower-cased surfaces.
    surfaces: std::collections::HashMap<String, Vec<String>>,
}

impl Grounding {
    /// Grounding by a lexicon's surfaces.
    pub fn from_lexicon(lexicon: &records::Lexicon) -> Self {
        let mut surfaces: std::collections::HashMap<String, Vec<String>> = Default::default();
        for e in lexicon.entries() {
            surfaces
                .entry(e.canonical.trim().to_lowercase())
                .or_default()
                .push(collapse(&e.surface.to_lowercase()));
        }
        Self { surfaces }
    }

    /// Whether `review` mentions `part`.
    pub fn keep(&self, review: &str, part: &str) -> bool {
        let text = collapse(&review.to_lowercase());
        let part = collapse(&part.to_lowercase());
        occurs(&text, &part)
            || self.surfaces.get(&part).is_some_and(|ss| ss.iter().any(|s| occurs(&text, s)))
    }
}

/// Whitespace runs as one space, trimmed.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `needle` occurs in `text` as whole words, optionally followed by `s` or `es`.
fn occurs(text: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    text.match_indices(needle).any(|(at, _)| {
        if word(text[..at].chars().next_back()) {
            return false;
        }
        let rest = &text[at + needle.len()..];
        let rest = rest.strip_prefix("es").filter(|r| !word(r.chars().next())).unwrap_or(rest);
        let rest = rest.strip_prefix('s').filter(|r| !word(r.chars().next())).unwrap_or(rest);
        !word(rest.chars().next())
    })
}

/// The review text of an example: a legacy prompt without its separator, the last user
/// message of a conversation, or a tagging example's text.
pub fn review_text(ex: &Example) -> String {
    match ex {
        Example::Legacy(l) => {
            let p = l.prompt.trim_end();
            p.strip_suffix(defaults::SEPARATOR.trim()).unwrap_or(p).to_owned()
        }
        Example::Tagged(t) => t.text.clone(),
        Example::Chat(c) => c
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.clone())
            .unwrap_or_default(),
    }
}

/// What a prediction run found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PredictSummary {
    pub examples: usize,
    /// Examples with gold parts.
    pub with_gold: usize,
    /// Examples whose predicted part set equals the gold set.
    pub exact: usize,
}

/// Predicts every example of a JSONL file and writes `predictions.jsonl` (input order).
///
/// # Errors
/// Unreadable input, an unloadable model, or I/O errors.
pub fn predict_file(
    cfg: &PredictConfig,
    rep: &Reporter,
) -> Result<(Vec<Prediction>, PredictSummary)> {
    records::atomic::ensure_not_input(&cfg.out, &[&cfg.input, &cfg.model])?;
    let predictor = Predictor::load(&cfg.model, &cfg.device)?;
    let examples = read_examples(&cfg.input)?;
    let lines: Vec<u64> = examples.iter().map(|(l, _)| *l).collect();
    let ids = example_ids(&cfg.input, &lines)?;
    let prompts: Vec<Vec<u32>> =
        examples.iter().map(|(_, ex)| predictor.prompt_ids(ex)).collect::<Result<_>>()?;
    // Similar lengths together: little padding.
    let mut order: Vec<usize> = (0..prompts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(prompts[i].len()));
    let mut completions = vec![String::new(); prompts.len()];
    rep.start("predict", prompts.len() as u64);
    let mut done = 0;
    for chunk in order.chunks(cfg.batch_size.max(1)) {
        let batch: Vec<Vec<u32>> = chunk.iter().map(|&i| prompts[i].clone()).collect();
        for (&i, c) in chunk.iter().zip(predictor.generate(&batch, cfg.max_new_tokens)?) {
            completions[i] = c;
        }
        done += chunk.len();
        rep.update(done as u64, String::new());
    }
    rep.finish();
    let mut summary = PredictSummary { examples: examples.len(), with_gold: 0, exact: 0 };
    let predictions: Vec<Prediction> = examples
        .iter()
        .zip(ids)
        .zip(completions)
        .map(|(((_, ex), id), completion)| {
            let mut parts = parse_parts(&completion, defaults::STOP);
            if let Some(g) = &cfg.grounding {
                let review = review_text(ex);
                parts.retain(|p| g.keep(&review, p));
            }
            let gold = gold_parts(ex);
            if let Some(g) = &gold {
                summary.with_gold += 1;
                summary.exact += usize::from(records::dataset::same_parts(&parts, g));
            }
            Prediction { id, completion, parts, gold, spans: None }
        })
        .collect();
    records::atomic::write_atomic(&cfg.out, |w| {
        for p in &predictions {
            serde_json::to_writer(&mut *w, p)?;
            std::io::Write::write_all(w, b"\n")?;
        }
        Ok(())
    })?;
    Ok((predictions, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grounding_keeps_parts_the_review_names() {
        let lexicon = records::Lexicon::from_entries(vec![
            records::LexiconEntry::new("air conditioning", "air conditioning", "", "t"),
            records::LexiconEntry::new("a/c", "air conditioning", "", "t"),
            records::LexiconEntry::new("brake", "brake", "", "t"),
        ]);
        let g = Grounding::from_lexicon(&lexicon);
        let review = "The A/C died, new Tires  all round; the dash rattles.";
        assert!(g.keep(review, "air conditioning"), "by a lexicon surface");
        assert!(g.keep(review, "tire"), "by its own name, plural");
        assert!(g.keep(review, "dash"), "a part the lexicon lacks, named literally");
        assert!(!g.keep(review, "brake"), "never mentioned");
        assert!(!g.keep("the dashboard", "dash"), "whole words only");
    }
}

//! Tagging data: texts cut into model windows of tokens with BIO tags from part spans, and the
//! way back from per-token tags to spans of the text.
//!
//! A review longer than the model's window is not truncated (a truncated review would lose its
//! later mentions): its tokens are cut into consecutive windows of at most `max_length - 2`
//! tokens, each between the tokenizer's special tokens (`[CLS] … [SEP]`), cut before a token
//! that starts a word where one is near. Prediction joins the windows' tags back in text order.

use records::dataset::TagSpan;
use tokenizers::Tokenizer;

use crate::{Error, Result};

/// The tags, in label-id order (`id2label` of a saved tagger).
pub const TAGS: [&str; 3] = ["O", "B-PART", "I-PART"];
/// Tag ids.
pub const O: u32 = 0;
pub const B: u32 = 1;
pub const I: u32 = 2;

/// One window of a text: token ids with the special tokens, the tag of each token (`None` for
/// special tokens: no loss), and each token's byte offsets in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Which text (index in the caller's list).
    pub text: usize,
    pub ids: Vec<u32>,
    pub tags: Vec<Option<u32>>,
    pub offsets: Vec<(usize, usize)>,
}

/// Cuts texts into windows for a tokenizer (no truncation or padding set on it).
#[derive(Debug, Clone)]
pub struct Windower {
    tokenizer: Tokenizer,
    /// The special tokens the tokenizer puts around a text (`[CLS]`, `[SEP]`).
    prefix: Vec<u32>,
    suffix: Vec<u32>,
    /// Content tokens per window.
    room: usize,
}

impl Windower {
    /// A windower for windows of at most `max_length` tokens, special tokens included.
    ///
    /// # Errors
    /// The tokenizer fails, or leaves no room for content in `max_length`.
    pub fn new(tokenizer: &Tokenizer, max_length: usize) -> Result<Self> {
        let mut tokenizer = tokenizer.clone();
        tokenizer.with_truncation(None).map_err(Error::tokenizer)?;
        tokenizer.with_padding(None);
        // The special tokens around a one-word text: whatever is not the word's own tokens.
        let bare = tokenizer.encode("a", false).map_err(Error::tokenizer)?;
        let full = tokenizer.encode("a", true).map_err(Error::tokenizer)?;
        let (bare, full) = (bare.get_ids(), full.get_ids());
        let at = full.windows(bare.len()).position(|w| w == bare).unwrap_or(full.len());
        let prefix = full[..at].to_vec();
        let suffix = full[(at + bare.len()).min(full.len())..].to_vec();
        let room = max_length.saturating_sub(prefix.len() + suffix.len());
        if room == 0 {
            return Err(Error::Config(format!(
                "max length {max_length} leaves no room between the special tokens"
            )));
        }
        Ok(Self { tokenizer, prefix, suffix, room })
    }

    /// The windows of `texts[i]` with the tags of `spans[i]` (`None`: untagged, for prediction).
    ///
    /// # Errors
    /// The tokenizer fails.
    pub fn windows(&self, texts: &[&str], spans: Option<&[&[TagSpan]]>) -> Result<Vec<Window>> {
        let encodings =
            self.tokenizer.encode_batch(texts.to_vec(), false).map_err(Error::tokenizer)?;
        let mut out = Vec::new();
        for (t, enc) in encodings.iter().enumerate() {
            let ids = enc.get_ids();
            let offsets = enc.get_offsets();
            let tags: Vec<u32> = match spans {
                Some(s) => bio_tags(offsets, s[t]),
                None => vec![O; ids.len()],
            };
            let mut start = 0;
            while start < ids.len() || (start == 0 && ids.is_empty()) {
                let mut end = (start + self.room).min(ids.len());
                if end < ids.len() {
                    // Cut before a token that starts a word (whitespace before it), if one is
                    // among the last eighth of the window.
                    let floor = end - (self.room / 8).min(end - start - 1);
                    if let Some(cut) =
                        (floor..=end).rev().find(|&k| k > start && offsets[k].0 > offsets[k - 1].1)
                    {
                        end = cut;
                    }
                }
                let n = self.prefix.len() + (end - start) + self.suffix.len();
                let mut w = Window {
                    text: t,
                    ids: Vec::with_capacity(n),
                    tags: Vec::with_capacity(n),
                    offsets: Vec::with_capacity(n),
                };
                for &id in &self.prefix {
                    w.ids.push(id);
                    w.tags.push(None);
                    w.offsets.push((0, 0));
                }
                for k in start..end {
                    w.ids.push(ids[k]);
                    // A token with no text (a lone accent, say) carries no tag.
                    w.tags.push((offsets[k].1 > offsets[k].0).then_some(tags[k]));
                    w.offsets.push(offsets[k]);
                }
                for &id in &self.suffix {
                    w.ids.push(id);
                    w.tags.push(None);
                    w.offsets.push((0, 0));
                }
                out.push(w);
                if end == ids.len() {
                    break;
                }
                start = end;
            }
        }
        Ok(out)
    }
}

/// The BIO tag of each token: `B` for the first token that overlaps a span, `I` for the next
/// tokens overlapping the same span, `O` elsewhere. `spans` are sorted and do not overlap.
pub fn bio_tags(offsets: &[(usize, usize)], spans: &[TagSpan]) -> Vec<u32> {
    let mut tags = vec![O; offsets.len()];
    let mut s = 0;
    let mut last_span: Option<usize> = None;
    for (k, &(a, b)) in offsets.iter().enumerate() {
        if b <= a {
            continue;
        }
        while s < spans.len() && spans[s].end <= a {
            s += 1;
        }
        if s < spans.len() && spans[s].start < b {
            tags[k] = if last_span == Some(s) { I } else { B };
            last_span = Some(s);
        }
    }
    tags
}

/// A span found by the tagger.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    /// The smallest probability, over the span's tokens, of not being `O`.
    pub confidence: f32,
}

/// Spans from per-token tag probabilities (`probs[k]` over [`TAGS`]) of a text's tokens in text
/// order: a token whose most likely tag is `B` opens a span, `I` continues the open span (or
/// opens one), `O` closes it. A `B` right after an open span (only spaces between) continues it
/// when its `I` probability is at least `join` times its `B` probability: `heated seats`, whose
/// `seats` alone is a part, is one mention (`f32::INFINITY`: never). Spans are widened to whole
/// words of `text` (a tagged `brake` in `brakes` gives `brakes`), and spans that then touch are
/// merged.
pub fn decode(text: &str, offsets: &[(usize, usize)], probs: &[[f32; 3]], join: f32) -> Vec<Found> {
    let mut found: Vec<Found> = Vec::new();
    let mut open = false;
    let mut prev_end = 0;
    for (&(a, b), p) in offsets.iter().zip(probs) {
        if b <= a {
            continue;
        }
        let mut tag = (0..3).max_by(|&x, &y| p[x].total_cmp(&p[y])).unwrap_or(0) as u32;
        let conf = 1.0 - p[O as usize];
        let adjacent = text.get(prev_end..a).is_some_and(|gap| gap.trim().is_empty());
        prev_end = b;
        if tag == B && open && adjacent && p[I as usize] >= join * p[B as usize] {
            tag = I;
        }
        match tag {
            B => {
                found.push(Found { start: a, end: b, confidence: conf });
                open = true;
            }
            I if open => {
                let f = found.last_mut().expect("an open span");
                f.end = b;
                f.confidence = f.confidence.min(conf);
            }
            I => {
                found.push(Found { start: a, end: b, confidence: conf });
                open = true;
            }
            _ => open = false,
        }
    }
    let bytes = text.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c >= 0x80;
    let mut merged: Vec<Found> = Vec::with_capacity(found.len());
    for mut f in found {
        while f.start > 0 && word(bytes[f.start - 1]) && word(bytes[f.start]) {
            f.start -= 1;
        }
        while f.end < bytes.len() && word(bytes[f.end]) && word(bytes[f.end - 1]) {
            f.end += 1;
        }
        while !text.is_char_boundary(f.start) {
            f.start -= 1;
        }
        while !text.is_char_boundary(f.end) {
            f.end += 1;
        }
        match merged.last_mut() {
            Some(last) if last.end >= f.start => {
                last.end = last.end.max(f.end);
                last.confidence = last.confidence.min(f.confidence);
            }
            _ => merged.push(f),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: usize, end: usize) -> TagSpan {
        TagSpan { start, end, part: "p".into() }
    }

    #[test]
    fn tags_mark_the_first_token_of_each_span() {
        // "new brake pads , tires": tokens new | brake | pad | ##s | , | tires
        let offsets = [(0, 3), (4, 9), (10, 13), (13, 14), (15, 16), (17, 22)];
        let tags = bio_tags(&offsets, &[span(4, 14), span(17, 22)]);
        assert_eq!(tags, [O, B, I, I, O, B]);
        // Two adjacent spans are two mentions.
        let tags = bio_tags(&offsets, &[span(4, 9), span(10, 14)]);
        assert_eq!(tags, [O, B, B, I, O, O]);
    }

    #[test]
    fn decoding_widens_to_words_and_merges() {
        let text = "new brakes, tire";
        let offsets = [(0, 3), (4, 9), (9, 10), (10, 11), (12, 16)];
        let p = |t: u32| {
            let mut v = [0.05f32; 3];
            v[t as usize] = 0.9;
            v
        };
        let found = decode(text, &offsets, &[p(O), p(B), p(O), p(O), p(I)], f32::INFINITY);
        let spans: Vec<&str> = found.iter().map(|f| &text[f.start..f.end]).collect();
        assert_eq!(spans, ["brakes", "tire"]);
        assert!((found[0].confidence - 0.95).abs() < 1e-6);
    }

    #[test]
    fn a_likely_continuation_joins_the_open_span() {
        let text = "heated seats, new tire";
        let offsets = [(0, 6), (7, 12), (12, 13), (14, 17), (18, 22)];
        let seats = [0.01f32, 0.7, 0.29];
        let p = [[0.1f32, 0.8, 0.1], seats, [0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.1, 0.8, 0.1]];
        let shown = |join: f32| -> Vec<String> {
            decode(text, &offsets, &p, join)
                .iter()
                .map(|f| text[f.start..f.end].to_owned())
                .collect()
        };
        assert_eq!(shown(0.2), ["heated seats", "tire"]);
        assert_eq!(shown(0.5), ["heated", "seats", "tire"]);
        assert_eq!(shown(f32::INFINITY), ["heated", "seats", "tire"]);
    }
}

//! A fast, exact token count for byte-level BPE tokenizers (GPT-2 style, as SmolLM2 and Llama 3
//! use): the GPT-2 pre-tokenisation regex written out as a scanner, and a cache of the token
//! count of each pre-token, so that the BPE model runs once per distinct word.
//!
//! It applies only to a tokenizer without normaliser whose pre-tokeniser is `ByteLevel` (no
//! prefix space, with the regex), optionally after `Digits`; a text holding an added token, or
//! a letter outside the classes the scanner knows exactly (ASCII and Latin U+00C0..U+024F), is
//! counted by the tokenizer itself. The unit tests compare both on tricky texts; the benchmark
//! compares them on the whole corpus.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use tokenizers::{Model, Tokenizer};

/// What the scanner needs to know about a tokenizer.
#[derive(Debug, Clone)]
pub(crate) struct ByteLevelShape {
    /// `Digits { individual_digits: true }` runs before `ByteLevel`.
    digits: bool,
    /// Added tokens' contents: a text holding one goes the slow way.
    added: Vec<String>,
    /// Identity of the counter, for the per-thread caches.
    id: usize,
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);
/// Distinct words cached per thread before the cache is emptied (bounded memory).
const CACHE_LIMIT: usize = 1 << 20;

impl ByteLevelShape {
    /// The shape of `tokenizer`, when the fast count is exact for it.
    pub(crate) fn of(tokenizer: &Tokenizer) -> Option<Self> {
        if tokenizer.get_normalizer().is_some() {
            return None;
        }
        let pre = serde_json::to_value(tokenizer.get_pre_tokenizer()?).ok()?;
        let is_byte_level = |v: &Value| {
            v["type"] == "ByteLevel" && v["add_prefix_space"] == false && v["use_regex"] != false
        };
        let digits = if is_byte_level(&pre) {
            false
        } else if pre["type"] == "Sequence" {
            match pre["pretokenizers"].as_array().map(Vec::as_slice) {
                Some([d, b])
                    if d["type"] == "Digits"
                        && d["individual_digits"] == true
                        && is_byte_level(b) =>
                {
                    true
                }
                _ => return None,
            }
        } else {
            return None;
        };
        let added = tokenizer.get_added_tokens_decoder().into_values().map(|t| t.content).collect();
        Some(Self { digits, added, id: NEXT_ID.fetch_add(1, Ordering::Relaxed) })
    }

    /// The token count of `text`, or `None` when the text must go the slow way.
    pub(crate) fn count(
        &self,
        tokenizer: &Tokenizer,
        text: &str,
    ) -> Option<tokenizers::Result<u32>> {
        if self.added.iter().any(|a| text.contains(a.as_str())) {
            return None;
        }
        let mut words = Vec::new();
        if !split_words(text, self.digits, &mut words) {
            return None;
        }
        CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.0 != self.id || cache.1.len() > CACHE_LIMIT {
                *cache = (self.id, HashMap::default());
            }
            let mut total = 0u32;
            for (start, end) in words {
                let word = &text[start..end];
                if let Some(n) = cache.1.get(word) {
                    total += n;
                    continue;
                }
                let mapped: String = word.bytes().map(byte_char).collect();
                let n = match tokenizer.get_model().tokenize(&mapped) {
                    Ok(tokens) => tokens.len() as u32,
                    Err(e) => return Some(Err(e)),
                };
                cache.1.insert(word.to_owned(), n);
                total += n;
            }
            Some(Ok(total))
        })
    }
}

/// FNV-1a: a fast hash for short keys (in-memory only).
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type Cache = (usize, HashMap<String, u32, BuildHasherDefault<Fnv>>);

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new((usize::MAX, HashMap::default()));
}

/// GPT-2's byte → printable character map (`bytes_to_unicode` of `encoder.py`): printable
/// bytes map to themselves, the others, in byte order, to U+0100, U+0101, ...
fn byte_char(b: u8) -> char {
    static MAP: std::sync::LazyLock<[char; 256]> = std::sync::LazyLock::new(|| {
        let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        let mut map = ['\0'; 256];
        let mut next = 256;
        for b in 0..=255u8 {
            map[usize::from(b)] = if printable(b) {
                char::from(b)
            } else {
                next += 1;
                char::from_u32(next - 1).expect("valid char")
            };
        }
        map
    });
    MAP[usize::from(b)]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Number,
    Space,
    Other,
}

/// The regex class of a char (`\p{L}`, `\p{N}`, `\s`, the rest), or `None` when it cannot be
/// told exactly without Unicode tables: a non-ASCII alphabetic char outside Latin-1 and
/// Latin Extended-A/B (Alphabetic is `\p{L}` plus marks and symbols that `\p{L}` lacks).
fn class(c: char) -> Option<Class> {
    Some(if c.is_ascii_alphabetic() {
        Class::Letter
    } else if c.is_numeric() {
        Class::Number
    } else if c.is_whitespace() {
        Class::Space
    } else if !c.is_alphabetic() {
        Class::Other
    } else if ('\u{C0}'..='\u{24F}').contains(&c) {
        Class::Letter
    } else {
        return None;
    })
}

/// Splits `text` into the pre-tokens of `Digits` (optional) + the GPT-2 regex
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, as byte ranges.
/// Returns false when a char cannot be classified exactly.
fn split_words(text: &str, digits: bool, out: &mut Vec<(usize, usize)>) -> bool {
    let mut chars: Vec<(usize, char, Class)> = Vec::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        let Some(cl) = class(c) else { return false };
        chars.push((i, c, cl));
    }
    let at = |k: usize| if k < chars.len() { chars[k].0 } else { text.len() };
    let mut a = 0;
    while a < chars.len() {
        // With Digits, every number char is a piece of its own and the regex runs inside pieces.
        let b = if digits {
            if chars[a].2 == Class::Number {
                out.push((at(a), at(a + 1)));
                a += 1;
                continue;
            }
            (a..chars.len()).find(|&k| chars[k].2 == Class::Number).unwrap_or(chars.len())
        } else {
            chars.len()
        };
        let mut k = a;
        while k < b {
            let c = chars[k].1;
            if c == '\'' && k + 1 < b {
                let n1 = chars[k + 1].1;
                let n2 = if k + 2 < b { Some(chars[k + 2].1) } else { None };
                let len = match (n1, n2) {
                    ('s' | 't' | 'm' | 'd', _) => 2,
                    ('r', Some('e')) | ('v', Some('e')) | ('l', Some('l')) => 3,
                    _ => 0,
                };
                if len > 0 {
                    out.push((at(k), at(k + len)));
                    k += len;
                    continue;
                }
            }
            let j = if c == ' ' && k + 1 < b && chars[k + 1].2 != Class::Space { k + 1 } else { k };
            let cl = chars[j].2;
            let mut e = j + 1;
            if cl != Class::Space {
                while e < b && chars[e].2 == cl {
                    e += 1;
                }
            } else {
                while e < b && chars[e].2 == Class::Space {
                    e += 1;
                }
                // `\s+(?!\S)`: a run followed by a non-space leaves its last char to the next
                // word; a single one is taken by `\s+`.
                if e < b && e - k >= 2 {
                    e -= 1;
                }
            }
            out.push((at(k), at(e)));
            k = e;
        }
        a = b;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_map_matches_gpt2() {
        assert_eq!(byte_char(b'a'), 'a');
        assert_eq!(byte_char(b' '), 'Ġ');
        assert_eq!(byte_char(b'\n'), 'Ċ');
        assert_eq!(byte_char(0), 'Ā');
        assert_eq!(byte_char(0xA0), 'ł');
        assert_eq!(byte_char(0xAD), 'Ń');
    }

    #[test]
    fn scanner_splits_like_the_gpt2_regex() {
        let cases: &[(&str, &[&str])] = &[
            ("Hello world", &["Hello", " world"]),
            ("I'm here, they're", &["I", "'m", " here", ",", " they", "'re"]),
            ("a  b", &["a", " ", " b"]),
            ("a \n b", &["a", " \n", " b"]),
            ("end  ", &["end", "  "]),
            ("x\ny", &["x", "\n", "y"]),
            ("!!'s ok", &["!!'", "s", " ok"]),
            (" 's", &[" '", "s"]),
            ("café ñ", &["café", " ñ"]),
            ("in 2019", &["in", " 2019"]),
        ];
        for (text, want) in cases {
            let mut words = Vec::new();
            assert!(split_words(text, false, &mut words));
            let got: Vec<&str> = words.iter().map(|&(s, e)| &text[s..e]).collect();
            assert_eq!(&got, want, "{text:?}");
        }
        let mut words = Vec::new();
        assert!(split_words("in 2019!", true, &mut words));
        let got: Vec<&str> = words.iter().map(|&(s, e)| &"in 2019!"[s..e]).collect();
        assert_eq!(got, ["in", " ", "2", "0", "1", "9", "!"]);
        assert!(!split_words("Ωmega", false, &mut Vec::new()), "Greek goes the slow way");
    }
}

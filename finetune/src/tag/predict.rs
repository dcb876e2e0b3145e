//! Prediction with a saved tagger: spans of texts, and `predictions.jsonl` for a dataset file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::Device;
use records::run::{PredictedSpan, Prediction};

use crate::classify::model::ClassifierDir;
use crate::classify::predict::make_batch;
use crate::models::bert::BertForTokenClassification;
use crate::progress::Reporter;
use crate::tag::data::{decode, Found, Windower, TAGS};
use crate::{Error, Result};

/// Micro counts of exact span matches (validation against the labeler's spans).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpanScore {
    pub correct: u64,
    /// Predictions made.
    pub predicted: u64,
    /// Gold items.
    pub gold: u64,
}

impl SpanScore {
    /// Adds exact span matches of one text.
    pub fn add_spans(&mut self, got: &[(usize, usize)], want: &[(usize, usize)]) {
        self.correct += got.iter().filter(|g| want.contains(g)).count() as u64;
        self.predicted += got.len() as u64;
        self.gold += want.len() as u64;
    }

    pub fn precision(&self) -> f64 {
        eval::score::ratio(self.correct, self.predicted)
    }

    pub fn recall(&self) -> f64 {
        eval::score::ratio(self.correct, self.gold)
    }

    pub fn f1(&self) -> f64 {
        eval::score::f1(self.precision(), self.recall())
    }
}

/// Spans of each text (see [`decode`]), windows batched by length.
///
/// # Errors
/// Tokenizer or tensor errors.
pub fn spans_of(
    model: &BertForTokenClassification,
    windower: &Windower,
    texts: &[&str],
    batch_size: usize,
    pad: u32,
    join: f32,
    device: &Device,
) -> Result<Vec<Vec<Found>>> {
    let tokens = token_probabilities(model, windower, texts, batch_size, pad, device)?;
    Ok(texts
        .iter()
        .zip(tokens)
        .map(|(text, (offsets, p))| decode(text, &offsets, &p, join))
        .collect())
}

/// The content tokens of each text (windows joined, special tokens left out): their byte offsets
/// and their tag probabilities over [`TAGS`].
///
/// # Errors
/// Tokenizer or tensor errors.
pub fn token_probabilities(
    model: &BertForTokenClassification,
    windower: &Windower,
    texts: &[&str],
    batch_size: usize,
    pad: u32,
    device: &Device,
) -> Result<Vec<TokenProbabilities>> {
    let windows = windower.windows(texts, None)?;
    let mut probs: Vec<Vec<[f32; 3]>> = vec![Vec::new(); windows.len()];
    let mut order: Vec<usize> = (0..windows.len()).collect();
    order.sort_by_key(|&i| windows[i].ids.len());
    for chunk in order.chunks(batch_size.max(1)) {
        let seqs: Vec<&[u32]> = chunk.iter().map(|&i| windows[i].ids.as_slice()).collect();
        let (ids, mask) = make_batch(&seqs, pad, None, device)?;
        let logits = model.forward(&ids, &mask, None)?.detach();
        let p = candle_nn::ops::softmax_last_dim(&logits)?;
        let (_, t, n) = p.dims3()?;
        debug_assert_eq!(n, TAGS.len());
        let flat: Vec<f32> = p.flatten_all()?.to_vec1()?;
        for (r, &i) in chunk.iter().enumerate() {
            probs[i] = (0..windows[i].ids.len())
                .map(|k| {
                    let at = (r * t + k) * n;
                    [flat[at], flat[at + 1], flat[at + 2]]
                })
                .collect();
        }
    }
    // Windows of one text are consecutive and in order: join their tokens.
    let mut out: Vec<TokenProbabilities> = vec![(Vec::new(), Vec::new()); texts.len()];
    let mut k = 0;
    while k < windows.len() {
        let t = windows[k].text;
        let mut offsets = Vec::new();
        let mut p = Vec::new();
        while k < windows.len() && windows[k].text == t {
            for (j, tag) in windows[k].tags.iter().enumerate() {
                if tag.is_some() {
                    offsets.push(windows[k].offsets[j]);
                    p.push(probs[k][j]);
                }
            }
            k += 1;
        }
        out[t] = (offsets, p);
    }
    Ok(out)
}

/// Byte offsets of a text's content tokens, and their tag probabilities.
pub type TokenProbabilities = (Vec<(usize, usize)>, Vec<[f32; 3]>);

/// Maps a span's text to a part name: a lexicon's canonical when a surface of it has the same
/// guideline form ([`records::gold::normalize_part`]: `Brake Pads` → `brakepad`), else the text,
/// lower-cased, whitespace collapsed.
#[derive(Debug, Clone, Default)]
pub struct PartNames {
    canonical: HashMap<String, String>,
}

impl PartNames {
    /// Names by a lexicon.
    pub fn from_lexicon(lexicon: &records::Lexicon) -> Self {
        let mut canonical = HashMap::new();
        for e in lexicon.entries() {
            canonical
                .entry(records::gold::normalize_part(&e.surface))
                .or_insert_with(|| records::text::normalize(&e.canonical));
        }
        Self { canonical }
    }

    /// The canonical of a lexicon surface with the same guideline form as `surface`, or as its
    /// singular (`tires` → `tire`, `batteries` → `battery`: the labeler matches plurals too).
    fn lookup(&self, surface: &str) -> Option<&String> {
        let mut forms = vec![surface.to_owned()];
        if let Some(s) = surface.strip_suffix("ies") {
            forms.push(format!("{s}y"));
        }
        forms.extend(surface.strip_suffix("es").map(str::to_owned));
        forms.extend(surface.strip_suffix('s').map(str::to_owned));
        forms.iter().find_map(|f| self.canonical.get(&records::gold::normalize_part(f)))
    }

    /// The part a span's text names.
    pub fn name(&self, surface: &str) -> String {
        let surface = records::text::normalize(&surface.to_lowercase());
        self.lookup(&surface).cloned().unwrap_or(surface)
    }

    /// Whether the lexicon has a surface of the same guideline form (or its singular's).
    pub fn knows(&self, surface: &str) -> bool {
        self.lookup(&records::text::normalize(&surface.to_lowercase())).is_some()
    }
}

/// A name the tagger found that the lexicon lacks: a lexicon candidate for a person to review.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The most frequent spelling found (lower-cased).
    pub alias: String,
    /// The proposed canonical name (the alias; the reviewer may change it).
    pub canonical: String,
    /// Mentions, and distinct reviews with a mention.
    pub count: usize,
    pub reviews: usize,
    pub mean_confidence: f32,
    /// One mention in its context, the span in brackets.
    pub example: String,
}

/// The header of a candidates CSV; `scrape --extra-aliases` merges the rows whose `accept` a
/// reviewer set to `yes`.
pub const CANDIDATES_HEADER: [&str; 7] =
    ["accept", "alias", "canonical", "count", "reviews", "mean_confidence", "example"];

/// Gathers the spans whose name the lexicon lacks, by guideline form, most frequent first (ties
/// by name); names seen fewer than `min_count` times are left out.
pub fn candidates(
    texts: &[String],
    predictions: &[Prediction],
    names: &PartNames,
    min_count: usize,
) -> Vec<Candidate> {
    struct Acc {
        spellings: HashMap<String, usize>,
        count: usize,
        reviews: usize,
        confidence: f64,
        example: String,
    }
    let mut by_key: HashMap<String, Acc> = HashMap::new();
    for (text, p) in texts.iter().zip(predictions) {
        let mut seen_here: Vec<String> = Vec::new();
        for s in p.spans.iter().flatten() {
            if names.knows(&s.text) {
                continue;
            }
            let key = records::gold::normalize_part(&s.text);
            if key.is_empty() {
                continue;
            }
            let acc = by_key.entry(key.clone()).or_insert_with(|| Acc {
                spellings: HashMap::new(),
                count: 0,
                reviews: 0,
                confidence: 0.0,
                example: context(text, s.start, s.end),
            });
            *acc.spellings.entry(records::text::normalize(&s.text.to_lowercase())).or_default() +=
                1;
            acc.count += 1;
            acc.confidence += f64::from(s.confidence);
            if !seen_here.contains(&key) {
                acc.reviews += 1;
                seen_here.push(key);
            }
        }
    }
    let mut out: Vec<Candidate> = by_key
        .into_values()
        .filter(|a| a.count >= min_count)
        .map(|a| {
            let alias = a
                .spellings
                .iter()
                .max_by(|x, y| x.1.cmp(y.1).then_with(|| y.0.cmp(x.0)))
                .map(|(s, _)| s.clone())
                .unwrap_or_default();
            Candidate {
                canonical: alias.clone(),
                alias,
                count: a.count,
                reviews: a.reviews,
                mean_confidence: (a.confidence / a.count as f64) as f32,
                example: a.example,
            }
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.alias.cmp(&b.alias)));
    out
}

/// About 50 characters either side of `start..end`, the span in brackets.
fn context(text: &str, start: usize, end: usize) -> String {
    let mut a = start.saturating_sub(50);
    while !text.is_char_boundary(a) {
        a -= 1;
    }
    let mut b = (end + 50).min(text.len());
    while !text.is_char_boundary(b) {
        b += 1;
    }
    format!("...{}[{}]{}...", &text[a..start], &text[start..end], &text[end..b])
}

/// Writes candidates as CSV (atomically), `accept` empty for the reviewer.
///
/// # Errors
/// I/O errors name the file.
pub fn write_candidates(path: &Path, list: &[Candidate]) -> Result<()> {
    records::atomic::write_atomic(path, |w| {
        let mut c = csv::Writer::from_writer(w);
        c.write_record(CANDIDATES_HEADER).map_err(std::io::Error::other)?;
        for k in list {
            c.write_record([
                "",
                &k.alias,
                &k.canonical,
                &k.count.to_string(),
                &k.reviews.to_string(),
                &format!("{:.3}", k.mean_confidence),
                &k.example,
            ])
            .map_err(std::io::Error::other)?;
        }
        c.flush()
    })?;
    Ok(())
}

/// The default `join` of [`decode`]: a `B` right after a span continues it when its `I`
/// probability is at least a fiftieth of its `B` probability (tuned on the dev and tune
/// annotations: 0.2 → 0.02 took dev F1 from 0.768 to 0.783).
pub const DEFAULT_JOIN: f32 = 0.02;

/// Self-training data: each tagging example's spans plus the predicted spans of at least
/// `min_confidence` that overlap none of them (named by `names`), as JSONL lines and `.ids`
/// lines. `Err(line)`: the example of that input line is not a tagging example.
fn relabel(
    examples: &[(u64, records::dataset::Example)],
    predictions: &[Prediction],
    texts: &[String],
    names: &PartNames,
    min_confidence: f32,
) -> std::result::Result<(String, String), u64> {
    use records::dataset::{Example, TagSpan};
    let (mut lines, mut ids) = (String::new(), String::new());
    for (((line, ex), p), text) in examples.iter().zip(predictions).zip(texts) {
        let Example::Tagged(t) = ex else { return Err(*line) };
        // The example's text is normalised already; its spans index `text` alike.
        let mut spans = t.spans.clone();
        for s in p.spans.iter().flatten().filter(|s| s.confidence >= min_confidence) {
            if !spans.iter().any(|k| k.start < s.end && s.start < k.end) {
                spans.push(TagSpan { start: s.start, end: s.end, part: names.name(&s.text) });
            }
        }
        spans.sort_by_key(|s| s.start);
        let out = records::dataset::TaggedExample { text: text.clone(), spans };
        lines.push_str(&serde_json::to_string(&out).expect("examples serialise"));
        lines.push('\n');
        ids.push_str(&p.id);
        ids.push('\n');
    }
    Ok((lines, ids))
}

/// A loaded tagger.
pub struct Tagger {
    pub dir: ClassifierDir,
    pub model: BertForTokenClassification,
    windower: Windower,
    /// See [`decode`].
    pub join: f32,
    device: Device,
}

impl Tagger {
    /// Loads a saved tagger (`BertForTokenClassification` with the [`TAGS`] labels);
    /// `max_length` defaults to the window it was trained with.
    ///
    /// # Errors
    /// Not a tagger, or invalid files.
    pub fn load(path: &Path, max_length: Option<usize>, device: &Device) -> Result<Self> {
        let dir = ClassifierDir::open(path)?;
        if dir.labels.as_deref().is_none_or(|l| l != TAGS) {
            return Err(Error::model(
                path.join(crate::model_dir::CONFIG_FILE),
                format!("not a part tagger (id2label must be {TAGS:?}): train one with `finetune tag train`"),
            ));
        }
        let max_length = max_length
            .or(dir.model_max_length)
            .unwrap_or(crate::classify::predict::DEFAULT_MAX_LENGTH)
            .min(dir.arch.max_positions());
        let (model, _, _) = dir.load_token_classifier(TAGS.len(), 0, device)?;
        let windower = Windower::new(&dir.tokenizer, max_length)?;
        Ok(Self { dir, model, windower, join: DEFAULT_JOIN, device: device.clone() })
    }

    /// The content tokens of each text with their tag probabilities (see
    /// [`token_probabilities`]).
    ///
    /// # Errors
    /// Tokenizer or tensor errors.
    pub fn token_probabilities(
        &self,
        texts: &[&str],
        batch_size: usize,
    ) -> Result<Vec<TokenProbabilities>> {
        token_probabilities(
            &self.model,
            &self.windower,
            texts,
            batch_size,
            self.dir.arch.pad_id(),
            &self.device,
        )
    }

    /// Spans of each text.
    ///
    /// # Errors
    /// Tokenizer or tensor errors.
    pub fn spans(&self, texts: &[&str], batch_size: usize) -> Result<Vec<Vec<Found>>> {
        spans_of(
            &self.model,
            &self.windower,
            texts,
            batch_size,
            self.dir.arch.pad_id(),
            self.join,
            &self.device,
        )
    }
}

/// What `tag predict --input` reads and writes.
#[derive(Debug, Clone)]
pub struct TagPredictConfig {
    pub model: PathBuf,
    /// Any dataset JSONL (tagging, legacy or chat): the review text of each line is tagged.
    pub input: PathBuf,
    pub out: PathBuf,
    /// Names parts by this lexicon's canonicals (else by the text tagged).
    pub lexicon: Option<PathBuf>,
    /// Keep spans whose confidence is at least this.
    pub min_confidence: f32,
    /// Write the names found that `lexicon` lacks here (needs `lexicon`), those seen at least
    /// `min_count` times: a CSV a person reviews before `scrape --extra-aliases` merges it.
    pub candidates: Option<(PathBuf, usize)>,
    /// Self-training: write the input (a tagging JSONL) again here with its spans plus the
    /// predicted spans of at least this confidence that overlap none of them (and an `.ids`
    /// sidecar): the next round's training data, the teacher's positives kept.
    pub relabel: Option<(PathBuf, f32)>,
    pub batch_size: usize,
    pub max_length: Option<usize>,
    /// See [`decode`] ([`DEFAULT_JOIN`]).
    pub join: f32,
    pub device: Device,
}

/// Tags every review of a dataset file into `predictions.jsonl` (with the spans and their
/// confidence); returns the predictions.
///
/// # Errors
/// Unreadable inputs, an invalid model, or an unwritable output.
pub fn predict_file(cfg: &TagPredictConfig, rep: &Reporter) -> Result<Vec<Prediction>> {
    let mut inputs: Vec<&Path> = vec![&cfg.model, &cfg.input];
    inputs.extend(cfg.lexicon.as_deref());
    records::atomic::ensure_not_input(&cfg.out, &inputs)?;
    if let Some((path, _)) = &cfg.candidates {
        if cfg.lexicon.is_none() {
            return Err(Error::Config(
                "candidates are names the lexicon lacks: give --lexicon".into(),
            ));
        }
        records::atomic::ensure_not_input(path, &inputs)?;
    }
    if let Some((path, _)) = &cfg.relabel {
        records::atomic::ensure_not_input(path, &inputs)?;
        records::atomic::ensure_not_input(&path.with_extension("ids"), &inputs)?;
    }
    let mut tagger = Tagger::load(&cfg.model, cfg.max_length, &cfg.device)?;
    tagger.join = cfg.join;
    let names = match &cfg.lexicon {
        Some(p) => PartNames::from_lexicon(&records::Lexicon::read(p)?),
        None => PartNames::default(),
    };
    let examples = crate::data::read_examples(&cfg.input)?;
    let lines: Vec<u64> = examples.iter().map(|(l, _)| *l).collect();
    let ids = crate::data::example_ids(&cfg.input, &lines)?;
    let texts: Vec<String> = examples
        .iter()
        .map(|(_, e)| records::text::normalize(&crate::predict::review_text(e)))
        .collect();
    let mut found: Vec<Vec<Found>> = Vec::with_capacity(texts.len());
    rep.start("tag", texts.len() as u64);
    for chunk in texts.chunks(256) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        found.extend(tagger.spans(&refs, cfg.batch_size)?);
        rep.update(found.len() as u64, String::new());
    }
    rep.finish();
    let predictions: Vec<Prediction> = examples
        .iter()
        .zip(ids)
        .zip(texts.iter().zip(found))
        .map(|(((_, ex), id), (text, spans))| {
            let spans: Vec<PredictedSpan> = spans
                .into_iter()
                .filter(|f| f.confidence >= cfg.min_confidence)
                .map(|f| {
                    let surface = &text[f.start..f.end];
                    PredictedSpan {
                        start: f.start,
                        end: f.end,
                        text: surface.to_owned(),
                        part: names.name(surface),
                        confidence: (f.confidence * 1e4).round() / 1e4,
                    }
                })
                .collect();
            let mut parts: Vec<String> = Vec::new();
            for s in &spans {
                if !parts.contains(&s.part) {
                    parts.push(s.part.clone());
                }
            }
            Prediction {
                id,
                completion: parts.join(records::dataset::defaults::PART_JOINER),
                parts,
                gold: crate::data::gold_parts(ex),
                spans: Some(spans),
            }
        })
        .collect();
    records::atomic::write_atomic(&cfg.out, |w| {
        for p in &predictions {
            serde_json::to_writer(&mut *w, p)?;
            std::io::Write::write_all(w, b"\n")?;
        }
        Ok(())
    })?;
    if let Some((path, min_count)) = &cfg.candidates {
        write_candidates(path, &candidates(&texts, &predictions, &names, *min_count))?;
    }
    if let Some((path, min_confidence)) = &cfg.relabel {
        let (lines, ids) = relabel(&examples, &predictions, &texts, &names, *min_confidence)
            .map_err(|line| {
                Error::json(&cfg.input, line, "--relabel needs a tagging example on every line")
            })?;
        records::atomic::write_bytes_atomic(path, lines.as_bytes())?;
        records::atomic::write_bytes_atomic(&path.with_extension("ids"), ids.as_bytes())?;
    }
    Ok(predictions)
}

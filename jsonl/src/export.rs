//! `jsonl export`: labeled reviews → fine-tuning JSONL in the legacy or chat format, split,
//! sliced, deduplicated, with a manifest.
//!
//! The steps, in order, each counted in [`Counts`]:
//!
//! 1. The review text goes through [`records::text::normalize`] (the function prediction calls
//!    too); a review left empty is dropped. Parts are normalised the same way.
//! 2. A review without parts becomes a *negative* (completion `none`); `negatives` is the fraction
//!    of them kept, chosen by a stable hash of the review id, so the choice is repeatable.
//! 3. **Conflicts** (legacy format). A review that contains the separator (its non-blank part,
//!    `->`) or the stop sequence (` END`), or a part that contains either or the `,` that joins
//!    parts, would teach the model to start or stop early. With [`ConflictPolicy::Rewrite`] (the
//!    default) the token is rewritten: letters are lower-cased (` END` → ` end`) and `->` becomes
//!    `→`; a `,` inside a part becomes a space. A token that has no such rewrite, and every
//!    conflict with [`ConflictPolicy::Drop`], drops the example. In the chat format only the `,`
//!    inside a part is a conflict (the chat template marks turns itself).
//! 4. Identical examples (same prompt and completion, or same messages) are kept once, at their
//!    first review in input order.
//! 5. Reviews listed in `exclude` files (ids, one per line) are left out.
//! 6. With `max_tokens` and a tokenizer, longer examples are **dropped**, not truncated: a
//!    truncated review would keep labels for parts the model no longer sees.
//! 7. Each review goes to the split its id and the seed hash to ([`crate::split`]); inside a split
//!    examples are ordered by another stable hash of the id (a shuffle that new reviews
//!    interleave with without reordering the old ones). `offset` and `rows` then slice the
//!    training split for iterative rounds (round 1: `rows = 1000`); validation and test are
//!    written whole.
//!
//! Files written into the output directory (atomically): `train.jsonl`, `valid.jsonl`,
//! `test.jsonl` (a split whose fraction is 0 is not written), each with a line-aligned
//! `<split>.ids` sidecar holding the review id (`source_file#index`) of each line — the legacy
//! format has no room for an id, and `--exclude`, `finetune` and `eval` read the sidecar — and
//! `manifest.json` (counts, seed, options, SHA-256 of the input and of each output).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use records::dataset::{
    defaults, ChatExample, Example, LegacyExample, Message, Role, TagSpan, TaggedExample,
};
use records::{LabeledReview, ReviewId};

use crate::split::{stable_hash, stable_unit, Split, SplitFractions};
use crate::tokens::{count_examples, ExampleTexts, TokenCounter};
use crate::{Error, Format, Result};

/// The default system prompt of chat examples.
pub const DEFAULT_SYSTEM: &str =
    "List the vehicle parts mentioned in the car review, separated by commas, or none.";

/// The name of the manifest written beside the output.
pub const MANIFEST: &str = "manifest.json";

/// What to do with an example whose text contains the separator or the stop sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConflictPolicy {
    /// Rewrite the token (see the module docs); drop when no rewrite exists.
    #[default]
    Rewrite,
    /// Drop the example.
    Drop,
}

/// Options of `export`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportConfig {
    /// Output format. Default legacy.
    pub format: Format,
    /// Appended to legacy prompts. Default `" ->"`.
    pub separator: String,
    /// Appended to legacy completions. Default `" END"`.
    pub stop: String,
    /// The answer of a review without parts. Default `"none"`.
    pub none: String,
    /// The system message of chat examples; empty for none. Default [`DEFAULT_SYSTEM`].
    pub system: String,
    /// The `name` of the user message of chat examples. Default none.
    pub user_name: Option<String>,
    /// Fraction of reviews without parts that are kept, in `[0, 1]`. Default 1.
    pub negatives: f64,
    /// Seed of the split, the order and the negative sampling. Default 42.
    pub seed: u64,
    /// Default 0.8 / 0.1 / 0.1.
    pub split: SplitFractions,
    /// Number of training examples to write (after `offset`). Default all.
    pub rows: Option<usize>,
    /// Training examples to skip. Default 0.
    pub offset: usize,
    /// Files of review ids to leave out: id lists (`*.ids`, one `file#index` a line) or
    /// hand-annotation JSONL (the reviews it annotates). Default none.
    pub exclude: Vec<PathBuf>,
    /// Files of review ids (as `exclude`) to keep alone: every other review is left out, e.g.
    /// to build the prompts of the hand-annotated reviews. Default none (every review).
    #[serde(default)]
    pub only: Vec<PathBuf>,
    /// Drop examples longer than this many tokens (needs `tokenizer`). Default none.
    pub max_tokens: Option<u32>,
    /// `tokenizer.json` for `max_tokens`. Default none.
    pub tokenizer: Option<PathBuf>,
    /// Default [`ConflictPolicy::Rewrite`].
    pub on_conflict: ConflictPolicy,
}

impl Default for ExportConfig {
    fn default() -> Self {
        Self {
            format: Format::Legacy,
            separator: defaults::SEPARATOR.to_owned(),
            stop: defaults::STOP.to_owned(),
            none: defaults::NONE.to_owned(),
            system: DEFAULT_SYSTEM.to_owned(),
            user_name: None,
            negatives: 1.0,
            seed: 42,
            split: SplitFractions::default(),
            rows: None,
            offset: 0,
            exclude: Vec::new(),
            only: Vec::new(),
            max_tokens: None,
            tokenizer: None,
            on_conflict: ConflictPolicy::Rewrite,
        }
    }
}

impl ExportConfig {
    /// Checks the options that can be checked without reading anything.
    ///
    /// # Errors
    /// [`Error::Config`] naming the option.
    pub fn check(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.negatives) {
            return Err(Error::config(
                "--negatives",
                format!("must be in [0, 1], got {}", self.negatives),
            ));
        }
        if self.max_tokens.is_some() != self.tokenizer.is_some() {
            return Err(Error::config(
                "--max-tokens",
                "needs --tokenizer, and --tokenizer needs --max-tokens",
            ));
        }
        if self.format == Format::Legacy {
            if self.stop.trim().is_empty() {
                return Err(Error::config("--stop", "must not be blank"));
            }
            if self.separator.trim().is_empty() {
                return Err(Error::config("--separator", "must not be blank"));
            }
            if self.none.trim().is_empty() {
                return Err(Error::config("--none", "must not be blank"));
            }
        }
        Ok(())
    }
}

/// What happened to the reviews.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Reviews read.
    pub reviews: u64,
    /// Dropped: empty after normalisation.
    pub empty_reviews: u64,
    /// Reviews without parts.
    pub negatives: u64,
    /// Of those, dropped by `negatives` sampling.
    pub negatives_dropped: u64,
    /// Reviews that contained the separator.
    pub separator_in_review: u64,
    /// Reviews that contained the stop sequence.
    pub stop_in_review: u64,
    /// Reviews with a part that contained the separator, the stop sequence or `,`.
    pub conflicting_parts: u64,
    /// Examples kept with rewritten text because of a conflict.
    pub conflicts_rewritten: u64,
    /// Examples dropped because of a conflict.
    pub conflicts_dropped: u64,
    /// Dropped: identical to an earlier example.
    pub duplicates: u64,
    /// Dropped: listed in an exclude file.
    pub excluded: u64,
    /// Dropped: not listed in any `only` file.
    #[serde(default)]
    pub not_selected: u64,
    /// Dropped: longer than `max_tokens`.
    pub over_max_tokens: u64,
    /// Examples in each split before slicing.
    pub train_pool: u64,
    pub valid: u64,
    pub test: u64,
    /// Training examples written (after `offset` and `rows`).
    pub train: u64,
}

/// A file and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    pub path: String,
    pub sha256: String,
}

/// One written split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    pub split: Split,
    /// File name inside the output directory.
    pub file: String,
    /// Its id sidecar.
    pub ids: String,
    pub examples: u64,
    pub sha256: String,
}

/// `manifest.json`: enough to know what a dataset is and to rebuild it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// `jsonl <version>`.
    pub tool: String,
    pub input: FileDigest,
    /// Exclude files with their digests.
    pub exclude: Vec<FileDigest>,
    pub tokenizer: Option<FileDigest>,
    pub options: ExportConfig,
    pub counts: Counts,
    pub outputs: Vec<OutputFile>,
}

/// The examples of each split, with their review ids, in output order.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub train: Vec<(ReviewId, Example)>,
    pub valid: Vec<(ReviewId, Example)>,
    pub test: Vec<(ReviewId, Example)>,
    pub counts: Counts,
}

impl Dataset {
    /// The examples of one split.
    pub fn split(&self, split: Split) -> &[(ReviewId, Example)] {
        match split {
            Split::Train => &self.train,
            Split::Valid => &self.valid,
            Split::Test => &self.test,
        }
    }
}

/// Reads the labeled input, builds the dataset and writes it with its manifest into `out_dir`.
///
/// # Errors
/// [`Error::Config`] for inconsistent options, [`Error::Label`] when the input cannot be read,
/// [`Error::Exclude`] for a bad exclude file, [`Error::TokenizerLoad`], and I/O errors naming the
/// file.
pub fn export(input: &Path, out_dir: &Path, config: &ExportConfig) -> Result<Manifest> {
    config.check()?;
    let mut inputs: Vec<&Path> = vec![input];
    inputs.extend(config.exclude.iter().chain(&config.only).map(PathBuf::as_path));
    inputs.extend(config.tokenizer.as_deref());
    records::atomic::ensure_not_input(out_dir, &inputs)?;
    claim_out_dir(out_dir)?;
    let mut reviews = label::read_labeled(input)?;
    let mut excluded = HashSet::new();
    let mut exclude_digests = Vec::new();
    for path in &config.exclude {
        excluded.extend(read_ids(path)?);
        exclude_digests.push(digest_file(path)?);
    }
    let mut not_selected = 0;
    if !config.only.is_empty() {
        let mut only = HashSet::new();
        for path in &config.only {
            only.extend(read_ids(path)?);
            exclude_digests.push(digest_file(path)?);
        }
        let before = reviews.len();
        reviews.retain(|r| only.contains(&r.id));
        not_selected = (before - reviews.len()) as u64;
    }
    let counter = config.tokenizer.as_deref().map(TokenCounter::from_file).transpose()?;
    let mut dataset = build(&reviews, config, &excluded, counter.as_ref())?;
    dataset.counts.not_selected = not_selected;
    dataset.counts.reviews += not_selected;
    drop(reviews);
    if Split::ALL.iter().all(|&split| dataset.split(split).is_empty()) {
        return Err(Error::Empty {
            path: input.to_owned(),
            message: format!(
                "no example to export ({} reviews read, {} empty, {} excluded, {} negatives dropped)",
                dataset.counts.reviews,
                dataset.counts.empty_reviews,
                dataset.counts.excluded,
                dataset.counts.negatives_dropped
            ),
        });
    }
    let partial = out_dir.join(PARTIAL);
    if out_dir.join(MANIFEST).exists() {
        // From here until the new manifest is written the directory is not a complete export:
        // the marker says so, and lets a rerun after a crash take it over again.
        records::atomic::write_bytes_atomic(&partial, b"")?;
        std::fs::remove_file(out_dir.join(MANIFEST)).map_err(|e| Error::io(out_dir, e))?;
    }
    // Every split file goes, not only those this export writes: a split left from an earlier
    // export (its test set, say) would otherwise sit beside the new training split.
    for split in Split::ALL {
        for ext in ["jsonl", "ids"] {
            let path = out_dir.join(format!("{}.{ext}", split.name()));
            if path.exists() {
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
        }
    }
    let outputs = write_dataset(&dataset, out_dir, config)?;
    let manifest = Manifest {
        tool: format!("jsonl {}", env!("CARGO_PKG_VERSION")),
        input: digest_file(input)?,
        exclude: exclude_digests,
        tokenizer: config.tokenizer.as_deref().map(digest_file).transpose()?,
        options: config.clone(),
        counts: dataset.counts.clone(),
        outputs,
    };
    let mut json = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
    json.push('\n');
    records::atomic::write_bytes_atomic(&out_dir.join(MANIFEST), json.as_bytes())?;
    let _ = std::fs::remove_file(partial);
    Ok(manifest)
}

/// The marker of an export in progress (see [`export`]).
const PARTIAL: &str = ".export-partial";

/// An export owns the split files of its directory: a directory that holds split files but
/// neither a manifest (a finished export) nor the in-progress marker (an interrupted one) is
/// someone else's, and is refused rather than mixed with.
fn claim_out_dir(out_dir: &Path) -> Result<()> {
    if out_dir.join(MANIFEST).exists() || out_dir.join(PARTIAL).exists() {
        return Ok(());
    }
    let foreign = Split::ALL
        .iter()
        .flat_map(|s| [format!("{}.jsonl", s.name()), format!("{}.ids", s.name())])
        .find(|name| out_dir.join(name).exists());
    match foreign {
        Some(name) => Err(Error::Config {
            option: "--out",
            message: format!(
                "{} holds {name} but no {MANIFEST}: not a directory this tool exported; \
                 choose a new or empty directory",
                out_dir.display()
            ),
        }),
        None => Ok(()),
    }
}

/// Reads review ids, one per line (blank lines ignored), e.g. a `train.ids` sidecar; or, from
/// a hand-annotation JSONL file (first byte `{`), the ids of the reviews it annotates.
///
/// # Errors
/// [`Error::Io`] or [`Error::Exclude`] naming the file and line; annotation errors.
pub fn read_ids(path: &Path) -> Result<HashSet<ReviewId>> {
    let head = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        return Ok(records::gold::read_annotations(path)?.iter().map(|a| a.id()).collect());
    }
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut ids = HashSet::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let id = line.parse::<ReviewId>().map_err(|message| Error::Exclude {
            path: path.to_owned(),
            line: i as u64 + 1,
            message,
        })?;
        ids.insert(id);
    }
    Ok(ids)
}

/// The SHA-256 of a file.
///
/// # Errors
/// [`Error::Io`] naming the file.
pub fn digest_file(path: &Path) -> Result<FileDigest> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(FileDigest { path: path.display().to_string(), sha256: hex::encode(hasher.finalize()) })
}

pub use records::dataset::{guard, legacy_prompt, Guarded};

/// Builds the dataset from reviews in memory (no file is read or written).
///
/// # Errors
/// [`Error::Tokenize`] when the tokenizer fails.
pub fn build(
    reviews: &[LabeledReview],
    config: &ExportConfig,
    excluded: &HashSet<ReviewId>,
    tokens: Option<&TokenCounter>,
) -> Result<Dataset> {
    let mut counts = Counts { reviews: reviews.len() as u64, ..Counts::default() };
    let mut seen: HashSet<u64> = HashSet::new();
    let mut kept: Vec<(ReviewId, Example)> = Vec::new();
    for r in reviews {
        let Some(example) = review_example(r, config, &mut counts)? else { continue };
        let mut h = std::hash::DefaultHasher::new();
        example.hash(&mut h);
        if !seen.insert(h.finish()) {
            counts.duplicates += 1;
            continue;
        }
        if excluded.contains(&r.id) {
            counts.excluded += 1;
            continue;
        }
        kept.push((r.id.clone(), example));
    }
    drop(seen);
    if let (Some(counter), Some(max)) = (tokens, config.max_tokens) {
        let mut fits = Vec::with_capacity(kept.len());
        for chunk in kept.chunks(4096) {
            let texts: Vec<ExampleTexts> =
                chunk.iter().map(|(_, e)| ExampleTexts::from_example(e)).collect();
            fits.extend(count_examples(counter, &texts)?.into_iter().map(|n| n.total <= max));
        }
        let before = kept.len();
        let mut fit = fits.into_iter();
        kept.retain(|_| fit.next().unwrap_or(true));
        counts.over_max_tokens = (before - kept.len()) as u64;
    }
    let mut by_split: HashMap<Split, Vec<(u64, ReviewId, Example)>> = HashMap::new();
    for (id, example) in kept {
        let split = config.split.assign(config.seed, &id);
        let order = stable_hash("order", config.seed, &id);
        by_split.entry(split).or_default().push((order, id, example));
    }
    let mut take = |split: Split| -> Vec<(ReviewId, Example)> {
        let mut v = by_split.remove(&split).unwrap_or_default();
        v.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        v.into_iter().map(|(_, id, e)| (id, e)).collect()
    };
    let pool = take(Split::Train);
    let valid = take(Split::Valid);
    let test = take(Split::Test);
    counts.train_pool = pool.len() as u64;
    counts.valid = valid.len() as u64;
    counts.test = test.len() as u64;
    let train: Vec<_> =
        pool.into_iter().skip(config.offset).take(config.rows.unwrap_or(usize::MAX)).collect();
    counts.train = train.len() as u64;
    Ok(Dataset { train, valid, test, counts })
}

/// The example of one review (module docs, steps 1 to 3), or `None` when the review is
/// dropped (empty, a negative not sampled, an unfixable conflict), counted in `counts`.
///
/// # Errors
/// A tagging export of a review whose mentions do not fit it ([`tagged_example`]).
fn review_example(
    r: &LabeledReview,
    config: &ExportConfig,
    counts: &mut Counts,
) -> Result<Option<Example>> {
    let negative = |counts: &mut Counts| {
        counts.negatives += 1;
        let dropped = stable_unit("negatives", config.seed, &r.id) >= config.negatives;
        counts.negatives_dropped += u64::from(dropped);
        dropped
    };
    if config.format == Format::Tagging {
        let Some(example) = tagged_example(r)? else {
            counts.empty_reviews += 1;
            return Ok(None);
        };
        if example.spans.is_empty() && negative(counts) {
            return Ok(None);
        }
        return Ok(Some(Example::Tagged(example)));
    }
    let mut review = records::text::normalize(&r.review);
    if review.is_empty() {
        counts.empty_reviews += 1;
        return Ok(None);
    }
    let mut parts: Vec<String> = Vec::new();
    for p in &r.parts {
        let p = records::text::normalize(p);
        if !p.is_empty() && !parts.contains(&p) {
            parts.push(p);
        }
    }
    if parts.is_empty() && negative(counts) {
        return Ok(None);
    }
    match guard_example(&mut review, &mut parts, config, counts) {
        Outcome::Clean => {}
        Outcome::Rewritten => counts.conflicts_rewritten += 1,
        Outcome::Drop => {
            counts.conflicts_dropped += 1;
            return Ok(None);
        }
    }
    Ok(Some(make_example(review, &parts, config)))
}

/// The tagging example of a review: its normalised text, and the mentions `label --spans` found
/// in its `Review` field mapped into that text (title mentions are left out: the text is the
/// review). `None` for an empty review.
///
/// # Errors
/// [`Error::Config`] when the table has no `Spans_part` column; [`Error::Mention`] naming the
/// review when a mention does not lie inside its text.
fn tagged_example(r: &LabeledReview) -> Result<Option<TaggedExample>> {
    let Some(mentions) = &r.spans else {
        return Err(Error::config(
            "format",
            "the tagging format needs mention offsets, and the labeled table has no Spans_part \
             column: label the reviews with `label --spans`",
        ));
    };
    let (text, map) = records::text::normalize_with_map(&r.review);
    if text.is_empty() {
        return Ok(None);
    }
    let mut spans: Vec<TagSpan> = Vec::new();
    for m in mentions.iter().filter(|m| m.field == "Review") {
        if m.start >= m.end || r.review.get(m.start..m.end) != Some(m.text.as_str()) {
            return Err(Error::Mention {
                id: r.id.to_string(),
                message: format!(
                    "Spans_part: mention {:?} at {}..{} is not in the review text (was the table \
                     edited after labeling?)",
                    m.text, m.start, m.end
                ),
            });
        }
        let (start, end) = records::text::map_span(&map, m.start, m.end);
        // The labeler's matches do not overlap; keep the first should two ever touch.
        if spans.last().is_some_and(|s| s.end > start) {
            continue;
        }
        spans.push(TagSpan { start, end, part: records::text::normalize(&m.part) });
    }
    Ok(Some(TaggedExample { text, spans }))
}

enum Outcome {
    Clean,
    Rewritten,
    Drop,
}

/// Applies the conflict policy to a review and its parts (module docs, step 3).
fn guard_example(
    review: &mut String,
    parts: &mut [String],
    config: &ExportConfig,
    counts: &mut Counts,
) -> Outcome {
    let legacy = config.format == Format::Legacy;
    let separator = config.separator.trim();
    let mut rewritten = false;
    // In the chat format the review text is checked for nothing: the template marks turns.
    let review_tokens: &[&str] = if legacy { &[separator, config.stop.as_str()] } else { &[] };
    for (i, token) in review_tokens.iter().enumerate() {
        let outcome = match guard(review, token) {
            Guarded::Clean => continue,
            Guarded::Rewritten(t) if config.on_conflict == ConflictPolicy::Rewrite => {
                *review = t;
                rewritten = true;
                Outcome::Rewritten
            }
            _ => Outcome::Drop,
        };
        if i == 0 {
            counts.separator_in_review += 1;
        } else {
            counts.stop_in_review += 1;
        }
        if matches!(outcome, Outcome::Drop) {
            return outcome;
        }
    }
    let mut part_conflict = false;
    for part in parts.iter_mut() {
        let mut text = part.clone();
        if text.contains(',') {
            part_conflict = true;
            text = records::text::normalize(&text.replace(',', " "));
        }
        if legacy {
            // The completion is " " + parts joined by ", ": a part conflicts when it holds the
            // separator, or the stop sequence once the space before it is counted.
            for token in [separator, config.stop.as_str()] {
                let padded = format!(" {text}");
                match guard(&padded, token) {
                    Guarded::Clean => {}
                    Guarded::Rewritten(t) => {
                        part_conflict = true;
                        text = t[1..].to_owned();
                    }
                    Guarded::Unfixable => {
                        counts.conflicting_parts += 1;
                        return Outcome::Drop;
                    }
                }
            }
        }
        *part = text;
    }
    if part_conflict {
        counts.conflicting_parts += 1;
        if config.on_conflict == ConflictPolicy::Drop {
            return Outcome::Drop;
        }
        rewritten = true;
    }
    if rewritten {
        Outcome::Rewritten
    } else {
        Outcome::Clean
    }
}

fn make_example(review: String, parts: &[String], config: &ExportConfig) -> Example {
    let answer =
        if parts.is_empty() { config.none.clone() } else { parts.join(defaults::PART_JOINER) };
    match config.format {
        Format::Legacy => Example::Legacy(LegacyExample {
            prompt: review + &config.separator,
            completion: format!(" {answer}{}", config.stop),
        }),
        Format::Tagging => unreachable!("tagging examples are built by tagged_example"),
        Format::Chat => {
            let mut messages = Vec::with_capacity(3);
            if !config.system.is_empty() {
                messages.push(Message::new(Role::System, config.system.clone()));
            }
            let mut user = Message::new(Role::User, review);
            user.name.clone_from(&config.user_name);
            messages.push(user);
            messages.push(Message::new(Role::Assistant, answer));
            Example::Chat(ChatExample { messages })
        }
    }
}

/// Renders the examples of a split as JSONL bytes and its id sidecar.
pub fn render(examples: &[(ReviewId, Example)]) -> (Vec<u8>, Vec<u8>) {
    let mut jsonl = Vec::with_capacity(examples.len() * 512);
    let mut ids = Vec::with_capacity(examples.len() * 32);
    for (id, example) in examples {
        serde_json::to_writer(&mut jsonl, example).expect("examples serialise");
        jsonl.push(b'\n');
        ids.extend_from_slice(id.to_string().as_bytes());
        ids.push(b'\n');
    }
    (jsonl, ids)
}

fn write_dataset(
    dataset: &Dataset,
    out_dir: &Path,
    config: &ExportConfig,
) -> Result<Vec<OutputFile>> {
    let mut outputs = Vec::new();
    for split in Split::ALL {
        if config.split.fraction(split) == 0.0 {
            continue;
        }
        let examples = dataset.split(split);
        let (jsonl, ids) = render(examples);
        let file = format!("{}.jsonl", split.name());
        let ids_file = format!("{}.ids", split.name());
        records::atomic::write_bytes_atomic(&out_dir.join(&file), &jsonl)?;
        records::atomic::write_bytes_atomic(&out_dir.join(&ids_file), &ids)?;
        outputs.push(OutputFile {
            split,
            file,
            ids: ids_file,
            examples: examples.len() as u64,
            sha256: hex::encode(Sha256::digest(&jsonl)),
        });
    }
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(index: i64, text: &str, parts: &[&str]) -> LabeledReview {
        LabeledReview {
            id: ReviewId::new("t.csv", index),
            title: String::new(),
            review: text.to_owned(),
            rating: Some(4.0),
            parts: parts.iter().map(|p| (*p).to_owned()).collect(),
            spans: None,
        }
    }

    fn all_examples(d: &Dataset) -> Vec<&Example> {
        Split::ALL.iter().flat_map(|s| d.split(*s)).map(|(_, e)| e).collect()
    }

    #[test]
    fn guard_cases() {
        struct Case {
            text: &'static str,
            token: &'static str,
            want: Guarded,
        }
        let rewritten = |s: &str| Guarded::Rewritten(s.to_owned());
        let cases = [
            Case { text: "fine car", token: "->", want: Guarded::Clean },
            Case { text: "a -> b", token: "->", want: rewritten("a → b") },
            Case { text: "a-->b", token: "->", want: rewritten("a-→b") },
            Case { text: "THE END of it", token: " END", want: rewritten("THE end of it") },
            Case { text: "END first", token: " END", want: Guarded::Clean },
            Case { text: "a ### b", token: "###", want: Guarded::Unfixable },
            Case { text: "anything", token: "  ", want: Guarded::Clean },
        ];
        for case in cases {
            assert_eq!(
                guard(case.text, case.token),
                case.want,
                "{:?} in {:?}",
                case.token,
                case.text
            );
        }
    }

    #[test]
    fn conflicts_are_rewritten_or_dropped_and_counted() {
        let reviews = [
            review(0, "Shifter -> broken", &["shifter"]),
            review(1, "THE END came fast", &["engine"]),
            review(2, "Clean review", &["nut, bolt"]),
        ];
        let config = ExportConfig {
            split: SplitFractions::new(1.0, 0.0, 0.0).unwrap(),
            ..Default::default()
        };
        let d = build(&reviews, &config, &HashSet::new(), None).unwrap();
        assert_eq!(d.counts.conflicts_rewritten, 3);
        assert_eq!(
            (d.counts.separator_in_review, d.counts.stop_in_review, d.counts.conflicting_parts),
            (1, 1, 1)
        );
        let lines: HashSet<String> =
            all_examples(&d).iter().map(|e| serde_json::to_string(e).unwrap()).collect();
        for want in [
            r#"{"prompt":"Shifter → broken ->","completion":" shifter END"}"#,
            r#"{"prompt":"THE end came fast ->","completion":" engine END"}"#,
            r#"{"prompt":"Clean review ->","completion":" nut bolt END"}"#,
        ] {
            assert!(lines.contains(want), "{want} not in {lines:?}");
        }
        let drop = ExportConfig { on_conflict: ConflictPolicy::Drop, ..config };
        let d = build(&reviews, &drop, &HashSet::new(), None).unwrap();
        assert_eq!((d.counts.conflicts_dropped, d.counts.train), (3, 0));
    }

    #[test]
    fn slicing_rounds_and_exclusion_partition_the_training_pool() {
        let reviews: Vec<LabeledReview> =
            (0..60).map(|i| review(i, &format!("review number {i}"), &["tire"])).collect();
        let base = ExportConfig {
            split: SplitFractions::new(1.0, 0.0, 0.0).unwrap(),
            ..Default::default()
        };
        let none = HashSet::new();
        let all = build(&reviews, &base, &none, None).unwrap();
        let round1 =
            build(&reviews, &ExportConfig { rows: Some(20), ..base.clone() }, &none, None).unwrap();
        let round2 = build(
            &reviews,
            &ExportConfig { rows: Some(20), offset: 20, ..base.clone() },
            &none,
            None,
        )
        .unwrap();
        assert_eq!(round1.train[..], all.train[..20]);
        assert_eq!(round2.train[..], all.train[20..40]);
        // Excluding round 1's ids and taking the next 20 gives round 2 again.
        let used: HashSet<ReviewId> = round1.train.iter().map(|(id, _)| id.clone()).collect();
        let again =
            build(&reviews, &ExportConfig { rows: Some(20), ..base.clone() }, &used, None).unwrap();
        assert_eq!(again.train, round2.train);
        assert_eq!(again.counts.excluded, 20);
        // Growing the input keeps the relative order of the old reviews.
        let mut grown = reviews.clone();
        grown.extend((60..90).map(|i| review(i, &format!("review number {i}"), &["tire"])));
        let bigger = build(&grown, &base, &none, None).unwrap();
        let old: Vec<_> = bigger.train.iter().filter(|(id, _)| id.index < 60).cloned().collect();
        assert_eq!(old, all.train);
    }

    #[test]
    fn negatives_fraction_duplicates_and_empty_reviews() {
        let mut reviews: Vec<LabeledReview> =
            (0..200).map(|i| review(i, &format!("no parts here {i}"), &[])).collect();
        reviews.push(review(200, "same text", &["tire"]));
        reviews.push(review(201, "same  text", &["tire"]));
        reviews.push(review(202, " \r ", &["tire"]));
        let config = ExportConfig { negatives: 0.25, ..Default::default() };
        let d = build(&reviews, &config, &HashSet::new(), None).unwrap();
        assert_eq!(d.counts.negatives, 200);
        let kept = 200 - d.counts.negatives_dropped;
        assert!((30..70).contains(&kept), "kept {kept} of 200 negatives at 0.25");
        assert_eq!((d.counts.duplicates, d.counts.empty_reviews), (1, 1));
        let total = d.counts.train + d.counts.valid + d.counts.test;
        assert_eq!(total, kept + 1);
    }

    #[test]
    fn max_tokens_drops_long_examples() {
        let counter = TokenCounter::new(crate::tokens::test_tokenizer());
        let reviews =
            [review(0, "short one", &["tire"]), review(1, "a b c d e f g h i j", &["tire"])];
        let config = ExportConfig {
            max_tokens: Some(6),
            split: SplitFractions::new(1.0, 0.0, 0.0).unwrap(),
            ..Default::default()
        };
        // "short one ->" = 3 tokens + " tire END" = 2: 5 fits; the other is 11 + 2 = 13.
        let d = build(&reviews, &config, &HashSet::new(), Some(&counter)).unwrap();
        assert_eq!(d.counts.over_max_tokens, 1);
        assert_eq!(d.train.len(), 1);
        assert_eq!(d.train[0].0.index, 0);
    }
}

//! The labeling stage: tags Kaggle Edmunds car reviews with the vehicle parts they mention.
//!
//! It reads review files (`*.csv` in the Kaggle Edmunds format, messy variants included) with
//! polars, matches every `Review` against the lexicon (`lexicon.csv`, owned by
//! [`records::Lexicon`]) with aho-corasick, and writes one table with every input column, plus
//! `source_file`, `List_part` (the distinct canonical parts in order of first mention) and
//! `Count_part` (its length), as `.csv` or `.parquet`.
//!
//! Main types: [`Labeler`] (the matcher), [`LabelConfig`] and [`label`] (the whole job),
//! [`read_labeled`] (how later stages read the table back).
//!
//! Text conventions: a bare carriage return inside a field is a line break of the review and
//! becomes `\n` (so does `\r\n` inside quoted fields); `Review_Date`, `Author_Name` and `Review`
//! are trimmed; the index column (unnamed, `Id` or missing in the wild) is always `index`.
//!
//! ```no_run
//! use label::{label, LabelConfig};
//! let config = LabelConfig::new(vec!["data/reviews".into()], "data/lexicon.csv", "out/labeled.csv");
//! let summary = label(&config, |_| {}).unwrap();
//! println!("{} reviews, {} with a part", summary.reviews, summary.reviews_with_parts);
//! ```

mod error;
mod matcher;
mod reader;
mod scan;
mod table;

pub use error::Error;
pub use matcher::{Conflict, Labeler, LabelerBuilder, Mention};
pub use reader::{read_review_file, ReviewFile, SkippedRow, INDEX_COLUMN, KAGGLE_COLUMNS};
pub use table::{read_labeled, write_table, Format};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use polars::prelude::*;
use records::Lexicon;

/// Everything the labeling job needs. Built by the binary from its flags.
#[derive(Debug, Clone)]
pub struct LabelConfig {
    /// Files and directories; a directory contributes every `*.csv` directly inside it.
    pub inputs: Vec<PathBuf>,
    /// The lexicon (`lexicon.csv`).
    pub lexicon: PathBuf,
    /// The output table, `.csv` or `.parquet`.
    pub output: PathBuf,
    /// A ragged row stops the job instead of being skipped with a warning. Default: `false`.
    pub strict: bool,
    /// Also match `Review_Title` (its parts come first). Default: `false`.
    pub match_title: bool,
    /// Add a `Spans_part` column: every mention's part, text and byte offsets, as JSON.
    /// Default: `false`.
    pub spans: bool,
    /// Leave out this fraction of the lexicon's canonical parts (chosen by `seed`), for the
    /// held-out-parts experiment. Default: `0.0`.
    pub holdout_fraction: f64,
    /// Seed of the held-out choice. Default: `0`.
    pub seed: u64,
    /// Worker threads (files are read in parallel). Default: the machine's parallelism.
    pub threads: usize,
}

impl LabelConfig {
    /// A config with the defaults above.
    pub fn new(
        inputs: Vec<PathBuf>,
        lexicon: impl Into<PathBuf>,
        output: impl Into<PathBuf>,
    ) -> Self {
        Self {
            inputs,
            lexicon: lexicon.into(),
            output: output.into(),
            strict: false,
            match_title: false,
            spans: false,
            holdout_fraction: 0.0,
            seed: 0,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// What a labeling job did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub files: usize,
    pub reviews: usize,
    pub reviews_with_parts: usize,
    /// Input bytes read.
    pub bytes: usize,
    /// Rows skipped because they were ragged (each was also reported as a warning).
    pub skipped: Vec<SkippedRow>,
    /// Non-empty `Rating` cells that were not numbers (now null).
    pub bad_ratings: usize,
    /// Every canonical part with the number of reviews that mention it, most frequent first.
    pub part_counts: Vec<(String, usize)>,
    /// Canonical parts left out of matching (`holdout_fraction`), sorted.
    pub held_out: Vec<String>,
    /// Lexicon rows that give one surface two canonical parts (the first is used).
    pub conflicts: Vec<Conflict>,
    pub lexicon_parts: usize,
    pub elapsed: Duration,
}

impl Summary {
    /// Input throughput in MB/s (10^6 bytes).
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Expands files and directories into the sorted list of review files.
///
/// # Errors
/// A path that does not exist, or a directory without any `*.csv`.
pub fn input_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for input in inputs {
        let meta =
            std::fs::metadata(input).map_err(|source| Error::Io { path: input.clone(), source })?;
        if meta.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|source| Error::Io { path: input.clone(), source })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))
                })
                .collect();
            if found.is_empty() {
                return Err(Error::NoInput { path: input.clone() });
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

/// The canonical parts held out by `fraction` and `seed`: a part is held out when a stable hash
/// of the seed and its name falls below `fraction`, so the choice does not depend on the order
/// of the lexicon and grows monotonically with `fraction`.
pub fn held_out_parts(lexicon: &Lexicon, fraction: f64, seed: u64) -> Vec<String> {
    lexicon
        .canonicals()
        .into_iter()
        .filter(|c| (fnv1a(seed, c.as_bytes()) as f64 / u64::MAX as f64) < fraction)
        .map(str::to_owned)
        .collect()
}

fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in seed.to_le_bytes().iter().chain(bytes) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Finalise (splitmix64) so that close names spread over the whole range.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Runs the whole job: read, match, write. `on_file` is called after each file is read and
/// labeled (for progress output).
///
/// The work is spread over `config.threads` workers, files largest first (the corpus has
/// 6,500-review files beside 1-review ones) so that they finish together. The first worker
/// builds the matcher while the others already read and parse files; for CSV output each worker
/// also serialises its files, so that only the final write is sequential. Results keep the
/// input order.
///
/// # Errors
/// Any read, lexicon, matching or write error, naming its file (the first in file order).
pub fn label(config: &LabelConfig, on_file: impl Fn(&Path) + Sync) -> Result<Summary, Error> {
    let started = Instant::now();
    if !(0.0..1.0).contains(&config.holdout_fraction) {
        return Err(Error::Holdout(config.holdout_fraction));
    }
    let files = input_files(&config.inputs)?;
    let format = Format::of(&config.output)?;
    let mut inputs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    inputs.push(&config.lexicon);
    records::atomic::ensure_not_input(&config.output, &inputs)?;
    // A review's id is its file's base name and index: two inputs with one base name would give
    // two reviews one id, and splits, exclusions and scoring would silently mix them.
    let mut names: std::collections::HashMap<&std::ffi::OsStr, &Path> = Default::default();
    for file in &files {
        if let Some(name) = file.file_name() {
            if let Some(first) = names.insert(name, file) {
                return Err(Error::DuplicateFileName { first: first.into(), second: file.clone() });
            }
        }
    }
    // CSV rows are serialised by the workers, so every file's rows need the output's columns up
    // front: the union of the headers. A header that cannot be read is left to its worker, which
    // reports the error in file order.
    let columns = (format == Format::Csv).then(|| {
        let mut columns: Vec<String> = Vec::new();
        for file in &files {
            let names = reader::header_columns(file).unwrap_or_default();
            for name in names.into_iter().chain(extra_columns(config)) {
                if !columns.contains(&name) {
                    columns.push(name);
                }
            }
        }
        columns
    });

    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(std::fs::metadata(&files[i]).map_or(0, |m| m.len())));
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<Labeled, Error>>>> =
        files.iter().map(|_| Mutex::new(None)).collect();
    let matcher: OnceLock<Result<(Labeler, Vec<String>), Error>> = OnceLock::new();
    let build_matcher = || -> Result<(Labeler, Vec<String>), Error> {
        let lexicon = Lexicon::read(&config.lexicon)?;
        let held_out = held_out_parts(&lexicon, config.holdout_fraction, config.seed);
        let labeler = Labeler::builder().exclude(held_out.iter().cloned()).build(&lexicon)?;
        Ok((labeler, held_out))
    };
    let workers = config.threads.clamp(1, files.len().max(1));
    std::thread::scope(|scope| {
        for worker in 0..workers {
            let (order, next, slots, matcher, files) = (&order, &next, &slots, &matcher, &files);
            let (build_matcher, on_file, columns) = (&build_matcher, &on_file, &columns);
            scope.spawn(move || {
                if worker == 0 {
                    let _ = matcher.set(build_matcher());
                }
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let path = &files[i];
                    let read = read_review_file(path, config.strict);
                    let Ok((labeler, _)) = matcher.wait() else { break };
                    let result = read.and_then(|file| label_file(file, labeler, config)).and_then(
                        |mut labeled| {
                            if let Some(columns) = columns {
                                labeled.csv = Some(csv_rows(&labeled.file.frame, columns, path)?);
                                // Only the rows are needed from here on.
                                labeled.file.frame = labeled.file.frame.clear();
                            }
                            Ok(labeled)
                        },
                    );
                    let failed = result.is_err();
                    *slots[i].lock().unwrap() = Some(result);
                    on_file(path);
                    if failed {
                        // Stop handing out work; the first error in file order is reported.
                        next.store(files.len(), Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let (labeler, held_out) = match matcher.into_inner() {
        Some(Ok(built)) => built,
        Some(Err(e)) => return Err(e),
        None => build_matcher()?, // no file to work on
    };

    let mut summary = Summary {
        files: files.len(),
        held_out,
        conflicts: labeler.conflicts().to_vec(),
        lexicon_parts: labeler.canonicals().len(),
        ..Default::default()
    };
    let mut frames = Vec::with_capacity(files.len());
    let mut csv = Vec::with_capacity(files.len());
    let mut counts = vec![0usize; labeler.canonicals().len()];
    for slot in slots {
        let Some(result) = slot.into_inner().unwrap() else { continue };
        let labeled = result?;
        summary.reviews += labeled.parts.len();
        summary.bytes += labeled.file.bytes;
        summary.bad_ratings += labeled.file.bad_ratings;
        summary.skipped.extend(labeled.file.skipped);
        for parts in &labeled.parts {
            summary.reviews_with_parts += usize::from(!parts.is_empty());
            for &p in parts {
                counts[p as usize] += 1;
            }
        }
        match labeled.csv {
            Some(rows) => csv.push(rows),
            None => frames.push(labeled.file.frame),
        }
    }
    match columns {
        Some(columns) => table::write_csv_parts(&config.output, &columns, &csv)?,
        None => {
            let mut frame =
                concat_frames(frames).map_err(|e| table::polars_error(&config.output, e))?;
            write_table(&mut frame, &config.output)?;
        }
    }

    let mut part_counts: Vec<(String, usize)> =
        labeler.canonicals().iter().cloned().zip(counts).filter(|(_, n)| *n > 0).collect();
    part_counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    summary.part_counts = part_counts;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The columns the labeler adds after a file's own.
fn extra_columns(config: &LabelConfig) -> impl Iterator<Item = String> {
    let spans = config.spans.then_some("Spans_part");
    ["source_file", "List_part", "Count_part"].into_iter().chain(spans).map(str::to_owned)
}

/// `frame`'s rows as CSV without a header, with exactly `columns` (empty where the file has no
/// such column).
fn csv_rows(frame: &DataFrame, columns: &[String], path: &Path) -> Result<Vec<u8>, Error> {
    let height = frame.height();
    let columns: Vec<Column> = columns
        .iter()
        .map(|name| match frame.column(name) {
            Ok(c) => c.clone(),
            Err(_) => Column::full_null(name.as_str().into(), height, &DataType::String),
        })
        .collect();
    let frame = DataFrame::new(height, columns).map_err(|e| table::polars_error(path, e))?;
    table::csv_bytes(&frame, false).map_err(|e| table::polars_error(path, e))
}

struct Labeled {
    file: ReviewFile,
    parts: Vec<Vec<u32>>,
    /// The rows serialised as CSV (CSV output only).
    csv: Option<Vec<u8>>,
}

/// Adds `source_file`, `List_part`, `Count_part` (and `Spans_part`).
fn label_file(
    mut file: ReviewFile,
    labeler: &Labeler,
    config: &LabelConfig,
) -> Result<Labeled, Error> {
    let path = file.path.clone();
    let path = path.as_path();
    let height = file.frame.height();
    let review = file
        .frame
        .column("Review")
        .map_err(|e| table::polars_error(path, e))?
        .str()
        .map_err(|e| table::polars_error(path, e))?
        .clone();
    let title = if config.match_title {
        file.frame.column("Review_Title").ok().and_then(|c| c.str().ok().cloned())
    } else {
        None
    };
    let mut parts: Vec<Vec<u32>> = Vec::with_capacity(height);
    let mut spans: Vec<String> = Vec::new();
    let mut scratch = Vec::new();
    for row in 0..height {
        let mut ids = Vec::new();
        let mut row_spans = Vec::new();
        let fields = title
            .as_ref()
            .map(|t| ("Review_Title", t.get(row)))
            .into_iter()
            .chain([("Review", review.get(row))]);
        for (field, text) in fields {
            let text = text.unwrap_or("");
            labeler.part_ids_into(text, &mut scratch, &mut ids);
            if config.spans {
                row_spans.extend(scratch.iter().map(|m| records::Mention {
                    part: labeler.canonicals()[m.part as usize].clone(),
                    text: text[m.start..m.end].to_owned(),
                    field: field.to_owned(),
                    start: m.start,
                    end: m.end,
                }));
            }
        }
        if config.spans {
            spans.push(serde_json::to_string(&row_spans).expect("mentions serialise"));
        }
        parts.push(ids);
    }
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let counts: Vec<u32> = parts.iter().map(|p| p.len() as u32).collect();
    let mut extra = vec![
        Column::new_scalar(
            "source_file".into(),
            Scalar::new(DataType::String, AnyValue::StringOwned(file_name.as_str().into())),
            height,
        ),
        table::list_column("List_part", &parts, labeler.canonicals()),
        Column::new("Count_part".into(), counts),
    ];
    if config.spans {
        extra.push(Column::new("Spans_part".into(), spans));
    }
    for col in extra {
        let col = col.as_materialized_series().clone().into_column();
        file.frame.with_column(col).map_err(|e| table::polars_error(path, e))?;
    }
    Ok(Labeled { file, parts, csv: None })
}

/// Stacks frames whose columns may differ (a variant file with an extra column): the result has
/// every column in order of first appearance, null where a file lacks it.
fn concat_frames(frames: Vec<DataFrame>) -> PolarsResult<DataFrame> {
    let mut names: Vec<PlSmallStr> = Vec::new();
    let mut dtypes: Vec<DataType> = Vec::new();
    for f in &frames {
        for c in f.columns() {
            if !names.contains(c.name()) {
                names.push(c.name().clone());
                dtypes.push(c.dtype().clone());
            }
        }
    }
    let mut out: Option<DataFrame> = None;
    for f in frames {
        let height = f.height();
        let columns: Vec<Column> = names
            .iter()
            .zip(&dtypes)
            .map(|(n, dt)| match f.column(n) {
                Ok(c) => c.clone(),
                Err(_) => Column::full_null(n.clone(), height, dt),
            })
            .collect();
        let f = DataFrame::new(height, columns)?;
        match &mut out {
            None => out = Some(f),
            Some(acc) => {
                acc.vstack_mut_owned(f)?;
            }
        }
    }
    let mut out = match out {
        Some(f) => f,
        None => DataFrame::new(
            0,
            names.iter().zip(&dtypes).map(|(n, dt)| Column::new_empty(n.clone(), dt)).collect(),
        )?,
    };
    out.rechunk_mut();
    Ok(out)
}

//! `label`: tag car reviews with the vehicle parts they mention.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use label::{label, LabelConfig, Summary};

/// Tag Kaggle Edmunds car reviews with the vehicle parts they mention (List_part, Count_part).
///
/// With no argument it labels the embedded default reviews in data/reviews with data/lexicon.csv
/// and writes out/labeled.csv. Exit status: 0 ok, 1 done but rows were skipped, 2 error.
#[derive(Debug, Parser)]
#[command(name = "label", version)]
struct Args {
    /// Review files or directories (every *.csv directly inside).
    #[arg(long, short, num_args = 1.., value_name = "PATH", default_value = "data/reviews")]
    input: Vec<PathBuf>,
    /// The lexicon (surface,canonical,category,source).
    #[arg(long, short, value_name = "FILE", default_value = "data/lexicon.csv")]
    lexicon: PathBuf,
    /// The labeled table: .csv (List_part as a JSON array) or .parquet (a list column).
    #[arg(long, short, value_name = "FILE", default_value = "out/labeled.csv")]
    output: PathBuf,
    /// Stop at the first ragged row instead of skipping it with a warning.
    #[arg(long)]
    strict: bool,
    /// Also match Review_Title (its parts come first in List_part).
    #[arg(long)]
    match_title: bool,
    /// Add a Spans_part column with every mention's text and byte offsets (JSON).
    #[arg(long)]
    spans: bool,
    /// Hold out this fraction of the lexicon's parts (for generalisation tests).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0)]
    holdout_parts: f64,
    /// Seed of the held-out choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to write the held-out part list (default: beside the output, .heldout-parts.txt).
    #[arg(long, value_name = "FILE")]
    holdout_list: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// How many of the most frequent parts the summary lists.
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// No progress bar and no summary.
    #[arg(long, short)]
    quiet: bool,
}

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// A default path that is missing relative to the working directory is looked up in the
/// workspace that built this binary, so `cargo run -p label` works from any directory.
fn resolve_default(path: &Path, is_default: bool) -> PathBuf {
    if is_default && !path.exists() {
        let in_workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
        if in_workspace.exists() {
            return in_workspace;
        }
    }
    path.to_owned()
}

fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let default_input = args.input == [PathBuf::from("data/reviews")];
    let inputs = args.input.iter().map(|p| resolve_default(p, default_input)).collect();
    let lexicon = resolve_default(&args.lexicon, args.lexicon == Path::new("data/lexicon.csv"));
    let mut config = LabelConfig::new(inputs, lexicon, args.output.clone());
    config.strict = args.strict;
    config.match_title = args.match_title;
    config.spans = args.spans;
    config.holdout_fraction = args.holdout_parts;
    config.seed = args.seed;
    if let Some(t) = args.threads {
        config.threads = t.max(1);
    }

    let files = label::input_files(&config.inputs)?;
    let bar = ProgressBar::new(files.len() as u64);
    if args.quiet || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix:>8} [{bar:30}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix("labeling");
    let summary = label(&config, |path| {
        bar.set_message(
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        );
        bar.inc(1);
    })?;
    bar.finish_and_clear();

    if !summary.held_out.is_empty() {
        let list = args
            .holdout_list
            .clone()
            .unwrap_or_else(|| config.output.with_extension("heldout-parts.txt"));
        let text: String = summary.held_out.iter().map(|p| format!("{p}\n")).collect();
        records::atomic::write_bytes_atomic(&list, text.as_bytes())
            .with_context(|| format!("writing the held-out part list {}", list.display()))?;
        if !args.quiet {
            eprintln!("held out {} parts, listed in {}", summary.held_out.len(), list.display());
        }
    }
    for conflict in &summary.conflicts {
        eprintln!("warning: {}: {conflict}", config.lexicon.display());
    }
    for row in &summary.skipped {
        eprintln!("warning: {row}");
    }
    if !args.quiet {
        print_summary(&summary, &config, args.top);
    }
    Ok(if summary.skipped.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn print_summary(s: &Summary, config: &LabelConfig, top: usize) {
    let share =
        if s.reviews == 0 { 0.0 } else { 100.0 * s.reviews_with_parts as f64 / s.reviews as f64 };
    eprintln!(
        "labeled {} reviews from {} files ({:.1} MB) in {:.2} s ({:.0} MB/s) -> {}",
        s.reviews,
        s.files,
        s.bytes as f64 / 1e6,
        s.elapsed.as_secs_f64(),
        s.mb_per_s(),
        config.output.display()
    );
    eprintln!(
        "reviews with at least one part: {} ({share:.1}%); lexicon parts matched: {} of {}",
        s.reviews_with_parts,
        s.part_counts.len(),
        s.lexicon_parts
    );
    if !s.skipped.is_empty() {
        eprintln!(
            "skipped {} ragged rows (see the warnings above; --strict stops instead)",
            s.skipped.len()
        );
    }
    if s.bad_ratings > 0 {
        eprintln!("{} Rating cells were not numbers and are empty in the output", s.bad_ratings);
    }
    if top > 0 && !s.part_counts.is_empty() {
        eprintln!("most frequent parts (reviews):");
        for (part, n) in s.part_counts.iter().take(top) {
            eprintln!("  {n:>7}  {part}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_valid() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}

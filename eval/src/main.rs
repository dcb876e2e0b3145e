//! `eval`: scores, training curves, run comparisons and HTML reports.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use eval::classification::{read_class_predictions, read_labels, ClassificationReport};
use eval::compare::{comparison_table, run_dirs, summarize_run};
use eval::plot::confusion::{render_confusion_png, ConfusionConfig};
use eval::plot::curves::{write_curves, CurveConfig, RunCurves};
use eval::report::{render_report, ReportConfig};
use eval::score::{
    gold_from_predictions, read_gold, read_part_list, read_predictions, score, ScoreConfig,
};

#[derive(Parser)]
#[command(
    name = "eval",
    version,
    about = "Scores, curves, comparisons and reports of partfinder runs"
)]
struct Cli {
    /// Print no notes or warnings on stderr.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Draw training curves (loss, token and sequence accuracy by step and by examples) of one
    /// or more runs, overlaid, as PNG files in --out.
    Curves {
        /// Run directories (each with a results.csv); plain files are skipped.
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// Directory the PNG files are written to.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        chart: ChartArgs,
    },
    /// Score predictions.jsonl against gold parts: exact match, micro and macro P/R/F1, a
    /// per-part table and the worst examples. With --annotations: against reviews annotated by
    /// hand, by the annotation guideline's rule, with the most frequent errors in context.
    Score {
        /// A run's predictions.jsonl (with --annotations also a labeled CSV from `label`).
        #[arg(long)]
        predictions: PathBuf,
        /// Gold: a JSONL dataset (ids from its .ids sidecar, else line numbers) or a labeled CSV
        /// (source_file, index, List_part). Default: the gold carried by the predictions.
        #[arg(long, conflicts_with = "annotations")]
        gold: Option<PathBuf>,
        /// Hand annotations ({"file", "index", "mentions": [{"surface", "canonical"}]} lines,
        /// as ../shared/gold/dev.jsonl and data/gold/*.jsonl): scored by the guideline's rule
        /// (a part is right when its normalised form is a mention's surface or canonical;
        /// micro P/R/F1). Repeatable: one score per file.
        #[arg(long, value_name = "JSONL")]
        annotations: Vec<PathBuf>,
        /// A labeled CSV whose Review column shows the errors in context (default: the
        /// predictions' own, when they are a labeled CSV).
        #[arg(long, value_name = "CSV", requires = "annotations")]
        context: Option<PathBuf>,
        /// Parts held out of training, one canonical name per line: their recall is reported
        /// apart from the seen parts'.
        #[arg(long)]
        heldout_parts: Option<PathBuf>,
        /// How many of the worst examples to list (with --annotations: how many of the most
        /// frequent false positives and misses).
        #[arg(long, default_value_t = 10)]
        worst: usize,
        /// Rows of the per-part table in the text output (the JSON has all).
        #[arg(long, default_value_t = 30)]
        max_parts: usize,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also write the JSON report here; a directory (such as the run's) gets scores.json,
        /// which `eval compare` and `eval report` read.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// One table of runs (parent, rows, epochs, final metrics, test scores, duration).
    Compare {
        /// Run directories; plain files (runs/index.json) are skipped.
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// Format printed on stdout.
        #[arg(long, value_enum, default_value_t = Format::Markdown)]
        format: Format,
        /// Also write the table as CSV to this file.
        #[arg(long)]
        csv: Option<PathBuf>,
    },
    /// One self-contained HTML page: comparison table, curves and scores.
    Report {
        /// Run directories; plain files are skipped.
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// The HTML file to write.
        #[arg(long)]
        out: PathBuf,
        /// Page title.
        #[arg(long, default_value = "partfinder runs")]
        title: String,
        #[command(flatten)]
        chart: ChartArgs,
    },
    /// Classification metrics and confusion matrix from a predictions file (JSONL lines with
    /// "label" and "predicted", strings or integers).
    Classify {
        /// The predictions JSONL.
        #[arg(long)]
        predictions: PathBuf,
        /// Label order, one label per line (default: sorted labels that occur).
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Write the confusion matrix as PNG here.
        #[arg(long)]
        confusion: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also write the JSON report here; a directory gets classification.json (shown by
        /// `eval report`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// TrueType font for the chart text (default: searched in the usual places).
        #[arg(long)]
        font: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct ChartArgs {
    /// Moving-average window in steps (default: a tenth of the longest run, 1 to 200).
    #[arg(long)]
    window: Option<usize>,
    /// Chart width in pixels.
    #[arg(long, default_value_t = 1200)]
    width: u32,
    /// Chart height in pixels.
    #[arg(long, default_value_t = 700)]
    height: u32,
    /// TrueType font for the chart text (default: searched in the usual places).
    #[arg(long)]
    font: Option<PathBuf>,
}

impl ChartArgs {
    fn config(&self) -> CurveConfig {
        CurveConfig {
            width: self.width,
            height: self.height,
            window: self.window,
            font: self.font.clone(),
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Markdown,
    Csv,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let broken_pipe = err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn note(quiet: bool, message: impl std::fmt::Display) {
    if !quiet {
        eprintln!("{message}");
    }
}

fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// A directory gets `default_name` inside it; anything else is the file itself.
fn output_path(out: &Path, default_name: &str) -> PathBuf {
    if out.is_dir() {
        out.join(default_name)
    } else {
        out.to_owned()
    }
}

fn dirs_or_fail(paths: &[PathBuf], quiet: bool) -> Result<Vec<PathBuf>> {
    let dirs = run_dirs(paths);
    for skipped in paths.iter().filter(|p| !p.is_dir()) {
        if !skipped.exists() {
            anyhow::bail!("{}: no such run directory", skipped.display());
        }
        note(quiet, format_args!("note: {} is not a directory, skipped", skipped.display()));
    }
    anyhow::ensure!(!dirs.is_empty(), "no run directory among the arguments");
    Ok(dirs)
}

fn run(cli: Cli) -> Result<()> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Curves { runs, out, chart } => {
            let dirs = dirs_or_fail(&runs, quiet)?;
            let curves =
                dirs.iter().map(|d| RunCurves::load(d)).collect::<eval::Result<Vec<_>>>()?;
            let written = write_curves(&curves, &out, &chart.config())?;
            let list: String = written.iter().map(|p| format!("{}\n", p.display())).collect();
            print(&list)?;
        }
        Command::Score { predictions, annotations, context, worst, json, out, .. }
            if !annotations.is_empty() =>
        {
            let mut extracted = eval::human::Extracted::read(&predictions)?;
            if let Some(path) = &context {
                extracted.texts = eval::human::Extracted::read(path)?.texts;
            }
            let mut scores = Vec::new();
            for path in &annotations {
                let gold = records::gold::read_annotations(path)?;
                if gold.is_empty() {
                    let message = "no annotated review in it".to_owned();
                    return Err(eval::Error::File { path: path.clone(), message }.into());
                }
                let name = path.display().to_string();
                scores.push(eval::human::score_annotations(&extracted, &gold, &name, worst));
            }
            let json_text = serde_json::to_string_pretty(&scores)? + "\n";
            if let Some(out) = out {
                let path = output_path(&out, "human_scores.json");
                let mut inputs = vec![&predictions];
                inputs.extend(&annotations);
                inputs.extend(&context);
                records::atomic::ensure_not_input(&path, &inputs)?;
                records::atomic::write_bytes_atomic(&path, json_text.as_bytes())?;
                note(quiet, format_args!("wrote {}", path.display()));
            }
            let text: String = scores.iter().map(|s| s.to_text() + "\n").collect();
            print(&if json { json_text } else { text })?;
        }
        Command::Score {
            predictions, gold, heldout_parts, worst, max_parts, json, out, ..
        } => {
            let preds = read_predictions(&predictions)?;
            let gold_path = gold.clone();
            let gold = match &gold {
                Some(path) => read_gold(path)?,
                None => gold_from_predictions(&preds)?,
            };
            let heldout = heldout_parts.as_deref().map(read_part_list).transpose()?;
            let report = score(&preds, &gold, &ScoreConfig { worst, heldout_parts: heldout })?;
            if report.unmatched_predictions > 0 || report.missing_predictions > 0 {
                note(
                    quiet,
                    format_args!(
                        "warning: {} predictions have no gold, {} gold examples have no prediction \
                         (not scored)",
                        report.unmatched_predictions, report.missing_predictions
                    ),
                );
            }
            let json_text = serde_json::to_string_pretty(&report)? + "\n";
            if let Some(out) = out {
                let path = output_path(&out, "scores.json");
                let inputs: Vec<&PathBuf> =
                    [Some(&predictions), gold_path.as_ref(), heldout_parts.as_ref()]
                        .into_iter()
                        .flatten()
                        .collect();
                records::atomic::ensure_not_input(&path, &inputs)?;
                records::atomic::write_bytes_atomic(&path, json_text.as_bytes())?;
                note(quiet, format_args!("wrote {}", path.display()));
            }
            print(&if json { json_text } else { report.to_text(Some(max_parts)) })?;
        }
        Command::Compare { runs, format, csv } => {
            let dirs = dirs_or_fail(&runs, quiet)?;
            let mut summaries = Vec::new();
            for dir in &dirs {
                let s = summarize_run(dir)?;
                for w in &s.warnings {
                    note(quiet, format_args!("warning: {w}"));
                }
                summaries.push(s);
            }
            let table = comparison_table(&summaries);
            if let Some(path) = csv {
                records::atomic::write_bytes_atomic(&path, table.to_csv()?.as_bytes())?;
                note(quiet, format_args!("wrote {}", path.display()));
            }
            print(&match format {
                Format::Markdown => table.to_markdown(),
                Format::Csv => table.to_csv()?,
            })?;
        }
        Command::Report { runs, out, title, chart } => {
            let dirs = dirs_or_fail(&runs, quiet)?;
            let config = ReportConfig { title, curves: chart.config(), ..ReportConfig::default() };
            let report = render_report(&dirs, &config)?;
            for w in &report.warnings {
                note(quiet, format_args!("warning: {w}"));
            }
            records::atomic::write_bytes_atomic(&out, report.html.as_bytes())?;
            print(&format!("{}\n", out.display()))?;
        }
        Command::Classify { predictions, labels, confusion, json, out, font } => {
            let preds = read_class_predictions(&predictions)?;
            anyhow::ensure!(!preds.is_empty(), "{}: no predictions", predictions.display());
            let labels = labels.as_deref().map(read_labels).transpose()?;
            let pairs: Vec<(&str, &str)> =
                preds.iter().map(|p| (p.label.as_str(), p.predicted.as_str())).collect();
            let report = ClassificationReport::from_names(labels, &pairs)
                .with_context(|| format!("{}", predictions.display()))?;
            if let Some(path) = confusion {
                let png = render_confusion_png(&report, &ConfusionConfig { title: None, font })?;
                records::atomic::write_bytes_atomic(&path, &png)?;
                note(quiet, format_args!("wrote {}", path.display()));
            }
            let json_text = serde_json::to_string_pretty(&report)? + "\n";
            if let Some(out) = out {
                let path = output_path(&out, "classification.json");
                records::atomic::ensure_not_input(&path, &[&predictions])?;
                records::atomic::write_bytes_atomic(&path, json_text.as_bytes())?;
                note(quiet, format_args!("wrote {}", path.display()));
            }
            print(&if json { json_text } else { report.to_string() })?;
        }
    }
    Ok(())
}

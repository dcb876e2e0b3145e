//! `jsonl export` and `jsonl validate`: see the library docs.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use jsonl::export::{ConflictPolicy, ExportConfig, DEFAULT_SYSTEM};
use jsonl::split::SplitFractions;
use jsonl::tokens::TokenCounter;
use jsonl::validate::{FormatChoice, ValidateConfig};
use jsonl::Format;

#[derive(Parser)]
#[command(
    name = "jsonl",
    version,
    about = "Export labeled reviews as fine-tuning JSONL, and validate JSONL"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write train/valid/test JSONL (+ .ids sidecars and manifest.json) from a labeled table.
    Export(Box<ExportArgs>),
    /// Check a JSONL file strictly; exit 0 clean, 1 errors found, 2 unreadable.
    Validate(ValidateArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Legacy,
    Chat,
    /// Review text with part spans, for `finetune tag` (needs a table labeled with --spans).
    Tagging,
}

#[derive(Clone, Copy, ValueEnum)]
enum AutoFormatArg {
    Auto,
    Legacy,
    Chat,
    Tagging,
}

#[derive(Clone, Copy, ValueEnum)]
enum ConflictArg {
    Rewrite,
    Drop,
}

#[derive(clap::Args)]
struct ExportArgs {
    /// Labeled reviews written by `label` (.csv or .parquet).
    #[arg(long)]
    input: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "legacy")]
    format: FormatArg,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Appended to each legacy prompt.
    #[arg(long, default_value = records::dataset::defaults::SEPARATOR, allow_hyphen_values = true)]
    separator: String,
    /// Appended to each legacy completion.
    #[arg(long, default_value = records::dataset::defaults::STOP, allow_hyphen_values = true)]
    stop: String,
    /// The answer for a review that mentions no part.
    #[arg(long, default_value = records::dataset::defaults::NONE)]
    none: String,
    /// Fraction of reviews without parts to keep (0..1).
    #[arg(long, default_value_t = 1.0)]
    negatives: f64,
    /// System message of chat examples ("" for none).
    #[arg(long, default_value = DEFAULT_SYSTEM)]
    system: String,
    /// `name` of the user message of chat examples.
    #[arg(long)]
    name: Option<String>,
    /// Seed of the split, the order and the negative sampling.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Train,valid,test fractions.
    #[arg(long, default_value = "0.8,0.1,0.1")]
    split: String,
    /// Training examples to write (round 1 of the original project: 1000).
    #[arg(long)]
    rows: Option<usize>,
    /// Training examples to skip before --rows.
    #[arg(long, default_value_t = 0)]
    offset: usize,
    /// File of review ids to leave out (e.g. an earlier round's train.ids), or a hand-annotation
    /// JSONL (its reviews: keep them out of training); repeatable.
    #[arg(long)]
    exclude: Vec<PathBuf>,
    /// Keep only the reviews of these files (id lists or hand-annotation JSONL), e.g. to build
    /// the prompts of the annotated reviews with --split 0,0,1; repeatable.
    #[arg(long)]
    only: Vec<PathBuf>,
    /// Drop examples longer than this many tokens (needs --tokenizer).
    #[arg(long)]
    max_tokens: Option<u32>,
    /// tokenizer.json for --max-tokens.
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// What to do with a review or part that contains the separator or stop sequence.
    #[arg(long, value_enum, default_value = "rewrite")]
    on_conflict: ConflictArg,
    /// Print nothing on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(clap::Args)]
struct ValidateArgs {
    /// The JSONL file.
    file: PathBuf,
    /// tokenizer.json for token statistics.
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// Format to check against.
    #[arg(long, value_enum, default_value = "auto")]
    format: AutoFormatArg,
    /// Context limit for the token statistics.
    #[arg(long, default_value_t = 4096)]
    max_tokens: u32,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// List at most this many findings of each kind (all are counted).
    #[arg(long, default_value_t = 100)]
    max_findings: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Export(args) => export(*args),
        Command::Validate(args) => validate(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let config = ExportConfig {
        format: match args.format {
            FormatArg::Legacy => Format::Legacy,
            FormatArg::Chat => Format::Chat,
            FormatArg::Tagging => Format::Tagging,
        },
        separator: args.separator,
        stop: args.stop,
        none: args.none,
        system: args.system,
        user_name: args.name,
        negatives: args.negatives,
        seed: args.seed,
        split: args.split.parse::<SplitFractions>()?,
        rows: args.rows,
        offset: args.offset,
        exclude: args.exclude,
        only: args.only,
        max_tokens: args.max_tokens,
        tokenizer: args.tokenizer,
        on_conflict: match args.on_conflict {
            ConflictArg::Rewrite => ConflictPolicy::Rewrite,
            ConflictArg::Drop => ConflictPolicy::Drop,
        },
    };
    let manifest = jsonl::export::export(&args.input, &args.out, &config)
        .with_context(|| format!("cannot export {}", args.input.display()))?;
    if !args.quiet {
        let c = &manifest.counts;
        eprintln!(
            "read {} reviews: {} empty, {} without parts ({} dropped by --negatives), {} duplicates, \
             {} excluded, {} not selected by --only, {} over --max-tokens",
            c.reviews, c.empty_reviews, c.negatives, c.negatives_dropped, c.duplicates, c.excluded,
            c.not_selected, c.over_max_tokens
        );
        if c.separator_in_review + c.stop_in_review + c.conflicting_parts > 0 {
            eprintln!(
                "warning: {} reviews held the separator, {} the stop sequence, {} had a conflicting part: \
                 {} rewritten, {} dropped",
                c.separator_in_review,
                c.stop_in_review,
                c.conflicting_parts,
                c.conflicts_rewritten,
                c.conflicts_dropped
            );
        }
        for out in &manifest.outputs {
            eprintln!("wrote {} ({} examples)", args.out.join(&out.file).display(), out.examples);
        }
        if c.train < c.train_pool {
            eprintln!("training pool: {}, written with --offset/--rows: {}", c.train_pool, c.train);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let config = ValidateConfig {
        format: match args.format {
            AutoFormatArg::Auto => FormatChoice::Auto,
            AutoFormatArg::Legacy => FormatChoice::Fixed(Format::Legacy),
            AutoFormatArg::Chat => FormatChoice::Fixed(Format::Chat),
            AutoFormatArg::Tagging => FormatChoice::Fixed(Format::Tagging),
        },
        max_tokens: args.max_tokens,
        max_findings_per_code: args.max_findings,
    };
    let counter = args.tokenizer.as_deref().map(TokenCounter::from_file).transpose()?;
    let report = jsonl::validate::validate_file(&args.file, &config, counter.as_ref())?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let json = serde_json::to_string_pretty(&report).expect("report serialises");
        writeln!(stdout, "{json}")?;
    } else {
        stdout.write_all(report.to_text().as_bytes())?;
    }
    stdout.flush()?;
    Ok(if report.is_ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

//! `partfinder`: runs the whole pipeline (see the library docs).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use partfinder::{Binaries, PipelineConfig, PipelineOptions, Stage};

#[derive(Parser)]
#[command(
    name = "partfinder",
    version,
    about = "Turn raw car reviews into a fine-tuned part-extraction model"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scrape → label → jsonl → finetune → predict → eval, skipping the stages whose
    /// inputs, options and tool version are unchanged. Prints the report's path on stdout.
    Pipeline(PipelineArgs),
}

#[derive(clap::Args)]
struct PipelineArgs {
    /// The pipeline configuration (TOML; see pipeline.example.toml) [default: the embedded
    /// default: data/reviews, data/lexicon.csv, a tiny model].
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Where the stage directories go.
    #[arg(long, default_value = "out/pipeline")]
    out: PathBuf,
    /// Rerun this stage and every later one even when cached
    /// (scrape, label, jsonl, finetune, predict, eval).
    #[arg(long, value_name = "STAGE")]
    force: Option<String>,
    /// Directory of the stage binaries [default: beside this executable, else PATH].
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Upload finished stage directories to s3://bucket/prefix (and fetch finished ones from
    /// there); needs the `s3` feature.
    #[arg(long, value_name = "S3_URL")]
    artifacts: Option<String>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    print_config: bool,
    /// Write the stages' own logs to stage.log in their directories instead of stderr.
    #[arg(long, short)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Pipeline(args) => pipeline(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn pipeline(args: PipelineArgs) -> anyhow::Result<ExitCode> {
    let (config, base_dir) = match &args.config {
        Some(path) => {
            let config = PipelineConfig::read(path)?;
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            let dir = dir.map_or_else(|| PathBuf::from("."), PathBuf::from);
            (config, dir)
        }
        None => (PipelineConfig::default(), partfinder::config::default_base_dir()),
    };
    if args.print_config {
        print!("{}", config.to_toml());
        return Ok(ExitCode::SUCCESS);
    }
    let force = args.force.as_deref().map(str::parse::<Stage>).transpose()?;
    if let Some(a) = &args.artifacts {
        partfinder::s3::split_url(a)?;
    }
    if args.bin_dir.is_none() {
        // Under `cargo run`, build the stage binaries that are not there yet.
        partfinder::bins::build_missing_under_cargo()?;
    }
    let bins = Binaries::locate(args.bin_dir.as_deref())?;
    let opts = PipelineOptions {
        config,
        base_dir,
        out: args.out.clone(),
        force,
        artifacts: args.artifacts.clone(),
        quiet: args.quiet,
    };
    let summary = partfinder::run(&opts, &bins, &mut |line| eprintln!("{line}"))
        .context("pipeline stopped; finished stages are kept and the next run resumes")?;
    let ran = summary.stages.iter().filter(|s| s.status != partfinder::Status::Cached).count();
    eprintln!(
        "{} stages ran, {} cached; report: {}",
        ran,
        summary.stages.len() - ran,
        summary.report.display()
    );
    println!("{}", summary.report.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_valid() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

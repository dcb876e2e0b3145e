//! `finetune tag train|predict`: clap arguments mapped onto [`finetune::tag`].

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::classify_cli::LoopArgs;
use crate::RunOpts;

#[derive(clap::Args)]
pub struct TagArgs {
    #[command(subcommand)]
    command: TagCommand,
}

#[derive(clap::Subcommand)]
enum TagCommand {
    /// Fine-tune a BERT-family encoder to tag part mentions (BIO) on a tagging JSONL
    /// (`jsonl export --format tagging`); writes a directory that transformers'
    /// AutoModelForTokenClassification loads.
    Train(TrainArgs),
    /// Tag the reviews of a dataset JSONL (any format) into predictions.jsonl, or one --text.
    Predict(PredictArgs),
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Base encoder directory (BERT, MiniLM: models/all-minilm-l6-v2).
    #[arg(long)]
    base: PathBuf,
    /// Training data: a tagging JSONL.
    #[arg(long)]
    train: PathBuf,
    /// Validation data: a tagging JSONL [default: a --valid-ratio split of --train].
    #[arg(long)]
    valid: Option<PathBuf>,
    /// Hand annotations (data/gold/tune.jsonl): score validation by the guideline on the
    /// annotated validation reviews instead of agreement with the labeler.
    #[arg(long)]
    annotations: Option<PathBuf>,
    /// The run directory to write.
    #[arg(long)]
    out: PathBuf,
    /// Loss weight of tokens outside the labeler's spans (below 1: trust the lexicon's
    /// negatives less than its positives).
    #[arg(long, default_value_t = 1.0)]
    o_weight: f64,
    #[command(flatten)]
    hparams: LoopArgs,
    /// Continue an interrupted run from its newest checkpoint; the same arguments are required.
    #[arg(long)]
    resume: bool,
    /// Stop after this optimizer step as if killed (the run stays resumable; for tests).
    #[arg(long, hide = true)]
    stop_after: Option<u64>,
    #[command(flatten)]
    run: RunOpts,
}

#[derive(clap::Args)]
struct PredictArgs {
    /// A tagger directory (`tag train --out`).
    #[arg(long)]
    model: PathBuf,
    /// One text: prints its parts and spans as JSON.
    #[arg(long, conflicts_with = "input", required_unless_present = "input")]
    text: Option<String>,
    /// A dataset JSONL (tagging, legacy or chat; ids from its .ids sidecar).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Where to write predictions.jsonl.
    #[arg(long, requires = "input")]
    out: Option<PathBuf>,
    /// Name parts by this lexicon's canonicals (else by the text tagged).
    #[arg(long)]
    lexicon: Option<PathBuf>,
    /// Keep spans whose confidence (smallest token probability of being a part) is at least
    /// this.
    #[arg(long, default_value_t = 0.0)]
    min_confidence: f32,
    /// Write the names tagged that --lexicon lacks, with counts and an example each, to this
    /// CSV: review it (accept = yes), then merge it with `scrape --extra-aliases FILE`.
    #[arg(long, requires = "lexicon", requires = "input")]
    candidates: Option<PathBuf>,
    /// Self-training: write --input (a tagging JSONL) again to this file with its spans plus the
    /// predicted spans of confidence ≥ --relabel-confidence that overlap none of them.
    #[arg(long, requires = "input")]
    relabel: Option<PathBuf>,
    #[arg(long, default_value_t = 0.9)]
    relabel_confidence: f32,
    /// Leave out candidates seen fewer times than this.
    #[arg(long, default_value_t = 2)]
    min_count: usize,
    /// Join a B right after a tagged span to it when P(I) is at least this times P(B)
    /// (`heated seats` one mention; a large value never joins).
    #[arg(long, default_value_t = finetune::tag::predict::DEFAULT_JOIN)]
    join: f32,
    /// With --text: also print every token's offsets and tag probabilities (O, B-PART, I-PART),
    /// the hook that scripts/check_tagger_transformers.py compares with transformers.
    #[arg(long, requires = "text")]
    tokens: bool,
    /// Windows per forward pass.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Tokens per window [default: the length the tagger was trained with].
    #[arg(long)]
    max_length: Option<usize>,
    #[command(flatten)]
    run: RunOpts,
}

pub fn run(args: TagArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        TagCommand::Train(a) => train(a),
        TagCommand::Predict(a) => predict(a),
    }
}

fn train(a: TrainArgs) -> anyhow::Result<ExitCode> {
    let device = a.run.device()?;
    let cfg = finetune::tag::train::TagConfig {
        base: a.base,
        train: a.train,
        valid: a.valid,
        annotations: a.annotations,
        out: a.out,
        hparams: a.hparams.hparams(),
        o_weight: a.o_weight,
        resume: a.resume,
        stop_after: a.stop_after,
        device,
    };
    let rep = finetune::progress::Reporter::stderr(a.run.quiet);
    let s = finetune::tag::train::train(&cfg, &rep)
        .with_context(|| format!("training {}", cfg.out.display()))?;
    rep.log(&format!(
        "finished {}/{} steps in {:.1} s ({:.1} windows/s); validation ({}, {} reviews): precision {:.4}, recall {:.4}, F1 {:.4}",
        s.steps,
        s.total_steps,
        s.train_seconds,
        s.train_windows_per_second,
        s.valid.against,
        s.valid.examples,
        s.valid.precision,
        s.valid.recall,
        s.valid.f1
    ));
    println!("{}", cfg.out.display());
    Ok(ExitCode::SUCCESS)
}

fn predict(a: PredictArgs) -> anyhow::Result<ExitCode> {
    use finetune::tag::predict::{predict_file, PartNames, TagPredictConfig, Tagger};
    let device = a.run.device()?;
    if let Some(text) = &a.text {
        let mut tagger = Tagger::load(&a.model, a.max_length, &device)
            .with_context(|| format!("loading {}", a.model.display()))?;
        tagger.join = a.join;
        let names = match &a.lexicon {
            Some(p) => PartNames::from_lexicon(&records::Lexicon::read(p)?),
            None => PartNames::default(),
        };
        let text = records::text::normalize(text);
        let found = tagger.spans(&[text.as_str()], 1)?.remove(0);
        let spans: Vec<serde_json::Value> = found
            .iter()
            .filter(|f| f.confidence >= a.min_confidence)
            .map(|f| {
                serde_json::json!({
                    "text": &text[f.start..f.end],
                    "part": names.name(&text[f.start..f.end]),
                    "start": f.start,
                    "end": f.end,
                    "confidence": f.confidence,
                })
            })
            .collect();
        let mut out = serde_json::json!({ "text": text, "spans": spans });
        if a.tokens {
            let (offsets, probs) = tagger.token_probabilities(&[text.as_str()], 1)?.remove(0);
            out["tokens"] = offsets
                .iter()
                .zip(&probs)
                .map(|(o, p)| serde_json::json!({"start": o.0, "end": o.1, "probabilities": p}))
                .collect();
        }
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    let input = a.input.context("--input or --text is required")?;
    let out = a.out.context("--out is required with --input")?;
    let cfg = TagPredictConfig {
        model: a.model,
        input,
        out,
        lexicon: a.lexicon,
        min_confidence: a.min_confidence,
        candidates: a.candidates.map(|p| (p, a.min_count)),
        relabel: a.relabel.map(|p| (p, a.relabel_confidence)),
        batch_size: a.batch_size,
        max_length: a.max_length,
        join: a.join,
        device,
    };
    let rep = finetune::progress::Reporter::stderr(a.run.quiet);
    let t0 = std::time::Instant::now();
    let preds =
        predict_file(&cfg, &rep).with_context(|| format!("tagging {}", cfg.input.display()))?;
    let secs = t0.elapsed().as_secs_f64();
    let with_parts = preds.iter().filter(|p| !p.parts.is_empty()).count();
    rep.log(&format!(
        "{} reviews tagged in {secs:.1} s ({:.1} reviews/s); {with_parts} with parts; wrote {}",
        preds.len(),
        preds.len() as f64 / secs.max(1e-9),
        cfg.out.display()
    ));
    Ok(ExitCode::SUCCESS)
}

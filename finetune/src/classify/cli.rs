//! `finetune classify train|predict|compare`: clap arguments mapped onto
//! [`finetune::classify`].

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use finetune::classify::data::Columns;
use finetune::trainer::{EvalStrategy, HParams, Padding, SaveStrategy};

use crate::RunOpts;

#[derive(clap::Args)]
pub struct ClassifyArgs {
    #[command(subcommand)]
    command: ClassifyCommand,
}

#[derive(clap::Subcommand)]
enum ClassifyCommand {
    /// Fine-tune an encoder on a labelled CSV or JSONL file; writes a model directory that
    /// transformers' AutoModelForSequenceClassification loads, metrics and a confusion matrix.
    Train(TrainArgs),
    /// Predict labels (and probabilities) with a fine-tuned classifier.
    Predict(PredictArgs),
    /// Show the base model's and the fine-tuned model's predictions side by side.
    Compare(CompareArgs),
}

#[derive(clap::Args)]
struct ColumnArgs {
    /// The text column (default: text, sentence, review, ... or the longest column).
    #[arg(long)]
    text_column: Option<String>,
    /// The label column (default: label, category, class, intent, ...).
    #[arg(long)]
    label_column: Option<String>,
}

impl ColumnArgs {
    fn columns(&self) -> Columns {
        Columns { text: self.text_column.clone(), label: self.label_column.clone() }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum EvalArg {
    No,
    Steps,
    Epoch,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SaveArg {
    No,
    Steps,
    Epoch,
    Best,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PaddingArg {
    Longest,
    MaxLength,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum BaselineArg {
    TfidfLogreg,
}

/// The shared training loop's hyper-parameters (`classify train`, `tag train`).
#[derive(clap::Args)]
pub struct LoopArgs {
    /// The share of --train held out for validation when no --valid is given.
    #[arg(long, default_value_t = 0.1)]
    valid_ratio: f64,
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    #[arg(long, default_value_t = 32)]
    train_batch_size: usize,
    #[arg(long, default_value_t = 64)]
    eval_batch_size: usize,
    #[arg(long, default_value_t = 5e-5)]
    learning_rate: f64,
    #[arg(long, default_value_t = 0.01)]
    weight_decay: f64,
    #[arg(long, default_value_t = 0.1)]
    warmup_ratio: f64,
    /// Clip the global gradient norm to this (0 disables).
    #[arg(long, default_value_t = 1.0)]
    max_grad_norm: f64,
    /// Tokens per text, special tokens included (classify truncates longer texts; tag cuts them
    /// into windows).
    #[arg(long, default_value_t = 128)]
    max_length: usize,
    #[arg(long, value_enum, default_value = "longest")]
    padding: PaddingArg,
    #[arg(long, value_enum, default_value = "epoch")]
    eval_strategy: EvalArg,
    #[arg(long, default_value_t = 500)]
    eval_steps: u64,
    /// best: keep the weights of the best validation score (classify: macro F1, tag: F1).
    #[arg(long, value_enum, default_value = "best")]
    save_strategy: SaveArg,
    #[arg(long, default_value_t = 500)]
    save_steps: u64,
    /// Stop after this many evaluations without a better validation score.
    #[arg(long)]
    patience: Option<usize>,
    /// Stop after this many optimizer steps (the schedule still spans --epochs).
    #[arg(long)]
    max_steps: Option<u64>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

impl LoopArgs {
    pub fn hparams(&self) -> HParams {
        let a = self;
        HParams {
            epochs: a.epochs,
            train_batch_size: a.train_batch_size,
            eval_batch_size: a.eval_batch_size,
            learning_rate: a.learning_rate,
            weight_decay: a.weight_decay,
            warmup_ratio: a.warmup_ratio,
            max_grad_norm: a.max_grad_norm,
            max_length: a.max_length,
            padding: match a.padding {
                PaddingArg::Longest => Padding::Longest,
                PaddingArg::MaxLength => Padding::MaxLength,
            },
            eval_strategy: match a.eval_strategy {
                EvalArg::No => EvalStrategy::No,
                EvalArg::Steps => EvalStrategy::Steps,
                EvalArg::Epoch => EvalStrategy::Epoch,
            },
            eval_steps: a.eval_steps,
            save_strategy: match a.save_strategy {
                SaveArg::No => SaveStrategy::No,
                SaveArg::Steps => SaveStrategy::Steps,
                SaveArg::Epoch => SaveStrategy::Epoch,
                SaveArg::Best => SaveStrategy::Best,
            },
            save_steps: a.save_steps,
            patience: a.patience,
            valid_ratio: a.valid_ratio,
            seed: a.seed,
            max_steps: a.max_steps,
        }
    }
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Base model directory (Hugging Face BERT, DistilBERT, RoBERTa, CamemBERT, XLM-R, or a
    /// Llama / Qwen2 / Mistral decoder, pooled at its last token).
    #[arg(long)]
    base: PathBuf,
    /// Training data (CSV with a header, or JSONL).
    #[arg(long)]
    train: PathBuf,
    /// Validation data [default: a stratified --valid-ratio split of --train].
    #[arg(long)]
    valid: Option<PathBuf>,
    /// Test data, scored once after training (test_metrics.json).
    #[arg(long)]
    test: Option<PathBuf>,
    /// The run directory to write (for example runs/tickets).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    columns: ColumnArgs,
    /// The labels in order, comma-separated [default: the sorted names in the data].
    #[arg(long, value_delimiter = ',')]
    labels: Option<Vec<String>>,
    #[command(flatten)]
    hparams: LoopArgs,
    /// Also train and score a baseline on the same split.
    #[arg(long, value_enum)]
    baseline: Option<BaselineArg>,
    /// Continue an interrupted run from its newest checkpoint (`checkpoint-N` in --out, saved
    /// with --save-strategy steps, epoch or best); the same arguments are required.
    #[arg(long)]
    resume: bool,
    /// Stop after this optimizer step as if killed (the run stays resumable; for tests).
    #[arg(long, hide = true)]
    stop_after: Option<u64>,
    #[command(flatten)]
    run: RunOpts,
}

/// How `predict` and `compare` batch and truncate texts.
#[derive(clap::Args)]
struct InferenceArgs {
    /// Texts per forward pass.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Tokens per text [default: the length the classifier was trained with, else 128].
    #[arg(long)]
    max_length: Option<usize>,
}

#[derive(clap::Args)]
struct PredictArgs {
    /// A fine-tuned classifier directory.
    #[arg(long)]
    model: PathBuf,
    /// One text: prints its label and probability.
    #[arg(long, conflicts_with = "input", required_unless_present = "input")]
    text: Option<String>,
    /// A CSV or JSONL file to predict.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Where to write the predictions JSONL [default: stdout].
    #[arg(long, requires = "input")]
    out: Option<PathBuf>,
    #[command(flatten)]
    columns: ColumnArgs,
    #[command(flatten)]
    batching: InferenceArgs,
    #[command(flatten)]
    run: RunOpts,
}

#[derive(clap::Args)]
struct CompareArgs {
    /// The base model the classifier was trained from.
    #[arg(long)]
    base: PathBuf,
    /// The fine-tuned classifier.
    #[arg(long)]
    model: PathBuf,
    /// A CSV or JSONL file of texts (a label column is shown when present).
    #[arg(long)]
    input: PathBuf,
    #[command(flatten)]
    columns: ColumnArgs,
    #[command(flatten)]
    batching: InferenceArgs,
    #[command(flatten)]
    run: RunOpts,
}

pub fn run(args: ClassifyArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ClassifyCommand::Train(a) => train(a),
        ClassifyCommand::Predict(a) => predict(a),
        ClassifyCommand::Compare(a) => compare(&a),
    }
}

fn train(a: TrainArgs) -> anyhow::Result<ExitCode> {
    let device = a.run.device()?;
    let hparams = a.hparams.hparams();
    let cfg = finetune::classify::train::ClassifyConfig {
        base: a.base,
        train: a.train,
        valid: a.valid,
        test: a.test,
        out: a.out,
        columns: a.columns.columns(),
        labels: a.labels,
        hparams,
        baseline: a.baseline.is_some(),
        resume: a.resume,
        stop_after: a.stop_after,
        device,
    };
    let rep = finetune::progress::Reporter::stderr(a.run.quiet);
    let s = finetune::classify::train::train(&cfg, &rep)
        .with_context(|| format!("training {}", cfg.out.display()))?;
    let line = |name: &str, r: &eval::classification::ClassificationReport| {
        format!("{name}: accuracy {:.4}, macro F1 {:.4}", r.accuracy, r.macro_f1)
    };
    rep.log(&format!(
        "finished {}/{} steps in {:.1} s ({:.1} examples/s); {}",
        s.steps,
        s.total_steps,
        s.train_seconds,
        s.train_examples_per_second,
        line("validation", &s.valid)
    ));
    for (name, r) in [
        ("test", &s.test),
        ("baseline validation", &s.baseline_valid),
        ("baseline test", &s.baseline_test),
    ] {
        if let Some(r) = r {
            rep.log(&line(name, r));
        }
    }
    println!("{}", cfg.out.display());
    Ok(ExitCode::SUCCESS)
}

fn predict(a: PredictArgs) -> anyhow::Result<ExitCode> {
    use finetune::classify::predict::{predict_file, Classifier, PredictConfig};
    let device = a.run.device()?;
    if let Some(text) = &a.text {
        let clf = Classifier::load(&a.model, a.batching.max_length, &device)
            .with_context(|| format!("loading {}", a.model.display()))?;
        let probs = clf.probabilities(std::slice::from_ref(text), 1)?;
        let pred = clf.prediction(text, &probs[0]);
        println!("{}", serde_json::to_string(&pred)?);
        return Ok(ExitCode::SUCCESS);
    }
    let input = a.input.context("--input or --text is required")?;
    let to_stdout = a.out.is_none();
    let out = a.out.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("classify-{}.jsonl", std::process::id()))
    });
    let cfg = PredictConfig {
        model: a.model,
        input,
        out: out.clone(),
        columns: a.columns.columns(),
        batch_size: a.batching.batch_size,
        max_length: a.batching.max_length,
        device,
    };
    let preds =
        predict_file(&cfg).with_context(|| format!("predicting {}", cfg.input.display()))?;
    if to_stdout {
        let text = std::fs::read_to_string(&out)?;
        let _ = std::fs::remove_file(&out);
        print!("{text}");
    }
    let with_gold: Vec<_> = preds.iter().filter(|p| p.label.is_some()).collect();
    if !with_gold.is_empty() && !a.run.quiet {
        let right =
            with_gold.iter().filter(|p| p.label.as_deref() == Some(p.predicted.as_str())).count();
        eprintln!(
            "predicted {} texts; accuracy on the {} with a label: {:.4}",
            preds.len(),
            with_gold.len(),
            right as f64 / with_gold.len() as f64
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn compare(a: &CompareArgs) -> anyhow::Result<ExitCode> {
    let device = a.run.device()?;
    let rows = finetune::classify::predict::compare(
        &a.base,
        &a.model,
        &a.input,
        &a.columns.columns(),
        a.batching.batch_size,
        a.batching.max_length,
        &device,
    )?;
    println!("| text | label | base | confidence | fine-tuned | confidence |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        let text: String = r.text.chars().take(60).collect::<String>().replace('|', "\\|");
        println!(
            "| {text} | {} | {} | {:.3} | {} | {:.3} |",
            r.label.as_deref().unwrap_or("-"),
            r.base,
            r.base_confidence,
            r.tuned,
            r.tuned_confidence
        );
    }
    Ok(ExitCode::SUCCESS)
}

//! `finetune`: fine-tune Llama-family models with candle; thin command-line layer over the
//! library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

// The `classify` subcommand's arguments, kept beside the library module they drive.
#[path = "classify/cli.rs"]
mod classify_cli;
#[path = "tag/cli.rs"]
mod tag_cli;

#[derive(Parser)]
#[command(
    name = "finetune",
    version,
    about = "Fine-tune Llama-family models on part-extraction JSONL"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Turn a llama.cpp GGUF checkpoint into a Hugging Face model directory (f32 safetensors,
    /// config.json, tokenizer.json, tokenizer_config.json with the chat template).
    ImportGguf(ImportGgufArgs),
    /// Write a tiny random model and a BPE tokenizer trained on the given JSONL text.
    InitTiny(InitTinyArgs),
    /// Fine-tune a model on a JSONL file; writes a run directory.
    Train(TrainArgs),
    /// Predict parts with a model, for a JSONL file or one text.
    Predict(PredictArgs),
    /// Train the next round (partfinder_t_001, _002, ...) from the previous one, recorded in
    /// RUNS/index.json.
    Round(RoundArgs),
    /// Print the next-token logits of a model on one text as JSON (ids, logits, top 5): the
    /// hook that scripts/compare_reference.py compares with transformers.
    Logits(LogitsArgs),
    /// Text classification with BERT, DistilBERT or RoBERTa-family encoders, or Llama-family
    /// decoders: train, predict, compare.
    Classify(classify_cli::ClassifyArgs),
    /// Part tagging with a BERT-family encoder (token classification, BIO): train, predict.
    Tag(tag_cli::TagArgs),
    /// Training speed and memory against PyTorch + transformers on the same shape and CPU, in
    /// one run, alternating (see finetune/bench/run.sh).
    Bench(BenchArgs),
}

#[derive(clap::Args)]
struct BenchArgs {
    #[arg(long, value_enum, default_value = "tiny")]
    shape: finetune::bench::Shape,
    /// Sequences per step.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 128)]
    seq: usize,
    /// Measured optimizer steps per process (their median counts).
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Unmeasured steps first.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Processes per side, alternating project / PyTorch.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Threads of both sides (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// The Python with torch and transformers; "" measures the project alone.
    #[arg(long, default_value = ".venv/bin/python")]
    python: String,
    /// Train the project's side with the composite candle formulas instead of the fused
    /// kernels (RMSNorm, rotary, softmax, SwiGLU), to see what the kernels buy.
    #[arg(long)]
    composite: bool,
    /// Train the project's side with activation checkpointing (`--grad-checkpoint`).
    #[arg(long)]
    grad_checkpoint: bool,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run the project's side in this process and print its JSON line (used by the driver).
    #[arg(long, hide = true)]
    worker: bool,
}

#[derive(clap::Args)]
struct ImportGgufArgs {
    /// The GGUF file to import (for example SmolLM2-135M-Instruct.Q4_1.gguf).
    #[arg(long)]
    gguf: PathBuf,
    /// The model directory to write (created if missing).
    #[arg(long)]
    out: PathBuf,
}

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keeps freed memory in mimalloc's arenas instead of returning it to the OS after 10 ms (its
/// default): a training step frees and reallocates the same large buffers every time, and each
/// return to the OS costs a round of page faults and zeroing on the next step (a fifth of a tiny
/// model's step). Same effect as `MIMALLOC_PURGE_DELAY=-1`, which still wins when it is set.
#[cfg(feature = "mimalloc")]
fn keep_freed_memory() {
    /// `mi_option_purge_delay` in mimalloc's `mi_option_t` (v2 and v3).
    const PURGE_DELAY: std::ffi::c_int = 15;
    extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mimalloc is linked as the global allocator; setting an option is thread-safe
        // and takes effect for later purges.
        unsafe { mi_option_set(PURGE_DELAY, -1) };
    }
}

/// candle's element-wise kernels run on its own worker pool, whose workers spin 25,000 times
/// after each op before parking; matrix products and the fused kernels of `finetune::ops` run on
/// rayon's pool. On a 2-core machine the spinning worker takes a core from rayon's threads: a
/// short spin made the tiny-shape training step 10 % faster (`finetune bench --shape tiny`,
/// 0.37 → 0.33 s/step). `CANDLE_BARRIER_POOL_SPIN_LIMIT` still wins when it is set.
fn short_candle_spin() {
    const KEY: &str = "CANDLE_BARRIER_POOL_SPIN_LIMIT";
    if std::env::var_os(KEY).is_none() {
        // Before any thread starts: nothing reads the environment concurrently.
        std::env::set_var(KEY, "2000");
    }
}

fn main() -> ExitCode {
    #[cfg(feature = "mimalloc")]
    keep_freed_memory();
    short_candle_spin();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::ImportGguf(args) => import_gguf(&args),
        Command::InitTiny(args) => init_tiny(args),
        Command::Train(args) => train(args),
        Command::Predict(args) => predict(args),
        Command::Round(args) => round(args),
        Command::Logits(args) => logits(&args),
        Command::Classify(args) => classify_cli::run(args),
        Command::Tag(args) => tag_cli::run(args),
        Command::Bench(args) => bench(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            // A diverged run is a finding about the data or settings, not a usage error.
            let diverged = err
                .downcast_ref::<finetune::Error>()
                .is_some_and(|e| matches!(e, finetune::Error::NonFinite { .. }));
            ExitCode::from(if diverged { 1 } else { 2 })
        }
    }
}

fn bench(a: &BenchArgs) -> anyhow::Result<ExitCode> {
    use finetune::bench::{measure_project, summarise, BenchOptions, Measured};
    let threads =
        a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let options = BenchOptions {
        shape: a.shape,
        batch: a.batch,
        seq: a.seq,
        steps: a.steps,
        warmup: a.warmup,
        seed: a.seed,
        grad_checkpoint: a.grad_checkpoint,
    };
    if a.worker {
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
        let measured = if a.composite {
            finetune::ops::with_composite(|| measure_project(&options))?
        } else {
            measure_project(&options)?
        };
        println!("{}", serde_json::to_string(&measured)?);
        return Ok(ExitCode::SUCCESS);
    }
    let script =
        std::env::temp_dir().join(format!("partfinder-torch-bench-{}.py", std::process::id()));
    if !a.python.is_empty() {
        std::fs::write(&script, finetune::bench::TORCH_SCRIPT)
            .with_context(|| format!("writing {}", script.display()))?;
    }
    let common = [
        "--shape".to_owned(),
        a.shape.name().to_owned(),
        "--batch".to_owned(),
        a.batch.to_string(),
        "--seq".to_owned(),
        a.seq.to_string(),
        "--steps".to_owned(),
        a.steps.to_string(),
        "--warmup".to_owned(),
        a.warmup.to_string(),
        "--threads".to_owned(),
        threads.to_string(),
        "--seed".to_owned(),
        a.seed.to_string(),
    ];
    let run = |mut cmd: std::process::Command, what: &str| -> anyhow::Result<Measured> {
        let out = cmd.output().with_context(|| format!("starting {what}"))?;
        anyhow::ensure!(
            out.status.success(),
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().last().unwrap_or("");
        serde_json::from_str(line).with_context(|| format!("{what} printed {line:?}"))
    };
    eprintln!(
        "bench: shape {}, batch {} x {} tokens, {} threads, {} rounds of {} steps (+{} warm-up)",
        a.shape.name(),
        a.batch,
        a.seq,
        threads,
        a.rounds,
        a.steps,
        a.warmup
    );
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 1..=a.rounds {
        let mut cmd = std::process::Command::new(std::env::current_exe()?);
        cmd.arg("bench").arg("--worker").args(&common[..]);
        if a.composite {
            cmd.arg("--composite");
        }
        if a.grad_checkpoint {
            cmd.arg("--grad-checkpoint");
        }
        let m = run(cmd, "the project's side")?;
        eprintln!(
            "round {round}: project {:.3} s/step ({:.0} tokens/s)",
            m.s_per_step, m.tokens_per_s
        );
        ours.push(m);
        if !a.python.is_empty() {
            let mut cmd = std::process::Command::new(&a.python);
            cmd.arg(&script).args(&common[..]);
            let m = run(cmd, &format!("PyTorch ({})", a.python))?;
            eprintln!(
                "round {round}: pytorch {:.3} s/step ({:.0} tokens/s)",
                m.s_per_step, m.tokens_per_s
            );
            theirs.push(m);
        }
    }
    let _ = std::fs::remove_file(&script);
    println!("| engine | parameters | s/step (median) | tokens/s | peak RSS |");
    println!("| --- | --- | --- | --- | --- |");
    let sides: Vec<_> = [summarise(&ours), summarise(&theirs)].into_iter().flatten().collect();
    for s in &sides {
        println!(
            "| {} ({}) | {} | {:.3} | {:.0} | {:.2} GiB |",
            s.engine,
            s.version,
            s.parameters,
            s.s_per_step,
            s.tokens_per_s,
            s.peak_rss_bytes as f64 / (1u64 << 30) as f64
        );
    }
    if let [p, t] = &sides[..] {
        println!(
            "ratio peak RSS project/pytorch: {:.2}",
            p.peak_rss_bytes as f64 / t.peak_rss_bytes as f64
        );
        println!("ratio tokens/s project/pytorch: {:.2}", p.tokens_per_s / t.tokens_per_s);
    }
    Ok(ExitCode::SUCCESS)
}

fn import_gguf(args: &ImportGgufArgs) -> anyhow::Result<ExitCode> {
    let summary = finetune::gguf::import_gguf(&args.gguf, &args.out)
        .with_context(|| format!("importing {}", args.gguf.display()))?;
    let types: Vec<String> =
        summary.source_types.iter().map(|(t, n)| format!("{t}: {n}")).collect();
    eprintln!(
        "imported {} ({} tensors [{}], {} parameters, vocabulary {}, {} embeddings) into {}",
        summary.architecture,
        summary.tensors,
        types.join(", "),
        summary.parameters,
        summary.vocab_size,
        if summary.tied_embeddings { "tied" } else { "untied" },
        args.out.display()
    );
    for file in &summary.files {
        println!("{}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
struct LogitsArgs {
    /// The model directory.
    #[arg(long)]
    model: PathBuf,
    /// The text; special tokens written in it are matched, none are added.
    #[arg(long)]
    text: String,
    #[command(flatten)]
    run: RunOpts,
}

fn logits(args: &LogitsArgs) -> anyhow::Result<ExitCode> {
    let device = args.run.device()?;
    let dir = finetune::model_dir::ModelDir::open(&args.model)
        .with_context(|| format!("opening {}", args.model.display()))?;
    let model = dir.load_frozen(&device)?;
    let out = finetune::logits::next_token_logits(&dir, &model, &args.text, &device)?;
    let top: Vec<serde_json::Value> = out
        .top(5)
        .into_iter()
        .map(|(id, logit)| {
            let token = dir.tokenizer.decode(&[id], false).unwrap_or_default();
            serde_json::json!({"id": id, "token": token, "logit": logit})
        })
        .collect();
    let doc = serde_json::json!({"ids": out.ids, "logits": out.logits, "top": top});
    println!("{doc}");
    Ok(ExitCode::SUCCESS)
}

/// Options shared by the commands that run a model.
#[derive(clap::Args)]
struct RunOpts {
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Use the CPU even when the `cuda` feature found a GPU.
    #[arg(long)]
    cpu: bool,
    /// No progress bar or log lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

impl RunOpts {
    fn device(&self) -> anyhow::Result<candle_core::Device> {
        if let Some(n) = self.threads {
            // Read by candle's CPU kernels and rayon before their pools start.
            std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        }
        if self.cpu {
            return Ok(candle_core::Device::Cpu);
        }
        Ok(candle_core::Device::cuda_if_available(0)?)
    }
}

#[derive(clap::Args)]
struct InitTinyArgs {
    /// JSONL files whose text trains the tokenizer (repeatable).
    #[arg(long, required = true)]
    train: Vec<PathBuf>,
    /// The model directory to write.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    #[arg(long, default_value_t = 4)]
    layers: usize,
    #[arg(long, default_value_t = 8)]
    heads: usize,
    #[arg(long, default_value_t = 4)]
    kv_heads: usize,
    #[arg(long, default_value_t = 768)]
    intermediate: usize,
    /// Upper bound of the vocabulary.
    #[arg(long, default_value_t = 4096)]
    vocab_size: usize,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn init_tiny(a: InitTinyArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = finetune::tiny::TinyConfig::new(a.train, a.out.clone());
    cfg.hidden = a.hidden;
    cfg.layers = a.layers;
    cfg.heads = a.heads;
    cfg.kv_heads = a.kv_heads;
    cfg.intermediate = a.intermediate;
    cfg.vocab_size = a.vocab_size;
    cfg.seed = a.seed;
    let n =
        finetune::tiny::init_tiny(&cfg).with_context(|| format!("writing {}", a.out.display()))?;
    eprintln!("wrote a tiny model with {n} parameters to {}", a.out.display());
    Ok(ExitCode::SUCCESS)
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ScheduleArg {
    Linear,
    Cosine,
    Constant,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Base model: a directory (Hugging Face shape, or a previous run), or hf:ORG/NAME[@REV]
    /// to download one from the Hugging Face hub into its cache (HF_ENDPOINT, HF_HOME,
    /// HF_TOKEN apply).
    #[arg(long)]
    base: PathBuf,
    /// Training JSONL (prompt/completion or chat lines).
    #[arg(long)]
    train: PathBuf,
    /// Validation JSONL, evaluated every --eval-every steps and at the end.
    #[arg(long)]
    valid: Option<PathBuf>,
    /// The run directory to write (for example runs/partfinder_t_001).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    hp: HParamArgs,
    /// Continue the run in --out from its newest checkpoint.
    #[arg(long)]
    resume: bool,
    /// Stop after this optimizer step as if killed (the run stays resumable; for tests).
    #[arg(long, hide = true)]
    stop_after: Option<u64>,
    #[command(flatten)]
    run: RunOpts,
}

#[derive(clap::Args)]
struct HParamArgs {
    #[arg(long, default_value_t = 2)]
    epochs: usize,
    /// Examples per micro-batch.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = 1)]
    grad_accum: usize,
    /// Peak learning rate [default: 1e-4, the base rate].
    #[arg(long, conflicts_with = "lr_multiplier")]
    learning_rate: Option<f64>,
    /// Peak learning rate as a multiple of the base rate 1e-4.
    #[arg(long)]
    lr_multiplier: Option<f64>,
    #[arg(long, default_value_t = 0)]
    warmup_steps: u64,
    #[arg(long, value_enum, default_value = "linear")]
    schedule: ScheduleArg,
    /// AdamW decoupled weight decay (matrices only).
    #[arg(long, default_value_t = 0.01)]
    weight_decay: f64,
    /// Clip the global gradient norm to this (0 disables).
    #[arg(long, default_value_t = 1.0)]
    max_grad_norm: f64,
    /// Loss weight of legacy prompt tokens.
    #[arg(long, default_value_t = 0.01)]
    prompt_loss_weight: f32,
    /// Longest sequence in tokens (longer examples lose their first tokens).
    #[arg(long, default_value_t = 512)]
    max_seq_len: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Evaluate every N steps (0: at the end only).
    #[arg(long, default_value_t = 0)]
    eval_every: u64,
    /// Save a resumable checkpoint every N steps (0: never).
    #[arg(long, default_value_t = 0)]
    save_every: u64,
    /// Stop after N evaluations without a better validation loss.
    #[arg(long)]
    patience: Option<u64>,
    /// Activation checkpointing: keep only each layer's input during the forward pass and
    /// recompute the layer in the backward pass (less memory, one extra forward pass). The
    /// trained weights are the same.
    #[arg(long)]
    grad_checkpoint: bool,
}

impl HParamArgs {
    fn hparams(&self) -> finetune::train::HParams {
        use finetune::optim::Schedule;
        let base = finetune::train::BASE_LEARNING_RATE;
        finetune::train::HParams {
            epochs: self.epochs,
            batch_size: self.batch_size,
            grad_accum: self.grad_accum,
            learning_rate: self
                .learning_rate
                .unwrap_or_else(|| self.lr_multiplier.unwrap_or(1.0) * base),
            warmup_steps: self.warmup_steps,
            schedule: match self.schedule {
                ScheduleArg::Linear => Schedule::Linear,
                ScheduleArg::Cosine => Schedule::Cosine,
                ScheduleArg::Constant => Schedule::Constant,
            },
            adamw: finetune::optim::AdamWConfig {
                weight_decay: self.weight_decay,
                ..Default::default()
            },
            max_grad_norm: (self.max_grad_norm > 0.0).then_some(self.max_grad_norm),
            prompt_loss_weight: self.prompt_loss_weight,
            max_seq_len: self.max_seq_len,
            seed: self.seed,
            eval_every: self.eval_every,
            save_every: self.save_every,
            patience: self.patience,
        }
    }
}

fn train(a: TrainArgs) -> anyhow::Result<ExitCode> {
    let device = a.run.device()?;
    let cfg = finetune::train::TrainConfig {
        base: finetune::hub::resolve_base(&a.base)?,
        train: a.train,
        valid: a.valid,
        out: a.out,
        hparams: a.hp.hparams(),
        resume: a.resume,
        stop_after: a.stop_after,
        grad_checkpoint: a.hp.grad_checkpoint,
        device,
    };
    let rep = finetune::progress::Reporter::stderr(a.run.quiet);
    let s = finetune::train::train(&cfg, &rep)?;
    let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"));
    rep.log(&format!(
        "{} after {}/{} steps: training loss {}, validation loss {}, token accuracy {}, sequence accuracy {}",
        if s.completed { "finished" } else { "stopped" },
        s.steps,
        s.total_steps,
        fmt(s.final_training_loss),
        fmt(s.validation_loss),
        fmt(s.validation_token_accuracy),
        fmt(s.validation_sequence_accuracy),
    ));
    println!("{}", cfg.out.display());
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
struct PredictArgs {
    /// Model directory (a finished run or a base model).
    #[arg(long)]
    model: PathBuf,
    /// JSONL examples to predict (ids from `<input>.ids` when present, else line numbers).
    #[arg(long, conflicts_with = "text", required_unless_present = "text")]
    input: Option<PathBuf>,
    /// Where to write predictions.jsonl.
    #[arg(long, requires = "input")]
    out: Option<PathBuf>,
    /// One review text: prints its parts, one per line.
    #[arg(long)]
    text: Option<String>,
    /// With --text: prompt as one chat user message instead of a legacy prompt.
    #[arg(long)]
    chat: bool,
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    #[arg(long, default_value_t = finetune::predict::DEFAULT_MAX_NEW_TOKENS)]
    max_new_tokens: usize,
    /// Keep only the predicted parts the review names: the part itself, or one of its surfaces
    /// in this lexicon.csv, as whole words (the raw completion is kept in predictions.jsonl).
    #[arg(long, value_name = "LEXICON")]
    grounded: Option<PathBuf>,
    #[command(flatten)]
    run: RunOpts,
}

fn predict(a: PredictArgs) -> anyhow::Result<ExitCode> {
    let device = a.run.device()?;
    if let Some(text) = &a.text {
        let p = finetune::predict::Predictor::load(&a.model, &device)?;
        let (_, parts) = p.predict_text(text, a.chat, a.max_new_tokens)?;
        for part in parts {
            println!("{part}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let input = a.input.context("--input or --text is required")?;
    let out = a.out.unwrap_or_else(|| a.model.join("predictions.jsonl"));
    let cfg = finetune::predict::PredictConfig {
        model: a.model,
        input,
        out: out.clone(),
        batch_size: a.batch_size,
        max_new_tokens: a.max_new_tokens,
        device,
        grounding: match &a.grounded {
            Some(path) => {
                Some(finetune::predict::Grounding::from_lexicon(&records::Lexicon::read(path)?))
            }
            None => None,
        },
    };
    let rep = finetune::progress::Reporter::stderr(a.run.quiet);
    let (_, s) = finetune::predict::predict_file(&cfg, &rep)?;
    rep.log(&format!(
        "predicted {} examples into {}; exact part sets {}/{}",
        s.examples,
        out.display(),
        s.exact,
        s.with_gold
    ));
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
struct RoundArgs {
    /// The runs directory holding the rounds and index.json.
    #[arg(long, default_value = "runs")]
    runs: PathBuf,
    /// The example pool (JSONL), consumed slice by slice across rounds.
    #[arg(long)]
    pool: PathBuf,
    /// Validation JSONL (held out from the pool).
    #[arg(long)]
    valid: Option<PathBuf>,
    /// Base model of a first round: a directory, or hf:ORG/NAME[@REV] (see `train --base`).
    #[arg(long)]
    base: Option<PathBuf>,
    /// Continue from this round (default: the latest round when --base is not given).
    #[arg(long)]
    from: Option<String>,
    /// Training rows of this round: the next pool slice plus hard examples.
    #[arg(long, default_value_t = 1000)]
    rows: usize,
    /// Share of the rows taken from the parent round's hard examples.
    #[arg(long, default_value_t = 0.2)]
    hard_fraction: f64,
    /// Skip predicting the round's training examples to find its hard examples.
    #[arg(long)]
    no_hard_mining: bool,
    #[command(flatten)]
    hp: HParamArgs,
    #[command(flatten)]
    run: RunOpts,
}

fn round(a: RoundArgs) -> anyhow::Result<ExitCode> {
    let device = a.run.device()?;
    let cfg = finetune::rounds::RoundConfig {
        runs: a.runs,
        pool: a.pool,
        valid: a.valid,
        base: a.base.as_deref().map(finetune::hub::resolve_base).transpose()?,
        from: a.from,
        rows: a.rows,
        hard_fraction: a.hard_fraction,
        hparams: a.hp.hparams(),
        mine_hard: !a.no_hard_mining,
        predict_batch_size: 16,
        grad_checkpoint: a.hp.grad_checkpoint,
        device,
    };
    let rep = finetune::progress::Reporter::stderr(a.run.quiet);
    let r = finetune::rounds::run_round(&cfg, &rep)?;
    let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"));
    rep.log(&format!(
        "{}: validation token accuracy {}, sequence accuracy {}; {} hard examples",
        r.name,
        fmt(r.metrics.validation_token_accuracy),
        fmt(r.metrics.validation_sequence_accuracy),
        r.hard_pool_lines.len()
    ));
    println!("{}", cfg.runs.join(&r.name).display());
    Ok(ExitCode::SUCCESS)
}

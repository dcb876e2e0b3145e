//! Running the stages in order, each in a directory named after its fingerprint.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::Instant;

use crate::bins::{command_line, Binaries};
use crate::config::{PipelineConfig, Source};
use crate::error::{Error, Result};
use crate::hash::Fingerprint;
use crate::s3;

/// The marker written last, atomically, into a finished stage directory.
pub const DONE: &str = ".done";

/// The name of the run directory inside the finetune and eval stages.
pub const RUN_NAME: &str = "partfinder_t_001";

/// The stages, in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Build `lexicon.csv`.
    Scrape,
    /// Label the reviews.
    Label,
    /// Export train/valid/test JSONL.
    Jsonl,
    /// Train the model.
    Finetune,
    /// Predict the test split.
    Predict,
    /// Score, curves and report.
    Eval,
}

impl Stage {
    /// Every stage in order.
    pub const ALL: [Stage; 6] =
        [Stage::Scrape, Stage::Label, Stage::Jsonl, Stage::Finetune, Stage::Predict, Stage::Eval];

    /// The stage's name (also its directory prefix).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Scrape => "scrape",
            Stage::Label => "label",
            Stage::Jsonl => "jsonl",
            Stage::Finetune => "finetune",
            Stage::Predict => "predict",
            Stage::Eval => "eval",
        }
    }
}

impl FromStr for Stage {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Stage::ALL
            .into_iter()
            .find(|st| st.name() == s)
            .ok_or_else(|| Error::UnknownStage(s.into()))
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a stage got its outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Its commands ran.
    Ran,
    /// A finished directory with the same fingerprint was there.
    Cached,
    /// A finished directory with the same fingerprint was downloaded from `--artifacts`.
    Fetched,
}

/// One stage's result.
#[derive(Debug, Clone)]
pub struct StageOutcome {
    /// The stage.
    pub stage: Stage,
    /// Its fingerprint (64 hex digits; the directory name carries the first 16).
    pub hash: String,
    /// Its output directory.
    pub dir: PathBuf,
    /// How it got there.
    pub status: Status,
    /// Seconds spent (running or fetching; 0 when cached).
    pub seconds: f64,
}

/// What a pipeline run did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Every stage, in order.
    pub stages: Vec<StageOutcome>,
    /// The HTML report.
    pub report: PathBuf,
}

/// Options of one pipeline run.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// The stages' options.
    pub config: PipelineConfig,
    /// Relative input paths of the configuration are resolved here.
    pub base_dir: PathBuf,
    /// Stage directories go here (`out/pipeline`).
    pub out: PathBuf,
    /// Rerun this stage and every later one even when cached.
    pub force: Option<Stage>,
    /// Upload finished stage directories here (`s3://bucket/prefix`), and fetch finished ones
    /// from there instead of running them.
    pub artifacts: Option<String>,
    /// Send the stages' own logs to `stage.log` in their directories instead of stderr.
    pub quiet: bool,
}

/// A configured input: a local path or an object store address.
enum Input {
    Local(PathBuf),
    Remote(String),
}

impl Input {
    fn new(base: &Path, s: &str) -> Input {
        if s3::is_s3(s) {
            Input::Remote(s.to_owned())
        } else {
            Input::Local(base.join(s))
        }
    }

    fn fingerprint(&self, fp: &mut Fingerprint, name: &str) -> Result<()> {
        match self {
            Input::Local(p) => {
                fp.contents(name, p)?;
            }
            Input::Remote(url) => {
                fp.option(name, &(url, s3::list(url)?));
            }
        }
        Ok(())
    }
}

/// Runs the pipeline; `log` receives one line per event ("cached: label").
///
/// # Errors
/// The first failing stage's error; earlier stages' directories stay complete.
pub fn run(opts: &PipelineOptions, bins: &Binaries, log: &mut dyn FnMut(&str)) -> Result<Summary> {
    opts.config.validate()?;
    let mut runner = Runner { opts, bins, log, stages: Vec::new() };
    runner.run_all()?;
    let eval = runner.stages.last().expect("six stages ran");
    let report = eval.dir.join("report.html");
    Ok(Summary { stages: runner.stages, report })
}

struct Runner<'a> {
    opts: &'a PipelineOptions,
    bins: &'a Binaries,
    log: &'a mut dyn FnMut(&str),
    stages: Vec<StageOutcome>,
}

/// What a stage body works with.
struct Ctx<'a> {
    stage: Stage,
    dir: PathBuf,
    bins: &'a Binaries,
    quiet: bool,
}

impl Ctx<'_> {
    /// Runs a stage binary; exit codes in `ok` count as success (0 always does).
    fn run(&self, bin: &str, args: Vec<OsString>, ok: &[i32]) -> Result<()> {
        self.run_with_stdout(bin, args, ok, None)
    }

    fn run_with_stdout(
        &self,
        bin: &str,
        args: Vec<OsString>,
        ok: &[i32],
        stdout: Option<&Path>,
    ) -> Result<()> {
        let program = self.bins.path(bin);
        let line = command_line(program, &args);
        let mut cmd = Command::new(program);
        cmd.args(&args).stdin(Stdio::null());
        stop_with_parent(&mut cmd);
        let log_path = self.dir.join("stage.log");
        if self.quiet {
            let open = || {
                fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log_path)
                    .map_err(|e| Error::io(&log_path, e))
            };
            cmd.stderr(open()?);
            if stdout.is_none() {
                cmd.stdout(open()?);
            }
        } else {
            eprintln!("  $ {line}");
            // The pipeline's stdout carries only its own result; the stages' data goes to
            // stderr with their logs.
            if stdout.is_none() {
                cmd.stdout(Stdio::from(std::io::stderr()));
            }
        }
        if let Some(path) = stdout {
            cmd.stdout(fs::File::create(path).map_err(|e| Error::io(path, e))?);
        }
        let fail = |status: String| Error::StageFailed {
            stage: self.stage.name().into(),
            command: line.clone(),
            status,
        };
        let status = cmd.status().map_err(|e| fail(format!("could not start: {e}")))?;
        match status.code() {
            Some(0) => Ok(()),
            Some(c) if ok.contains(&c) => Ok(()),
            _ => {
                let mut msg = format!("exited with {status}");
                if self.quiet {
                    if let Ok(text) = fs::read_to_string(&log_path) {
                        let tail: Vec<&str> = text.lines().rev().take(5).collect();
                        let tail: Vec<&str> = tail.into_iter().rev().collect();
                        msg.push_str(&format!(
                            " (see {}):\n{}",
                            log_path.display(),
                            tail.join("\n")
                        ));
                    }
                }
                Err(fail(msg))
            }
        }
    }

    /// The local path of an input, downloading an `s3://` one into `inputs/` first.
    fn materialize(&self, input: &Input, index: usize) -> Result<PathBuf> {
        match input {
            Input::Local(p) => Ok(p.clone()),
            Input::Remote(url) => {
                s3::download(url, &self.dir.join("inputs").join(index.to_string()))
            }
        }
    }

    fn copy(&self, from: &Path, to: &Path) -> Result<()> {
        fs::copy(from, to).map_err(|e| Error::io(from, e))?;
        Ok(())
    }
}

fn os(s: impl Into<OsString>) -> OsString {
    s.into()
}

impl Runner<'_> {
    fn say(&mut self, line: &str) {
        (self.log)(line);
    }

    fn upstream(&self, stage: Stage) -> &StageOutcome {
        self.stages.iter().find(|o| o.stage == stage).expect("upstream stage ran")
    }

    /// Runs one stage unless a finished directory with the same fingerprint exists.
    fn stage(
        &mut self,
        stage: Stage,
        fp: Fingerprint,
        body: impl FnOnce(&Ctx) -> Result<()>,
    ) -> Result<PathBuf> {
        let hash = fp.finish();
        let dir = self.opts.out.join(format!("{}-{}", stage.name(), &hash[..16]));
        let forced = self.opts.force.is_some_and(|f| stage >= f);
        let remote = self
            .opts
            .artifacts
            .as_ref()
            .map(|a| format!("{}/{}-{}", a.trim_end_matches('/'), stage.name(), &hash[..16]));
        let started = Instant::now();
        let mut status = Status::Ran;
        if !forced && dir.join(DONE).is_file() {
            status = Status::Cached;
            self.say(&format!("cached: {stage} ({})", dir.display()));
            if let Some(remote) = &remote {
                if !s3::exists(&format!("{remote}/{DONE}"))? {
                    s3::upload_dir(&dir, remote, &[DONE])?;
                    self.say(&format!("uploaded: {stage} -> {remote}"));
                }
            }
        } else if let Some(remote) = remote
            .as_ref()
            .filter(|r| !forced && s3::exists(&format!("{r}/{DONE}")).unwrap_or(false))
        {
            remove_dir(&dir)?;
            fs::create_dir_all(&self.opts.out).map_err(|e| Error::io(&self.opts.out, e))?;
            let tmp = self.opts.out.join(format!(".{}-{}.fetch", stage.name(), &hash[..16]));
            remove_dir(&tmp)?;
            let got = s3::download(remote, &tmp)?;
            fs::rename(&got, &dir).map_err(|e| Error::io(&dir, e))?;
            remove_dir(&tmp)?;
            status = Status::Fetched;
            self.say(&format!("fetched: {stage} <- {remote}"));
        } else {
            remove_dir(&dir)?;
            fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            self.say(&format!("running: {stage} -> {}", dir.display()));
            let ctx = Ctx { stage, dir: dir.clone(), bins: self.bins, quiet: self.opts.quiet };
            body(&ctx)?;
            let marker = serde_json::json!({
                "stage": stage.name(),
                "hash": hash,
                "version": env!("CARGO_PKG_VERSION"),
                "seconds": started.elapsed().as_secs_f64(),
            });
            let text = serde_json::to_string_pretty(&marker).expect("json") + "\n";
            records::atomic::write_bytes_atomic(&dir.join(DONE), text.as_bytes())?;
            self.say(&format!("done: {stage} ({:.1} s)", started.elapsed().as_secs_f64()));
            if let Some(remote) = &remote {
                s3::upload_dir(&dir, remote, &[DONE])?;
                self.say(&format!("uploaded: {stage} -> {remote}"));
            }
        }
        let seconds = if status == Status::Cached { 0.0 } else { started.elapsed().as_secs_f64() };
        self.stages.push(StageOutcome { stage, hash, dir: dir.clone(), status, seconds });
        Ok(dir)
    }

    fn run_all(&mut self) -> Result<()> {
        let c = self.opts.config.clone();
        let base = self.opts.base_dir.clone();

        // scrape: lexicon.csv from the configured sources.
        let mut fp = Fingerprint::new("scrape");
        fp.option("offline", &c.scrape.offline);
        let sources: Vec<(&str, Option<Input>, &str)> = c
            .scrape
            .sources
            .iter()
            .map(|s| match s {
                Source::Lexicon(p) => ("--lexicon-in", Some(Input::new(&base, p)), p.as_str()),
                Source::File(p) => ("--file", Some(Input::new(&base, p)), p.as_str()),
                Source::Text(p) => ("--text", Some(Input::new(&base, p)), p.as_str()),
                Source::Url(u) => ("--url", None, u.as_str()),
            })
            .collect();
        for (i, (flag, input, raw)) in sources.iter().enumerate() {
            match input {
                Some(input) => {
                    fp.option(&format!("source{i}"), flag);
                    input.fingerprint(&mut fp, &format!("source{i}-content"))?;
                }
                None => {
                    fp.option(&format!("source{i}"), &(flag, raw));
                }
            }
        }
        let extras: Vec<(&str, Input)> = [
            ("--extra-aliases", c.scrape.extra_aliases.as_deref()),
            ("--stoplist", c.scrape.stoplist.as_deref()),
        ]
        .into_iter()
        .filter_map(|(flag, p)| p.map(|p| (flag, Input::new(&base, p))))
        .collect();
        for (flag, input) in &extras {
            input.fingerprint(&mut fp, flag)?;
        }
        let offline = c.scrape.offline;
        let scrape_dir = self.stage(Stage::Scrape, fp, |ctx| {
            let mut args = Vec::new();
            for (i, (flag, input, raw)) in sources.iter().enumerate() {
                args.push(os(*flag));
                match input {
                    Some(input) => args.push(ctx.materialize(input, i)?.into()),
                    None => args.push(os(*raw)),
                }
            }
            for (i, (flag, input)) in extras.iter().enumerate() {
                args.push(os(*flag));
                args.push(ctx.materialize(input, 100 + i)?.into());
            }
            if offline {
                args.push(os("--offline"));
            }
            args.extend([os("--out"), ctx.dir.join("lexicon.csv").into()]);
            ctx.run("scrape", args, &[])
        })?;

        // label: the labeled table.
        let mut fp = Fingerprint::new("label");
        fp.upstream("scrape", &self.upstream(Stage::Scrape).hash);
        fp.option("options", &(&c.label.match_title, &c.label.holdout_parts, &c.label.seed));
        let inputs: Vec<Input> = c.label.inputs.iter().map(|p| Input::new(&base, p)).collect();
        for (i, input) in inputs.iter().enumerate() {
            input.fingerprint(&mut fp, &format!("input{i}"))?;
        }
        let label = c.label.clone();
        let label_dir = self.stage(Stage::Label, fp, |ctx| {
            let mut args = vec![os("--input")];
            for (i, input) in inputs.iter().enumerate() {
                args.push(ctx.materialize(input, i)?.into());
            }
            args.extend([
                os("--lexicon"),
                scrape_dir.join("lexicon.csv").into(),
                os("--output"),
                ctx.dir.join("labeled.parquet").into(),
            ]);
            if label.match_title {
                args.push(os("--match-title"));
            }
            if label.holdout_parts > 0.0 {
                args.extend([
                    os("--holdout-parts"),
                    os(label.holdout_parts.to_string()),
                    os("--seed"),
                    os(label.seed.to_string()),
                ]);
            }
            if let Some(t) = label.threads {
                args.extend([os("--threads"), os(t.to_string())]);
            }
            // Exit 1: labeled, but ragged rows were skipped (named in the log); the data is
            // still usable, as with the real Kaggle variants.
            ctx.run("label", args, &[1])
        })?;

        // jsonl: train/valid/test.
        let mut fp = Fingerprint::new("jsonl");
        fp.upstream("label", &self.upstream(Stage::Label).hash);
        fp.option("options", &c.jsonl);
        let jsonl = c.jsonl.clone();
        let jsonl_dir = self.stage(Stage::Jsonl, fp, |ctx| {
            let mut args = vec![
                os("export"),
                os("--input"),
                label_dir.join("labeled.parquet").into(),
                os("--format"),
                os(&jsonl.format),
                os("--out"),
                ctx.dir.clone().into(),
                os("--seed"),
                os(jsonl.seed.to_string()),
                os("--split"),
                os(&jsonl.split),
                os("--negatives"),
                os(jsonl.negatives.to_string()),
            ];
            if let Some(rows) = jsonl.rows {
                args.extend([os("--rows"), os(rows.to_string())]);
            }
            ctx.run("jsonl", args, &[])
        })?;

        // finetune: a base model (given, or a tiny one) trained on train.jsonl.
        let mut fp = Fingerprint::new("finetune");
        fp.upstream("jsonl", &self.upstream(Stage::Jsonl).hash);
        let ft = c.finetune.clone();
        // Threads and the CPU switch change speed, not results: they stay out of the hash.
        fp.option(
            "options",
            &(&ft.base, &ft.epochs, &ft.batch_size, &ft.learning_rate, &ft.max_seq_len, &ft.seed),
        );
        let base_input = (ft.base != "tiny").then(|| Input::new(&base, &ft.base));
        match &base_input {
            Some(input) => input.fingerprint(&mut fp, "base")?,
            None => {
                fp.option("tiny", &ft.tiny);
            }
        }
        let finetune_dir = self.stage(Stage::Finetune, fp, |ctx| {
            let train = jsonl_dir.join("train.jsonl");
            let base_dir = match &base_input {
                Some(input) => ctx.materialize(input, 0)?,
                None => {
                    let t = &ft.tiny;
                    let out = ctx.dir.join("base");
                    let args = vec![
                        os("init-tiny"),
                        os("--train"),
                        train.clone().into(),
                        os("--out"),
                        out.clone().into(),
                        os("--hidden"),
                        os(t.hidden.to_string()),
                        os("--layers"),
                        os(t.layers.to_string()),
                        os("--heads"),
                        os(t.heads.to_string()),
                        os("--kv-heads"),
                        os(t.kv_heads.to_string()),
                        os("--intermediate"),
                        os(t.intermediate.to_string()),
                        os("--vocab-size"),
                        os(t.vocab_size.to_string()),
                        os("--seed"),
                        os(t.seed.to_string()),
                    ];
                    ctx.run("finetune", args, &[])?;
                    out
                }
            };
            let mut args = vec![
                os("train"),
                os("--base"),
                base_dir.into(),
                os("--train"),
                train.into(),
                os("--valid"),
                jsonl_dir.join("valid.jsonl").into(),
                os("--out"),
                ctx.dir.join(RUN_NAME).into(),
                os("--epochs"),
                os(ft.epochs.to_string()),
                os("--batch-size"),
                os(ft.batch_size.to_string()),
                os("--max-seq-len"),
                os(ft.max_seq_len.to_string()),
                os("--seed"),
                os(ft.seed.to_string()),
            ];
            if let Some(lr) = ft.learning_rate {
                args.extend([os("--learning-rate"), os(lr.to_string())]);
            }
            args.extend(run_opts(ft.threads, ft.cpu, ctx.quiet));
            ctx.run("finetune", args, &[])
        })?;

        // predict: the test split (or its first rows).
        let mut fp = Fingerprint::new("predict");
        fp.upstream("finetune", &self.upstream(Stage::Finetune).hash);
        fp.option("options", &c.predict);
        let pr = c.predict.clone();
        let (threads, cpu) = (ft.threads, ft.cpu);
        let predict_dir = self.stage(Stage::Predict, fp, |ctx| {
            let test = ctx.dir.join("test.jsonl");
            let limit = pr.limit.unwrap_or(usize::MAX);
            head_lines(&jsonl_dir.join("test.jsonl"), &test, limit)?;
            let ids = jsonl_dir.join("test.ids");
            if ids.is_file() {
                head_lines(&ids, &ctx.dir.join("test.ids"), limit)?;
            }
            let mut args = vec![
                os("predict"),
                os("--model"),
                finetune_dir.join(RUN_NAME).into(),
                os("--input"),
                test.into(),
                os("--out"),
                ctx.dir.join("predictions.jsonl").into(),
                os("--batch-size"),
                os(pr.batch_size.to_string()),
                os("--max-new-tokens"),
                os(pr.max_new_tokens.to_string()),
            ];
            args.extend(run_opts(threads, cpu, ctx.quiet));
            ctx.run("finetune", args, &[])
        })?;

        // eval: a run directory holding the curves' and scores' inputs, then the report.
        let mut fp = Fingerprint::new("eval");
        fp.upstream("finetune", &self.upstream(Stage::Finetune).hash);
        fp.upstream("predict", &self.upstream(Stage::Predict).hash);
        fp.option("options", &c.eval);
        let title = c.eval.title.clone();
        let heldout = label_dir.join("labeled.heldout-parts.txt");
        self.stage(Stage::Eval, fp, |ctx| {
            let run = ctx.dir.join(RUN_NAME);
            fs::create_dir_all(&run).map_err(|e| Error::io(&run, e))?;
            let trained = finetune_dir.join(RUN_NAME);
            for name in ["results.csv", "hparams.json"] {
                if trained.join(name).is_file() {
                    ctx.copy(&trained.join(name), &run.join(name))?;
                }
            }
            ctx.copy(&predict_dir.join("predictions.jsonl"), &run.join("predictions.jsonl"))?;
            let mut args = vec![
                os("score"),
                os("--predictions"),
                run.join("predictions.jsonl").into(),
                os("--gold"),
                predict_dir.join("test.jsonl").into(),
                os("--out"),
                run.join("scores.json").into(),
            ];
            if heldout.is_file() {
                args.extend([os("--heldout-parts"), heldout.clone().into()]);
            }
            ctx.run_with_stdout("eval", args, &[], Some(&ctx.dir.join("scores.txt")))?;
            let args =
                vec![os("curves"), run.clone().into(), os("--out"), ctx.dir.join("curves").into()];
            ctx.run("eval", args, &[])?;
            let args = vec![
                os("report"),
                run.into(),
                os("--out"),
                ctx.dir.join("report.html").into(),
                os("--title"),
                os(&title),
            ];
            ctx.run("eval", args, &[])
        })?;
        Ok(())
    }
}

fn run_opts(threads: Option<usize>, cpu: bool, quiet: bool) -> Vec<OsString> {
    let mut args = Vec::new();
    if let Some(t) = threads {
        args.extend([os("--threads"), os(t.to_string())]);
    }
    if cpu {
        args.push(os("--cpu"));
    }
    if quiet {
        args.push(os("--quiet"));
    }
    args
}

/// Copies the first `n` lines of `from` to `to`.
fn head_lines(from: &Path, to: &Path, n: usize) -> Result<()> {
    let text = fs::read_to_string(from).map_err(|e| Error::io(from, e))?;
    let head: String = text.split_inclusive('\n').take(n).collect();
    fs::write(to, head).map_err(|e| Error::io(to, e))
}

/// Removes a leftover directory: first renamed aside (one atomic step, so the name is free at
/// once even while a straggling process still writes into the old directory), then deleted.
fn remove_dir(dir: &Path) -> Result<()> {
    let Some(name) = dir.file_name() else { return Ok(()) };
    let aside =
        dir.with_file_name(format!(".{}.{}.trash", name.to_string_lossy(), std::process::id()));
    match fs::rename(dir, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    }
    // A process still writing there cannot stop the rerun: what it leaves is only untidy.
    let _ = fs::remove_dir_all(&aside);
    Ok(())
}

/// Ties a stage process to the pipeline's life: on Linux the kernel sends it SIGTERM when the
/// pipeline dies, however it dies (SIGTERM from `docker stop` or a scheduler, SIGINT, even
/// SIGKILL), so no stage binary is left running orphaned.
fn stop_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: the closure runs in the forked child before exec and calls only
        // async-signal-safe functions (prctl, getppid, raise).
        let parent = std::process::id() as libc::pid_t;
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died between fork and prctl: then nobody will signal.
                if libc::getppid() != parent {
                    libc::raise(libc::SIGTERM);
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_names_round_trip_and_order() {
        for s in Stage::ALL {
            assert_eq!(s.name().parse::<Stage>().unwrap(), s);
        }
        assert!(Stage::Label < Stage::Eval);
        let err = "lable".parse::<Stage>().unwrap_err();
        assert!(err.to_string().contains("\"lable\""), "{err}");
    }

    #[test]
    fn head_lines_keeps_the_first_lines() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, "1\n2\n3\n").unwrap();
        head_lines(&a, &b, 2).unwrap();
        assert_eq!(fs::read_to_string(&b).unwrap(), "1\n2\n");
        head_lines(&a, &b, usize::MAX).unwrap();
        assert_eq!(fs::read_to_string(&b).unwrap(), "1\n2\n3\n");
    }
}

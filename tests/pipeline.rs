//! End to end: `partfinder pipeline` on the embedded default, with the real stage binaries.
//!
//! One test, in order: a run whose finetune stage fails (its binary replaced by one that
//! rejects the arguments) keeps the finished stages; the next run resumes at finetune and writes
//! the report; a third run finds every stage cached; `--force label` reruns label and the later
//! stages only.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use partfinder::bins::{cargo_build_command, missing_in, STAGE_BINARIES};

/// The directory holding `partfinder` and, under `cargo test --workspace`, the stage
/// binaries; when one is missing (`cargo test -p partfinder`), cargo builds it there.
fn bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_partfinder")).parent().unwrap().to_owned();
    let missing = missing_in(&dir);
    if !missing.is_empty() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = cargo_build_command(Path::new(&cargo), &dir, &missing)
            .expect("the test binary lives in a cargo profile directory");
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "building {missing:?} failed");
    }
    dir
}

fn pipeline(cwd: &Path, bins: &Path, extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_partfinder"));
    cmd.current_dir(cwd)
        .args(["pipeline", "--quiet", "--out", "out/pipeline", "--bin-dir"])
        .arg(bins)
        .args(extra);
    cmd.output().expect("partfinder runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The stages that the log says were run and cached.
fn statuses(out: &Output) -> (Vec<String>, Vec<String>) {
    let text = stderr(out);
    let pick = |prefix: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .map(|rest| rest.split_whitespace().next().unwrap_or("").to_owned())
            .collect()
    };
    (pick("running: "), pick("cached: "))
}

fn stage_dir(out: &Path, stage: &str) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with(&format!("{stage}-")) && p.is_dir()
        })
        .collect();
    assert_eq!(dirs.len(), 1, "one {stage} directory in {}: {dirs:?}", out.display());
    dirs.into_iter().next().unwrap()
}

/// Debug binaries weigh hundreds of megabytes: link them where the platform allows.
fn link_or_copy(from: &Path, to: &Path) {
    #[cfg(unix)]
    std::os::unix::fs::symlink(from, to).unwrap();
    #[cfg(not(unix))]
    std::fs::copy(from, to).unwrap();
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn pipeline_runs_caches_resumes_and_forces() {
    let bins = bin_dir();
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let out = cwd.join("out/pipeline");

    // 1. A broken finetune binary: the stages before it finish, finetune fails, exit 2.
    let broken = cwd.join("broken-bin");
    std::fs::create_dir(&broken).unwrap();
    for name in STAGE_BINARIES {
        let exe = format!("{name}{}", std::env::consts::EXE_SUFFIX);
        // `eval` rejects finetune's arguments with a usage error.
        let from = if name == "finetune" { "eval" } else { name };
        let from = bins.join(format!("{from}{}", std::env::consts::EXE_SUFFIX));
        link_or_copy(&from, &broken.join(exe));
    }
    let failed = pipeline(cwd, &broken, &[]);
    assert_eq!(failed.status.code(), Some(2), "{}", stderr(&failed));
    assert!(stderr(&failed).contains("stage finetune failed"), "{}", stderr(&failed));
    assert_eq!(statuses(&failed).0, names(&["scrape", "label", "jsonl", "finetune"]));
    for stage in ["scrape", "label", "jsonl"] {
        assert!(stage_dir(&out, stage).join(".done").is_file(), "{stage} finished");
    }
    assert!(!stage_dir(&out, "finetune").join(".done").exists(), "finetune is not complete");

    // 2. The next run resumes at finetune and writes every stage's outputs and the report.
    let first = pipeline(cwd, &bins, &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let (ran, cached) = statuses(&first);
    assert_eq!(cached, names(&["scrape", "label", "jsonl"]));
    assert_eq!(ran, names(&["finetune", "predict", "eval"]));
    let expected = [
        ("scrape", "lexicon.csv"),
        ("label", "labeled.parquet"),
        ("jsonl", "train.jsonl"),
        ("jsonl", "test.jsonl"),
        ("finetune", "partfinder_t_001/results.csv"),
        ("finetune", "partfinder_t_001/config.json"),
        ("predict", "predictions.jsonl"),
        ("eval", "partfinder_t_001/scores.json"),
        ("eval", "scores.txt"),
        ("eval", "report.html"),
    ];
    for (stage, file) in expected {
        let path = stage_dir(&out, stage).join(file);
        assert!(path.is_file(), "{} exists", path.display());
    }
    let report = stage_dir(&out, "eval").join("report.html");
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert_eq!(cwd.join(stdout.trim()), report, "stdout is the report's path");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("partfinder_t_001"), "the report shows the run");
    let predictions = std::fs::read_to_string(stage_dir(&out, "predict").join("predictions.jsonl"));
    let test = std::fs::read_to_string(stage_dir(&out, "jsonl").join("test.jsonl")).unwrap();
    assert_eq!(predictions.unwrap().lines().count(), test.lines().count(), "every test example");

    // 3. Nothing changed: every stage is cached and nothing is rewritten.
    let report_time = std::fs::metadata(&report).unwrap().modified().unwrap();
    let again = pipeline(cwd, &bins, &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    let (ran, cached) = statuses(&again);
    assert!(ran.is_empty(), "nothing runs: {ran:?}");
    assert_eq!(cached, names(&["scrape", "label", "jsonl", "finetune", "predict", "eval"]));
    assert_eq!(std::fs::metadata(&report).unwrap().modified().unwrap(), report_time);

    // 4. --force label reruns label and everything after it, not scrape.
    let forced = pipeline(cwd, &bins, &["--force", "label"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    let (ran, cached) = statuses(&forced);
    assert_eq!(cached, names(&["scrape"]));
    assert_eq!(ran, names(&["label", "jsonl", "finetune", "predict", "eval"]));
    assert!(report.is_file());

    // A typo in --force is a usage error that names the stage.
    let typo = pipeline(cwd, &bins, &["--force", "lable"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(stderr(&typo).contains("unknown stage \"lable\""), "{}", stderr(&typo));
}

#[test]
fn print_config_shows_file_values_over_defaults() {
    // Needs no stage binary.
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("p.toml");
    std::fs::write(&config, "[predict]\nlimit = 5\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_partfinder"))
        .args(["pipeline", "--print-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("limit = 5"), "{text}");
    assert!(text.contains("base = \"tiny\""), "{text}");
}

/// `kill -9` or SIGTERM on the pipeline stops the stage it was running (no orphan keeps writing
/// into the stage directory), and an immediate rerun takes over the leftover directory.
#[cfg(target_os = "linux")]
#[test]
fn a_killed_pipeline_stops_its_stage_and_a_rerun_recovers() {
    use std::os::unix::fs::PermissionsExt;
    let bins = bin_dir();
    for signal in ["-KILL", "-TERM"] {
        let tmp = tempfile::tempdir().unwrap();
        let cwd = tmp.path();
        // A label stage that never ends and keeps writing into its stage directory.
        let slow = cwd.join("slow-bin");
        std::fs::create_dir(&slow).unwrap();
        for name in STAGE_BINARIES {
            let exe = format!("{name}{}", std::env::consts::EXE_SUFFIX);
            if name != "label" {
                link_or_copy(&bins.join(&exe), &slow.join(exe));
            }
        }
        let pid_file = cwd.join("label.pid");
        let script = "#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = --output ] && out=\"$2\"; shift; done\n\
                      dir=$(dirname \"$out\"); echo $$ > \"$PID_FILE.tmp\"; mv \"$PID_FILE.tmp\" \"$PID_FILE\"\n\
                      i=0; while :; do i=$((i+1)); : > \"$dir/junk$i\"; sleep 0.02; done\n";
        std::fs::write(slow.join("label"), script).unwrap();
        std::fs::set_permissions(slow.join("label"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_partfinder"))
            .current_dir(cwd)
            .args(["pipeline", "--quiet", "--out", "out/pipeline", "--bin-dir"])
            .arg(&slow)
            .env("PID_FILE", &pid_file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Bounded waits: the stage starts within a minute, and dies within 10 s of its parent.
        let started = std::time::Instant::now();
        while !pid_file.exists() {
            assert!(started.elapsed().as_secs() < 60, "the label stage never started");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let stage_pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_owned();
        let killed = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
        assert!(killed.success());
        child.wait().unwrap();
        let proc = PathBuf::from(format!("/proc/{stage_pid}"));
        let killed_at = std::time::Instant::now();
        // A zombie (state Z) has stopped; it only waits for init to reap it.
        let alive = || {
            std::fs::read_to_string(proc.join("stat"))
                .is_ok_and(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
        };
        while alive() {
            assert!(
                killed_at.elapsed().as_secs() < 10,
                "{signal}: the label stage (pid {stage_pid}) outlived the pipeline"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // The rerun, at once, with the real binaries: label's leftover directory is replaced.
        let rerun = pipeline(cwd, &bins, &[]);
        assert!(rerun.status.success(), "{signal}: {}", stderr(&rerun));
        let label_dir = stage_dir(&cwd.join("out/pipeline"), "label");
        assert!(label_dir.join("labeled.parquet").is_file());
        assert!(!label_dir.join("junk1").exists(), "the leftover files are gone");
    }
}

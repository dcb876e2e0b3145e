//! The trainer and predictor with inputs a user gets wrong: nothing of theirs is written over,
//! no wrong number is reported as a result, and a run without a terminal still says how far
//! it is.

use std::path::Path;
use std::process::{Command, Output};

use crate::{fixture, tiny_model};
use records::testing::{snapshot, Rng};

fn finetune(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_finetune"))
        .args(args)
        .env("PARTFINDER_PROGRESS_SECS", "0")
        .output()
        .unwrap()
}

fn train_args<'a>(base: &'a Path, train: &'a Path, out: &'a Path) -> Vec<&'a std::ffi::OsStr> {
    vec![
        "train".as_ref(),
        "--base".as_ref(),
        base.as_os_str(),
        "--train".as_ref(),
        train.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--epochs".as_ref(),
        "1".as_ref(),
        "--batch-size".as_ref(),
        "16".as_ref(),
    ]
}

#[test]
fn training_never_writes_over_a_model_or_a_foreign_directory() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny_model(dir.path());
    let train = fixture("train.jsonl");
    let before = snapshot(&base);
    // --out the base model itself, or another model directory.
    let other = dir.path().join("other-model");
    std::fs::create_dir(&other).unwrap();
    std::fs::copy(base.join("config.json"), other.join("config.json")).unwrap();
    for out in [&base, &other] {
        let run = finetune(&train_args(&base, &train, out));
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(
            err.contains("would replace the input") || err.contains("is not a run directory"),
            "{err}"
        );
    }
    assert_eq!(snapshot(&base), before, "the base model is untouched");
    assert_eq!(snapshot(&other).len(), 1);
}

#[test]
fn an_empty_validation_file_is_an_error_not_a_perfect_score() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny_model(dir.path());
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let out = dir.path().join("run");
    let train = fixture("train.jsonl");
    let mut args = train_args(&base, &train, &out);
    args.extend(["--valid".as_ref(), empty.as_os_str()]);
    let run = finetune(&args);
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.contains("empty.jsonl: no validation example"), "{err}");
    assert!(!out.join("results.csv").exists(), "no results of a run that did not happen");
}

#[test]
fn prediction_refuses_to_write_over_its_input_and_training_prints_progress_lines() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny_model(dir.path());
    let run_dir = dir.path().join("run");
    // Without a terminal (stderr is a pipe here) progress comes as lines.
    let trained = finetune(&train_args(&base, &fixture("train.jsonl"), &run_dir));
    let err = String::from_utf8_lossy(&trained.stderr);
    assert!(trained.status.success(), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("train: ")).collect();
    assert_eq!(lines.len(), 4, "one line a step at interval 0: {err}");
    assert!(lines[0].starts_with("train: 1/4 (25%) loss "), "{err}");
    assert!(lines[0].contains("tok/s, elapsed ") && lines[0].contains(", eta "), "{err}");
    assert!(lines[3].starts_with("train: 4/4 (100%)") && lines[3].ends_with(", done"), "{err}");

    let data = dir.path().join("t.jsonl");
    std::fs::copy(fixture("train.jsonl"), &data).unwrap();
    let before = std::fs::read(&data).unwrap();
    let predicted = finetune(&[
        "predict".as_ref(),
        "--model".as_ref(),
        run_dir.as_os_str(),
        "--input".as_ref(),
        data.as_os_str(),
        "--out".as_ref(),
        data.as_os_str(),
    ]);
    let err = String::from_utf8_lossy(&predicted.stderr);
    assert_eq!(predicted.status.code(), Some(2), "{err}");
    assert!(err.contains("the output would replace the input"), "{err}");
    assert_eq!(std::fs::read(&data).unwrap(), before);
}

#[test]
fn generated_bad_training_files_fail_naming_file_and_line_and_are_left_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny_model(dir.path());
    let good = std::fs::read(fixture("train.jsonl")).unwrap();
    let mut rng = Rng(3);
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("binary".into(), (0..2048u32).map(|i| (i * 31 % 256) as u8).collect()),
        ("not json".into(), b"prompt -> completion END\n".to_vec()),
    ];
    for _ in 0..6 {
        // Cut inside a line (not at a line end): the last line is half a JSON object.
        let mut cut = rng.below(good.len());
        while cut == 0 || good[cut - 1] == b'\n' {
            cut = rng.below(good.len());
        }
        cases.push((format!("truncated at byte {cut}"), good[..cut].to_vec()));
    }
    for _ in 0..4 {
        let mut bytes = good.clone();
        let at = rng.below(bytes.len());
        bytes[at] = 0xff;
        cases.push((format!("invalid UTF-8 at byte {at}"), bytes));
    }
    for (i, (name, bytes)) in cases.iter().enumerate() {
        let data = dir.path().join(format!("case{i}.jsonl"));
        std::fs::write(&data, bytes).unwrap();
        let out = dir.path().join(format!("run{i}"));
        let run = finetune(&train_args(&base, &data, &out));
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(std::fs::read(&data).unwrap(), *bytes, "{name}: the input changed");
        if run.status.success() {
            // Only a file that still parses may train: then the run is complete.
            assert!(out.join("hparams.json").is_file(), "{name}: {err}");
            continue;
        }
        assert_eq!(run.status.code(), Some(2), "{name}: {err}");
        assert!(err.starts_with("error: "), "{name}: {err}");
        assert!(err.contains(&format!("case{i}.jsonl")), "{name}: the file is not named: {err}");
        if !bytes.is_empty() && name != "binary" {
            assert!(err.contains("line "), "{name}: the line is not named: {err}");
        }
        assert!(err.len() < 2000, "{name}: a message of {} bytes", err.len());
        assert!(!out.join("results.csv").exists(), "{name}: a failed run left results");
    }
}

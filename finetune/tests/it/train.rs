//! Training on the fixture: the loss and accuracy improve, results.csv has the hosted columns,
//! prediction recovers the parts, a stopped run resumes to bit-identical weights, and a
//! diverging run stops with a clear error.

use std::path::Path;

use candle_core::Device;
use finetune::predict::{predict_file, PredictConfig};
use finetune::progress::Reporter;
use finetune::train::{train, HParams, TrainConfig};
use records::run::{read_results, RESULTS_HEADER};

use crate::{fixture, tiny_model};

fn config(base: &Path, out: &Path, hparams: HParams) -> TrainConfig {
    TrainConfig {
        base: base.to_owned(),
        train: fixture("train.jsonl"),
        valid: Some(fixture("valid.jsonl")),
        out: out.to_owned(),
        hparams,
        resume: false,
        stop_after: None,
        grad_checkpoint: false,
        device: Device::Cpu,
    }
}

/// 160 steps of 8 examples, about ten seconds: enough for the tiny model to copy the parts
/// (measured: 64/64 training and 14/16 validation part sets exact).
fn fast() -> HParams {
    HParams {
        epochs: 20,
        batch_size: 8,
        learning_rate: 3e-3,
        warmup_steps: 4,
        eval_every: 40,
        ..HParams::default()
    }
}

#[test]
fn training_improves_writes_results_and_predict_recovers_parts() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny_model(dir.path());
    let run = dir.path().join("runs/partfinder_t_001");
    let summary = train(&config(&base, &run, fast()), &Reporter::silent()).unwrap();
    assert!(summary.completed);
    assert_eq!(summary.steps, 160);

    let text = std::fs::read_to_string(run.join("results.csv")).unwrap();
    assert_eq!(text.lines().next().unwrap(), RESULTS_HEADER.join(","));
    let rows = read_results(&run.join("results.csv")).unwrap();
    assert_eq!(rows.len(), 160);
    assert_eq!(rows[0].elapsed_examples, 8);
    assert_eq!(rows[159].elapsed_examples, 20 * 64, "elapsed examples count repeats");
    for r in &rows {
        assert_eq!(r.validation_loss.is_some(), r.step % 40 == 0, "step {}", r.step);
    }
    let mean = |rs: &[records::run::ResultsRow], f: fn(&records::run::ResultsRow) -> f64| {
        rs.iter().map(f).sum::<f64>() / rs.len() as f64
    };
    let (early, late) = (&rows[..8], &rows[152..]);
    assert!(
        mean(late, |r| r.training_loss) < 0.5 * mean(early, |r| r.training_loss),
        "training loss did not fall: {rows:#?}"
    );
    assert!(
        mean(late, |r| r.training_token_accuracy)
            > mean(early, |r| r.training_token_accuracy) + 0.3
    );
    let v_first = rows[39].validation_loss.unwrap();
    let v_last = rows[159].validation_loss.unwrap();
    assert!(v_last < v_first, "validation loss {v_first} -> {v_last}");

    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "hparams.json",
    ] {
        assert!(run.join(f).exists(), "{f} missing");
    }
    assert!(!run.join("checkpoints").exists());

    let out = run.join("predictions.jsonl");
    let cfg = PredictConfig {
        model: run.clone(),
        input: fixture("train.jsonl"),
        out: out.clone(),
        batch_size: 16,
        max_new_tokens: 16,
        device: Device::Cpu,
        grounding: None,
    };
    let (preds, s) = predict_file(&cfg, &Reporter::silent()).unwrap();
    assert_eq!(preds.len(), 64);
    assert_eq!(preds[0].id, "1");
    assert!(s.exact * 10 >= s.with_gold * 9, "only {}/{} exact part sets", s.exact, s.with_gold);
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 64);

    // The command line: one review text in, its parts out on stdout.
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_finetune"))
        .args(["predict", "--model"])
        .arg(&run)
        .args(["--text", "  The radiator failed\r\n after 30000 miles.", "--quiet"])
        .output()
        .unwrap();
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    assert_eq!(String::from_utf8_lossy(&cli.stdout), "radiator\n");

    // Training into a directory that holds a run is refused unless resuming.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_finetune"))
        .args(["train", "--base"])
        .arg(&base)
        .arg("--train")
        .arg(fixture("train.jsonl"))
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.starts_with("error: ") && err.contains("--resume"), "{err}");
}

#[test]
fn a_stopped_run_resumes_to_bit_identical_weights() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny_model(dir.path());
    let hp = HParams {
        epochs: 2,
        batch_size: 4,
        grad_accum: 2,
        learning_rate: 2e-3,
        eval_every: 3,
        save_every: 5,
        patience: Some(100),
        ..HParams::default()
    };
    let whole = dir.path().join("whole");
    train(&config(&base, &whole, hp.clone()), &Reporter::silent()).unwrap();

    // Stopped after step 7 (its checkpoint is step 5), then resumed: steps 6 and 7 are redone.
    let broken = dir.path().join("broken");
    let mut cfg = config(&base, &broken, hp);
    cfg.stop_after = Some(7);
    let s = train(&cfg, &Reporter::silent()).unwrap();
    assert!(!s.completed);
    assert!(broken.join("checkpoints/step-000005/optimizer.safetensors").exists());
    assert!(!broken.join("model.safetensors").exists());
    cfg.stop_after = None;
    cfg.resume = true;
    let s = train(&cfg, &Reporter::silent()).unwrap();
    assert!(s.completed && s.steps == 16);

    let a = std::fs::read(whole.join("model.safetensors")).unwrap();
    let b = std::fs::read(broken.join("model.safetensors")).unwrap();
    assert!(a == b, "resumed weights differ from the unbroken run's");
    assert_eq!(
        std::fs::read_to_string(whole.join("results.csv")).unwrap(),
        std::fs::read_to_string(broken.join("results.csv")).unwrap()
    );
    // A finished run is not resumed again.
    assert!(train(&cfg, &Reporter::silent()).is_err());
}

#[test]
fn a_diverging_run_stops_with_a_clear_error_and_keeps_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny_model(dir.path());
    let run = dir.path().join("run");
    let hp = HParams {
        epochs: 1,
        learning_rate: 1e39,
        max_grad_norm: None,
        save_every: 1,
        ..HParams::default()
    };
    let err = train(&config(&base, &run, hp), &Reporter::silent()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, finetune::Error::NonFinite { .. }), "{msg}");
    assert!(msg.contains("non-finite training loss") && msg.contains("step-000001"), "{msg}");
    assert!(run.join("checkpoints/step-000001/model.safetensors").exists());
    assert!(!run.join("model.safetensors").exists());
}

#[test]
fn chat_examples_train_on_assistant_turns_with_weight() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny_model(dir.path());
    let md = finetune::model_dir::ModelDir::open(&base).unwrap();
    let enc =
        finetune::data::Encoder::new(md.tokenizer.clone(), md.chat_template().unwrap(), 0.01, 512);
    let ds = enc.encode_file(&fixture("chat.jsonl")).unwrap();
    assert_eq!(ds.examples.len(), 7);
    assert_eq!(ds.boundary_merges, 0);
    let trained = |e: &finetune::data::Encoded| {
        let ids: Vec<u32> =
            e.ids.iter().zip(&e.weights).filter(|(_, &w)| w > 0.0).map(|(&i, _)| i).collect();
        md.tokenizer.decode(&ids, false).unwrap()
    };
    let text = std::fs::read_to_string(fixture("chat.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let answer = first["messages"][2]["content"].as_str().unwrap();
    assert_eq!(trained(&ds.examples[0]), format!("{answer}<|im_end|>\n"));
    // The assistant turn with weight 0 ("battery") is context only.
    assert_eq!(trained(&ds.examples[6]), "tire<|im_end|>\n");
}

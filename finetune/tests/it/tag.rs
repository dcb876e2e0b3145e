//! `tag`: a tiny BERT tagger trained through the shared loop on generated reviews whose part
//! mentions are known, then used the way a user does: predictions.jsonl with spans, parts named
//! by a lexicon, validation scored against hand annotations.

use std::path::{Path, PathBuf};

use candle_core::Device;
use finetune::progress::Reporter;
use finetune::rng::Rng;
use finetune::tag::predict::{predict_file, TagPredictConfig};
use finetune::tag::train::{train, TagConfig};
use finetune::trainer::{EvalStrategy, HParams};
use records::dataset::{TagSpan, TaggedExample};

use super::classify::tiny_bert;

const PARTS: [&str; 6] = ["brakes", "tire", "seat", "engine", "radio", "mirror"];
const FILLER: [&str; 16] = [
    "the", "my", "new", "car", "is", "loud", "worn", "quiet", "and", "but", "love", "drives",
    "well", "really", "it", "very",
];

/// A review of random filler words with one to three parts at random places, and its spans.
fn review(rng: &mut Rng) -> TaggedExample {
    let n = 6 + rng.below(14);
    let mut words: Vec<(&str, bool)> =
        (0..n).map(|_| (FILLER[rng.below(FILLER.len())], false)).collect();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(words.len() + 1);
        words.insert(at, (PARTS[rng.below(PARTS.len())], true));
    }
    let mut text = String::new();
    let mut spans = Vec::new();
    for (w, part) in words {
        if !text.is_empty() {
            text.push(' ');
        }
        if part {
            spans.push(TagSpan {
                start: text.len(),
                end: text.len() + w.len(),
                part: w.trim_end_matches('s').to_owned(),
            });
        }
        text.push_str(w);
    }
    TaggedExample { text, spans }
}

/// Writes `n` generated reviews as a tagging JSONL with an `.ids` sidecar (`gen.csv#i`).
fn write_set(dir: &Path, name: &str, n: usize, seed: u64) -> PathBuf {
    let mut rng = Rng::new(seed);
    let mut jsonl = String::new();
    let mut ids = String::new();
    for i in 0..n {
        jsonl.push_str(&serde_json::to_string(&review(&mut rng)).unwrap());
        jsonl.push('\n');
        ids.push_str(&format!("gen.csv#{}\n", seed * 1000 + i as u64));
    }
    let path = dir.join(format!("{name}.jsonl"));
    std::fs::write(&path, jsonl).unwrap();
    std::fs::write(dir.join(format!("{name}.ids")), ids).unwrap();
    path
}

fn words() -> Vec<String> {
    let mut w: Vec<String> = PARTS.iter().chain(&FILLER).map(|s| (*s).to_owned()).collect();
    w.sort();
    w
}

fn hparams() -> HParams {
    HParams {
        epochs: 6,
        train_batch_size: 8,
        eval_batch_size: 16,
        learning_rate: 3e-3,
        warmup_ratio: 0.05,
        // Windows of 12 tokens: most reviews are cut into two or three.
        max_length: 12,
        eval_strategy: EvalStrategy::Epoch,
        seed: 3,
        ..HParams::default()
    }
}

#[test]
fn a_tiny_tagger_learns_part_spans_and_tags_reviews_longer_than_its_window() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny_bert(dir.path(), words());
    let train_file = write_set(dir.path(), "train", 160, 1);
    let valid_file = write_set(dir.path(), "valid", 30, 2);
    let out = dir.path().join("run");
    let cfg = TagConfig {
        base,
        train: train_file,
        valid: Some(valid_file.clone()),
        annotations: None,
        out: out.clone(),
        hparams: hparams(),
        o_weight: 1.0,
        resume: false,
        stop_after: None,
        device: Device::Cpu,
    };
    let s = train(&cfg, &Reporter::silent()).unwrap();
    assert!(s.train_windows > s.train_examples, "long reviews are cut into windows");
    assert_eq!(s.valid.against, "labeler");
    assert!(s.valid.f1 >= 0.9, "validation span F1 {:?}", s.valid);

    // A directory transformers loads as AutoModelForTokenClassification.
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"][0], "BertForTokenClassification");
    assert_eq!(config["id2label"]["1"], "B-PART");
    assert!(config.get("problem_type").is_none());
    assert!(out.join("log.csv").exists() && out.join("metrics.json").exists());
    let log = std::fs::read_to_string(out.join("log.csv")).unwrap();
    assert!(log.starts_with("step,epoch,learning_rate,loss,grad_norm,examples_per_second,eval_precision,eval_recall,eval_f1,"));

    // Predictions: spans of the normalised text, parts named by the lexicon.
    let lexicon = dir.path().join("lexicon.csv");
    std::fs::write(
        &lexicon,
        "surface,canonical,category,source\nbrakes,brake,,t\ntire,tire,,t\nradio,car stereo,,t\n",
    )
    .unwrap();
    let preds_path = dir.path().join("predictions.jsonl");
    let pcfg = TagPredictConfig {
        model: out.clone(),
        input: valid_file.clone(),
        out: preds_path.clone(),
        lexicon: Some(lexicon),
        min_confidence: 0.0,
        candidates: Some((dir.path().join("candidates.csv"), 1)),
        relabel: Some((dir.path().join("relabeled.jsonl"), 0.5)),
        batch_size: 4,
        max_length: None,
        join: finetune::tag::predict::DEFAULT_JOIN,
        device: Device::Cpu,
    };
    let preds = predict_file(&pcfg, &Reporter::silent()).unwrap();
    assert_eq!(preds.len(), 30);
    assert_eq!(preds[0].id, "gen.csv#2000");
    let valid = finetune::tag::train::read_tagged(&valid_file).unwrap();
    let (mut right, mut total) = (0, 0);
    for (p, (_, ex)) in preds.iter().zip(&valid) {
        let spans = p.spans.as_ref().unwrap();
        for s in spans {
            assert_eq!(&ex.text[s.start..s.end], s.text);
            assert!(s.confidence > 0.0 && s.confidence <= 1.0);
            let want = match s.text.as_str() {
                "brakes" => "brake",
                "radio" => "car stereo",
                other => other,
            };
            assert_eq!(s.part, want, "named by the lexicon, else by the text");
        }
        let got: Vec<(usize, usize)> = spans.iter().map(|s| (s.start, s.end)).collect();
        total += ex.spans.len();
        right += ex.spans.iter().filter(|s| got.contains(&(s.start, s.end))).count();
    }
    assert!(right as f64 >= 0.9 * total as f64, "{right}/{total} spans found");
    // The file on disk is what was returned.
    let lines = std::fs::read_to_string(&preds_path).unwrap();
    assert_eq!(lines.lines().count(), 30);

    // The parts the lexicon lacks (seat, engine, mirror) are lexicon candidates, most frequent
    // first, each with an example in context, for a person to accept.
    let mut rdr = csv::Reader::from_path(dir.path().join("candidates.csv")).unwrap();
    assert_eq!(
        rdr.headers().unwrap().iter().collect::<Vec<_>>(),
        finetune::tag::predict::CANDIDATES_HEADER
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let aliases: Vec<&str> = rows.iter().map(|r| &r[1]).collect();
    for part in ["seat", "engine", "mirror"] {
        assert!(aliases.contains(&part), "{part} in {aliases:?}");
    }
    for known in ["brakes", "tire", "radio"] {
        assert!(!aliases.contains(&known), "{known} is in the lexicon: {aliases:?}");
    }
    // Self-training data: every labeler span kept, confident new ones added, ids alongside.
    let relabeled = finetune::tag::train::read_tagged(&dir.path().join("relabeled.jsonl")).unwrap();
    assert_eq!(relabeled.len(), valid.len());
    for ((id, new), (old_id, old)) in relabeled.iter().zip(&valid) {
        assert_eq!((id, &new.text), (old_id, &old.text));
        assert!(old.spans.iter().all(|s| new.spans.contains(s)), "{id}: a teacher span dropped");
    }
    let counts: Vec<usize> = rows.iter().map(|r| r[3].parse().unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    assert!(rows.iter().all(|r| r[0].is_empty() && r[6].contains(&format!("[{}]", &r[1]))));

    // A finished run is not trained over.
    let err = train(&cfg, &Reporter::silent()).unwrap_err().to_string();
    assert!(err.contains("already holds a finished model"), "{err}");
}

#[test]
fn validation_can_be_scored_against_hand_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny_bert(dir.path(), words());
    let train_file = write_set(dir.path(), "train", 40, 1);
    let valid_file = write_set(dir.path(), "valid", 10, 2);
    // Annotations of three of the ten validation reviews: only those are scored, by the
    // guideline's rule.
    let valid = finetune::tag::train::read_tagged(&valid_file).unwrap();
    let mut gold = String::new();
    for (id, ex) in valid.iter().take(3) {
        let (file, index) = id.rsplit_once('#').unwrap();
        let mentions: Vec<serde_json::Value> = ex
            .spans
            .iter()
            .map(|s| serde_json::json!({"surface": &ex.text[s.start..s.end], "canonical": s.part}))
            .collect();
        gold.push_str(
            &serde_json::json!({"file": file, "index": index.parse::<i64>().unwrap(), "mentions": mentions})
                .to_string(),
        );
        gold.push('\n');
    }
    let annotations = dir.path().join("gold.jsonl");
    std::fs::write(&annotations, gold).unwrap();
    let cfg = TagConfig {
        base,
        train: train_file,
        valid: Some(valid_file),
        annotations: Some(annotations.clone()),
        out: dir.path().join("run"),
        hparams: HParams { epochs: 1, ..hparams() },
        o_weight: 0.5,
        resume: false,
        stop_after: None,
        device: Device::Cpu,
    };
    let s = train(&cfg, &Reporter::silent()).unwrap();
    assert_eq!((s.valid.against.as_str(), s.valid.examples), ("annotations", 3));

    // Annotations that name no validation review are refused, with the way out.
    std::fs::write(&annotations, "{\"file\": \"other.csv\", \"index\": 1, \"mentions\": []}\n")
        .unwrap();
    let cfg = TagConfig { out: dir.path().join("run2"), ..cfg };
    let err = train(&cfg, &Reporter::silent()).unwrap_err().to_string();
    assert!(err.contains("no validation review is annotated"), "{err}");
}

#[test]
fn a_dataset_that_is_not_for_tagging_is_refused_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny_bert(dir.path(), words());
    let train_file = dir.path().join("train.jsonl");
    std::fs::write(&train_file, "{\"prompt\": \"new tire ->\", \"completion\": \" tire END\"}\n")
        .unwrap();
    let cfg = TagConfig {
        base,
        train: train_file,
        valid: None,
        annotations: None,
        out: dir.path().join("run"),
        hparams: hparams(),
        o_weight: 1.0,
        resume: false,
        stop_after: None,
        device: Device::Cpu,
    };
    let err = train(&cfg, &Reporter::silent()).unwrap_err().to_string();
    assert!(err.contains("train.jsonl") && err.contains("line 1"), "{err}");
    assert!(err.contains("--format tagging"), "{err}");
    assert!(!dir.path().join("run").exists(), "nothing written");
}

#[test]
fn an_interrupted_tagger_run_resumes_to_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny_bert(dir.path(), words());
    let train_file = write_set(dir.path(), "train", 48, 1);
    let valid_file = write_set(dir.path(), "valid", 10, 2);
    let cfg = |out: &str| TagConfig {
        base: base.clone(),
        train: train_file.clone(),
        valid: Some(valid_file.clone()),
        annotations: None,
        out: dir.path().join(out),
        hparams: HParams {
            epochs: 2,
            eval_strategy: EvalStrategy::Steps,
            eval_steps: 3,
            ..hparams()
        },
        o_weight: 0.5,
        resume: false,
        stop_after: None,
        device: Device::Cpu,
    };
    let rep = Reporter::silent();
    let whole = train(&cfg("whole"), &rep).unwrap();
    let err = train(&TagConfig { stop_after: Some(7), ..cfg("parts") }, &rep).unwrap_err();
    assert!(err.to_string().contains("stopped after step 7"), "{err}");
    let resumed = train(&TagConfig { resume: true, ..cfg("parts") }, &rep).unwrap();
    assert_eq!((resumed.steps, resumed.best_step), (whole.steps, whole.best_step));
    assert_eq!(resumed.valid, whole.valid);
    let load = |out: &str| {
        candle_core::safetensors::load(dir.path().join(out).join("model.safetensors"), &Device::Cpu)
            .unwrap()
    };
    let (a, b) = (load("whole"), load("parts"));
    assert_eq!(a.len(), b.len());
    for (name, t) in &a {
        let diff = (t - &b[name]).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() <= 1e-6, "{name} differs after resuming");
    }
    // A resume with another O weight would be another run: refused.
    train(&TagConfig { stop_after: Some(4), ..cfg("other") }, &rep).unwrap_err();
    let err = train(&TagConfig { resume: true, o_weight: 1.0, ..cfg("other") }, &rep)
        .unwrap_err()
        .to_string();
    assert!(err.contains("differ from the checkpoint"), "{err}");
}

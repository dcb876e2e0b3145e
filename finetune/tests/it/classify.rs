//! `classify`: tiny random models of each architecture (BERT, DistilBERT, RoBERTa and a Llama
//! decoder) written here with a WordPiece tokenizer, their gradients, and training to a
//! separable fixture.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use finetune::classify::model::{Arch, ClassifierDir};
use finetune::classify::train::{train, ClassifyConfig, ClassifyHParams, EvalStrategy};
use finetune::models::bert::Dropout;
use finetune::rng::Rng;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::Tokenizer;

use super::fixture;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Bert,
    /// BERT saved as sentence-transformers does: names without the `bert.` prefix.
    BertNoPrefix,
    DistilBert,
    Roberta,
    /// A Llama decoder with last-token pooling (`score.weight`).
    Llama,
}

const ALL: [Kind; 5] =
    [Kind::Bert, Kind::BertNoPrefix, Kind::DistilBert, Kind::Roberta, Kind::Llama];

/// The fixture's words, sorted.
fn fixture_words() -> Vec<String> {
    let text = std::fs::read_to_string(fixture("tickets.csv")).unwrap();
    let mut words: Vec<String> = text
        .lines()
        .skip(1)
        .flat_map(|l| {
            l.split(',').next().unwrap().split_whitespace().map(str::to_owned).collect::<Vec<_>>()
        })
        .collect();
    words.sort();
    words.dedup();
    words
}

/// Writes a tiny random base model (no classification head) of `kind` into `dir/NAME`.
fn tiny_encoder(dir: &Path, kind: Kind) -> PathBuf {
    tiny_encoder_with(dir, kind, fixture_words())
}

/// A tiny BERT base model (no head) whose WordPiece vocabulary is `words`.
pub fn tiny_bert(dir: &Path, words: Vec<String>) -> PathBuf {
    tiny_encoder_with(dir, Kind::Bert, words)
}

fn tiny_encoder_with(dir: &Path, kind: Kind, words: Vec<String>) -> PathBuf {
    let out = dir.join(format!("{kind:?}").to_lowercase());
    std::fs::create_dir_all(&out).unwrap();
    let roberta = kind == Kind::Roberta;
    let specials: &[&str] = if roberta {
        &["<s>", "<pad>", "</s>", "<unk>"]
    } else {
        &["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    };
    let mut vocab: Vec<String> = specials.iter().map(|s| (*s).to_owned()).collect();
    vocab.extend(words);
    let v = vocab.len();
    let vocab_path = out.join("vocab.txt");
    std::fs::write(&vocab_path, vocab.join("\n") + "\n").unwrap();
    let unk = if roberta { "<unk>" } else { "[UNK]" };
    let wp =
        WordPiece::from_file(vocab_path.to_str().unwrap()).unk_token(unk.into()).build().unwrap();
    let mut tok = Tokenizer::new(wp);
    tok.with_normalizer(Some(BertNormalizer::default()));
    tok.with_pre_tokenizer(Some(BertPreTokenizer));
    let (cls, sep) = if roberta { (("<s>", 0), ("</s>", 2)) } else { (("[CLS]", 2), ("[SEP]", 3)) };
    tok.with_post_processor(Some(BertProcessing::new(
        (sep.0.to_owned(), sep.1),
        (cls.0.to_owned(), cls.1),
    )));
    tok.save(out.join("tokenizer.json"), false).unwrap();
    let config = match kind {
        Kind::Bert | Kind::BertNoPrefix => serde_json::json!({
            "model_type": "bert", "architectures": ["BertModel"], "vocab_size": v,
            "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
            "intermediate_size": 64, "max_position_embeddings": 64, "type_vocab_size": 2,
            "pad_token_id": 0, "hidden_act": "gelu"
        }),
        Kind::DistilBert => serde_json::json!({
            "model_type": "distilbert", "vocab_size": v, "dim": 32, "n_layers": 2, "n_heads": 4,
            "hidden_dim": 64, "max_position_embeddings": 64, "pad_token_id": 0
        }),
        Kind::Roberta => serde_json::json!({
            "model_type": "roberta", "vocab_size": v, "hidden_size": 32, "num_hidden_layers": 2,
            "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 66,
            "type_vocab_size": 1, "pad_token_id": 1, "layer_norm_eps": 1e-5
        }),
        Kind::Llama => serde_json::json!({
            "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": v,
            "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64,
            "rms_norm_eps": 1e-5, "tie_word_embeddings": false, "eos_token_id": 3
        }),
    };
    std::fs::write(out.join("config.json"), serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    // Build the whole classifier from a VarMap to learn every name and shape, give it seeded
    // random values, and save the backbone only (a base model has no classification head).
    let arch = Arch::from_config(&out.join("config.json"), &config).unwrap();
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    match &arch {
        Arch::Bert(c) => {
            finetune::models::bert::BertForSequenceClassification::new(c, 3, vb).unwrap();
        }
        Arch::DistilBert(c) => {
            finetune::models::distilbert::DistilBertForSequenceClassification::new(c, 3, vb)
                .unwrap();
        }
        Arch::Roberta(c, _) => {
            finetune::models::roberta::RobertaForSequenceClassification::new(c, 3, vb).unwrap();
        }
        Arch::Decoder(d) => {
            finetune::models::llama::LlamaForSequenceClassification::new(&d.config, 3, vb).unwrap();
        }
    }
    let mut rng = Rng::new(7);
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    // Sorted, so that the seeded values land on the same tensors in every run.
    let mut vars: Vec<(String, candle_core::Var)> =
        varmap.data().lock().unwrap().iter().map(|(n, v)| (n.clone(), v.clone())).collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, var) in &vars {
        let head = ["classifier.", "pre_classifier.", "score."];
        if head.iter().any(|h| name.starts_with(h)) {
            continue;
        }
        let shape = var.shape().clone();
        let norm_weight =
            ["LayerNorm.weight", "layer_norm.weight", "layernorm.weight", "norm.weight"]
                .iter()
                .any(|n| name.ends_with(n));
        let values: Vec<f32> = (0..shape.elem_count())
            .map(|_| if norm_weight { 1.0 } else { (rng.normal() * 0.05) as f32 })
            .collect();
        let name = match kind {
            Kind::BertNoPrefix => name.trim_start_matches("bert.").to_owned(),
            _ => name.clone(),
        };
        tensors.insert(name, Tensor::from_vec(values, shape, &Device::Cpu).unwrap());
    }
    candle_core::safetensors::save(&tensors, out.join("model.safetensors")).unwrap();
    out
}

#[test]
fn every_parameter_of_each_architecture_gets_a_gradient() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ALL {
        let base = ClassifierDir::open(&tiny_encoder(dir.path(), kind)).unwrap();
        let (model, params, initialised) = base.load(3, 0, &Device::Cpu).unwrap();
        assert_eq!(
            initialised.len(),
            match kind {
                Kind::Bert | Kind::BertNoPrefix => 2,
                Kind::Llama => 1,
                _ => 4,
            },
            "{kind:?}: {initialised:?}"
        );
        let tok = base.tokenizer_for(16).unwrap();
        let texts = vec!["my invoice is wrong".to_owned(), "app crashes".to_owned()];
        let seqs = finetune::classify::predict::encode_texts(&tok, &texts).unwrap();
        let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
        let (ids, mask) =
            finetune::classify::predict::make_batch(&refs, base.arch.pad_id(), None, &Device::Cpu)
                .unwrap();
        let logits = model.forward(&ids, &mask, Some(&Dropout::new(0, 1))).unwrap();
        assert_eq!(logits.dims(), [2, 3]);
        let targets = Tensor::new(&[0u32, 1], &Device::Cpu).unwrap();
        let loss = candle_nn::loss::cross_entropy(&logits, &targets).unwrap();
        let grads = loss.backward().unwrap();
        for (name, var) in &params.vars {
            let g = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("{kind:?}: no gradient for {name}"));
            let norm = g.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(norm > 0.0 && norm.is_finite(), "{kind:?}: gradient of {name} is {norm}");
        }
        // Padding does not change a sequence's logits (the mask works).
        let alone = model
            .forward(
                &ids.narrow(0, 1, 1).unwrap().narrow(1, 0, seqs[1].len()).unwrap(),
                &mask.narrow(0, 1, 1).unwrap().narrow(1, 0, seqs[1].len()).unwrap(),
                None,
            )
            .unwrap();
        let batched = model.forward(&ids, &mask, None).unwrap().narrow(0, 1, 1).unwrap();
        let diff = (alone - batched)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-4, "{kind:?}: padding changed the logits by {diff}");
    }
}

#[test]
fn tiny_models_of_each_architecture_learn_a_separable_fixture() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ALL {
        let base = tiny_encoder(dir.path(), kind);
        let out = dir.path().join(format!("run-{kind:?}"));
        let cfg = ClassifyConfig {
            base: base.clone(),
            train: fixture("tickets.csv"),
            // Scoring the training file itself measures training accuracy.
            valid: Some(fixture("tickets.csv")),
            test: None,
            out: out.clone(),
            columns: Default::default(),
            labels: Some(vec!["praise".into(), "billing".into(), "bug".into()]),
            hparams: ClassifyHParams {
                epochs: 40,
                train_batch_size: 8,
                learning_rate: 2e-3,
                eval_strategy: EvalStrategy::Epoch,
                max_length: 16,
                seed: 3,
                ..ClassifyHParams::default()
            },
            baseline: true,
            resume: false,
            stop_after: None,
            device: Device::Cpu,
        };
        let s = train(&cfg, &finetune::progress::Reporter::silent()).unwrap();
        assert_eq!(s.valid.accuracy, 1.0, "{kind:?}: {:?}", s.valid.confusion);
        assert_eq!(s.valid.labels, ["praise", "billing", "bug"]);

        // The run directory is a Hugging Face classifier.
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
        let class = match kind {
            Kind::Bert | Kind::BertNoPrefix => "BertForSequenceClassification",
            Kind::DistilBert => "DistilBertForSequenceClassification",
            Kind::Roberta => "RobertaForSequenceClassification",
            Kind::Llama => "LlamaForSequenceClassification",
        };
        assert_eq!(config["architectures"][0], class);
        assert_eq!(config["id2label"]["1"], "billing");
        assert_eq!(config["label2id"]["bug"], 2);
        let weights =
            candle_core::safetensors::load(out.join("model.safetensors"), &Device::Cpu).unwrap();
        let prefix = match kind {
            Kind::Bert | Kind::BertNoPrefix => "bert.",
            Kind::DistilBert => "distilbert.",
            Kind::Roberta => "roberta.",
            Kind::Llama => "model.",
        };
        assert!(
            weights.keys().all(|k| k.starts_with(prefix)
                || k.starts_with("classifier.")
                || k.starts_with("pre_classifier.")
                || k.starts_with("score.")),
            "{:?}",
            weights.keys()
        );
        assert!(weights.contains_key(match kind {
            Kind::Roberta => "classifier.out_proj.weight",
            Kind::Llama => "score.weight",
            _ => "classifier.weight",
        }));
        if kind == Kind::Llama {
            // transformers finds each sequence's last token through pad_token_id.
            assert_eq!(config["pad_token_id"], 3, "eos_token_id stands in for a missing pad");
        }
        for f in [
            "tokenizer.json",
            "metrics.json",
            "log.csv",
            "training_info.txt",
            "baseline_metrics.json",
        ] {
            assert!(out.join(f).exists(), "{kind:?}: no {f}");
        }
        if eval::plot::font::use_font(None).is_ok() {
            let png = std::fs::read(out.join("confusion_matrix.png")).unwrap();
            assert_eq!(&png[1..4], b"PNG");
        }
        let metrics: eval::classification::ClassificationReport =
            serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
        assert_eq!(metrics.correct, 24);

        // The training length is recorded where Hugging Face keeps it, and prediction reads it.
        let saved = finetune::classify::model::ClassifierDir::open(&out).unwrap();
        assert_eq!(saved.model_max_length, Some(16), "{kind:?}");

        // Prediction from the saved directory agrees with training's evaluation.
        let preds = finetune::classify::predict::predict_file(
            &finetune::classify::predict::PredictConfig {
                model: out.clone(),
                input: fixture("tickets.csv"),
                out: dir.path().join("preds.jsonl"),
                columns: Default::default(),
                batch_size: 5,
                // The length it was trained with (16) is recorded and used.
                max_length: None,
                device: Device::Cpu,
            },
        )
        .unwrap();
        assert_eq!(preds.len(), 24);
        assert!(preds.iter().all(|p| p.label.as_deref() == Some(p.predicted.as_str())), "{kind:?}");
        let line = std::fs::read_to_string(dir.path().join("preds.jsonl")).unwrap();
        let first: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
        assert_eq!(first["id"], "tickets.csv#2");
        let p = first["probabilities"].as_object().unwrap();
        assert_eq!(p.len(), 3);
        let total: f64 = p.values().map(|v| v.as_f64().unwrap()).sum();
        assert!((total - 1.0).abs() < 1e-4, "{total}");
    }
}

#[test]
fn an_interrupted_run_resumes_exactly() {
    use finetune::classify::train::SaveStrategy;
    let dir = tempfile::tempdir().unwrap();
    let base = tiny_encoder(dir.path(), Kind::Bert);
    let cfg = |out: &str| ClassifyConfig {
        base: base.clone(),
        train: fixture("tickets.csv"),
        valid: Some(fixture("tickets.csv")),
        test: None,
        out: dir.path().join(out),
        columns: Default::default(),
        labels: Some(vec!["praise".into(), "billing".into(), "bug".into()]),
        hparams: ClassifyHParams {
            epochs: 3,
            train_batch_size: 8,
            learning_rate: 2e-3,
            eval_strategy: EvalStrategy::Steps,
            eval_steps: 2,
            save_strategy: SaveStrategy::Best,
            max_length: 16,
            seed: 3,
            ..ClassifyHParams::default()
        },
        baseline: false,
        resume: false,
        stop_after: None,
        device: Device::Cpu,
    };
    let rep = finetune::progress::Reporter::silent();
    let whole = train(&cfg("whole"), &rep).unwrap();

    // Killed after step 5: the newest checkpoint is step 4's (evaluations every 2 steps).
    let err = train(&ClassifyConfig { stop_after: Some(5), ..cfg("parts") }, &rep).unwrap_err();
    assert!(err.to_string().contains("stopped after step 5"), "{err}");
    let again = train(&cfg("parts"), &rep).unwrap_err().to_string();
    assert!(again.contains("--resume"), "a fresh start over an unfinished run: {again}");
    let resumed = train(&ClassifyConfig { resume: true, ..cfg("parts") }, &rep).unwrap();

    assert_eq!((resumed.steps, resumed.best_step), (whole.steps, whole.best_step));
    assert_eq!(resumed.valid, whole.valid);
    let columns = |out: &str| -> Vec<String> {
        // step, epoch, learning rate, loss, gradient norm, accuracy, macro F1 (not the timings).
        std::fs::read_to_string(dir.path().join(out).join("log.csv"))
            .unwrap()
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                [&f[..5], &f[6..8]].concat().join(",")
            })
            .collect()
    };
    assert_eq!(columns("parts"), columns("whole"));
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
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("parts"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("checkpoint-"))
        .collect();
    assert!(leftovers.is_empty(), "the finished run keeps no resumable checkpoint");
}

use eval::compare::{comparison_table, summarize_run};

use crate::copy_runs;

#[test]
fn runs_are_summarised_from_whatever_files_they_have() {
    let (tmp, dirs) = copy_runs(&["round1", "round2"]);
    // The lineage file as finetune writes it (`RunsIndex`), plus a duration it may add later.
    std::fs::write(
        tmp.path().join("runs/index.json"),
        r#"{"rounds": [
            {"name": "round1", "parent": null, "base": "models/SmolLM2-135M",
             "pool": {"path": "out/pool.jsonl", "sha256": "aa", "rows": 5000},
             "train": {"path": "runs/round1/train.jsonl", "sha256": "bb", "rows": 240},
             "hparams": {"epochs": 2}, "metrics": {"steps": 60}},
            {"name": "round2", "parent": "round1", "base": "runs/round1",
             "pool": {"path": "out/pool.jsonl", "sha256": "aa", "rows": 5000},
             "train": {"path": "runs/round2/train.jsonl", "sha256": "cc", "rows": 480},
             "hparams": {"epochs": 1}, "metrics": {"steps": 60}, "duration_s": 95}
        ]}"#,
    )
    .unwrap();
    std::fs::write(
        dirs[1].join("scores.json"),
        serde_json::to_string(&crate::score::fixture_report("score/gold.jsonl")).unwrap(),
    )
    .unwrap();
    let broken = tmp.path().join("runs/broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("hparams.json"), "{not json").unwrap();

    let r1 = summarize_run(&dirs[0]).unwrap();
    let r2 = summarize_run(&dirs[1]).unwrap();
    let rb = summarize_run(&broken).unwrap();
    assert!(
        r1.warnings.is_empty() && r2.warnings.is_empty(),
        "{:?} {:?}",
        r1.warnings,
        r2.warnings
    );

    assert_eq!(r1.base_model.as_deref(), Some("models/SmolLM2-135M"));
    assert_eq!(
        (r1.parent.as_deref(), r1.rows, r1.epochs, r1.steps, r1.examples_seen),
        (None, Some(240), Some(2.0), Some(60), Some(480))
    );
    assert_eq!(r1.duration_s, None);
    // Last validation row of round1/results.csv (step 60).
    assert_eq!(r1.val_loss, Some(0.5031));
    assert_eq!(r1.test_micro_f1, None);

    // The parent comes from the lineage file; rows are the training rows, not the pool's.
    assert_eq!(
        (r2.parent.as_deref(), r2.rows, r2.epochs, r2.duration_s),
        (Some("round1"), Some(480), Some(1.0), Some(95.0))
    );
    assert!((r2.test_micro_f1.unwrap() - 2.0 / 3.0).abs() < 1e-12);
    assert!((r2.heldout_recall.unwrap() - 1.0 / 3.0).abs() < 1e-12);

    // Without hparams.json, the lineage entry alone still gives the training rows.
    std::fs::remove_file(dirs[1].join("hparams.json")).unwrap();
    assert_eq!(summarize_run(&dirs[1]).unwrap().rows, Some(480));

    assert_eq!(rb.rows, None);
    assert_eq!(rb.warnings.len(), 1, "{:?}", rb.warnings);
    assert!(rb.warnings[0].contains("hparams.json: not JSON"), "{:?}", rb.warnings);

    let table = comparison_table(&[r1, r2, rb]);
    let md = table.to_markdown();
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(lines.len(), 5, "{md}");
    assert!(lines[0].starts_with("| run | parent | base model | rows | epochs |"), "{md}");
    assert!(lines[3].starts_with("| round2 | round1 | runs/round1 | 480 | 1 | 60 |"), "{md}");
    assert!(lines[3].contains("| 0.6667 | 0.5833 | 0.3333 | 0.7500 | 95 |"), "{md}");
    assert!(lines[4].starts_with("| broken |  |  |"), "{md}");
    let csv = table.to_csv().unwrap();
    assert_eq!(csv.lines().count(), 4);
    assert!(
        csv.lines().nth(1).unwrap().starts_with("round1,,models/SmolLM2-135M,240,2,60,480,"),
        "{csv}"
    );
}

#[test]
fn train_metrics_are_the_mean_of_the_last_ten_steps() {
    let (_tmp, dirs) = copy_runs(&["round1"]);
    let rows = records::run::read_results(&dirs[0].join("results.csv")).unwrap();
    let want = rows[50..].iter().map(|r| r.training_loss).sum::<f64>() / 10.0;
    let got = summarize_run(&dirs[0]).unwrap().train_loss.unwrap();
    assert!((got - want).abs() < 1e-12, "{got} != {want}");
}

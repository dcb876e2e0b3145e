use eval::compare::{comparison_table, summarize_run};

use crate::copy_runs;

#[test]
fn runs_are_summarised_from_whatever_files_they_have() {
    let (tmp, dirs) = copy_runs(&["round1", "round2"]);
    // A lineage file in a shape finetune might write; it adds round2's duration.
    std::fs::write(
        tmp.path().join("runs/index.json"),
        r#"{"runs": [{"run": "runs/round2", "parent": "round1", "final_metrics": {"duration_s": 95}}]}"#,
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

    assert_eq!(r1.base_model.as_deref(), Some("HuggingFaceTB/SmolLM2-135M"));
    assert_eq!(
        (r1.rows, r1.epochs, r1.steps, r1.examples_seen),
        (Some(240), Some(2.0), Some(60), Some(480))
    );
    assert_eq!(r1.duration_s, Some(312.4));
    // Last validation row of round1/results.csv (step 60).
    assert_eq!(r1.val_loss, Some(0.5031));
    assert_eq!(r1.test_micro_f1, None);

    // Nested hyper-parameters and the lineage file are both read.
    assert_eq!(
        (r2.parent.as_deref(), r2.epochs, r2.duration_s),
        (Some("round1"), Some(1.0), Some(95.0))
    );
    assert!((r2.test_micro_f1.unwrap() - 2.0 / 3.0).abs() < 1e-12);
    assert!((r2.heldout_recall.unwrap() - 1.0 / 3.0).abs() < 1e-12);

    assert_eq!(rb.rows, None);
    assert_eq!(rb.warnings.len(), 1, "{:?}", rb.warnings);
    assert!(rb.warnings[0].contains("hparams.json: not JSON"), "{:?}", rb.warnings);

    let table = comparison_table(&[r1, r2, rb]);
    let md = table.to_markdown();
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(lines.len(), 5, "{md}");
    assert!(lines[0].starts_with("| run | parent | base model | rows | epochs |"), "{md}");
    assert!(
        lines[3].starts_with("| round2 | round1 | HuggingFaceTB/SmolLM2-135M | 480 | 1 | 60 |"),
        "{md}"
    );
    assert!(lines[3].contains("| 0.6667 | 0.5833 | 0.3333 | 0.7500 | 95 |"), "{md}");
    assert!(lines[4].starts_with("| broken |  |  |"), "{md}");
    let csv = table.to_csv().unwrap();
    assert_eq!(csv.lines().count(), 4);
    assert!(
        csv.lines().nth(1).unwrap().starts_with("round1,,HuggingFaceTB/SmolLM2-135M,240,2,60,480,"),
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

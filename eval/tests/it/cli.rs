//! The binary: exit codes, stdout/stderr split, files written.

use std::process::{Command, Output};

use crate::{copy_runs, fixture};

fn eval(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eval")).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn score_prints_json_and_writes_scores_json_into_a_run_dir() {
    let (_tmp, dirs) = copy_runs(&["round1"]);
    let run = dirs[0].to_str().unwrap();
    let o = eval(&[
        "score",
        "--predictions",
        fixture("score/predictions.jsonl").to_str().unwrap(),
        "--gold",
        fixture("score/labeled.csv").to_str().unwrap(),
        "--heldout-parts",
        fixture("score/heldout.txt").to_str().unwrap(),
        "--json",
        "--out",
        run,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let printed: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(printed["exact_match"], 0.4);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dirs[0].join("scores.json")).unwrap())
            .unwrap();
    assert_eq!(written, printed);
    // The unscored ids are reported on stderr, not mixed into the data.
    assert!(stderr(&o).contains("1 predictions have no gold, 1 gold examples have no prediction"));

    let o = eval(&["compare", "--format", "csv", run]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).lines().nth(1).unwrap().contains(",0.4000,0.6667,0.5833,0.3333,0.7500,"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn errors_exit_2_with_a_lower_case_message_on_stderr() {
    let o = eval(&["score", "--predictions", "/nonexistent/predictions.jsonl"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let err = stderr(&o);
    assert!(err.starts_with("error: /nonexistent/predictions.jsonl: "), "{err}");

    // Predictions without embedded gold need --gold.
    let o = eval(&["score", "--predictions", fixture("score/predictions.jsonl").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("carries no gold parts; pass --gold FILE"), "{}", stderr(&o));

    let (_tmp, dirs) = copy_runs(&["round1"]);
    let out = dirs[0].join("charts");
    let o = eval(&[
        "curves",
        dirs[0].to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--font",
        "/nonexistent/font.ttf",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("error: /nonexistent/font.ttf: "), "{}", stderr(&o));

    let o = eval(&["compare", "/nonexistent/run"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no such run directory"), "{}", stderr(&o));
}

#[test]
fn curves_report_and_compare_take_a_runs_glob_with_the_lineage_file_in_it() {
    let (tmp, dirs) = copy_runs(&["round1", "round2"]);
    let index = tmp.path().join("runs/index.json");
    std::fs::write(&index, "[]").unwrap();
    let mut args: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    args.push(index.display().to_string());

    let out = tmp.path().join("charts");
    let mut curves = vec!["curves".to_string(), "--out".into(), out.display().to_string()];
    curves.extend(args.iter().cloned());
    let o = eval(&curves.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 6);
    assert!(out.join("loss_by_step.png").is_file());
    assert!(stderr(&o).contains("index.json is not a directory, skipped"));

    let html = tmp.path().join("report.html");
    let mut report =
        vec!["report".to_string(), "--quiet".into(), "--out".into(), html.display().to_string()];
    report.extend(args.iter().cloned());
    let o = eval(&report.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "--quiet: {}", stderr(&o));
    assert!(std::fs::read_to_string(&html).unwrap().contains("data:image/png;base64,"));

    let csv = tmp.path().join("compare.csv");
    let mut compare = vec!["compare".to_string(), "--csv".into(), csv.display().to_string()];
    compare.extend(args.iter().cloned());
    let o = eval(&compare.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 4, "{}", stdout(&o));
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 3);
}

#[test]
fn classify_prints_metrics_and_draws_the_confusion_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("confusion.png");
    let o = eval(&[
        "classify",
        "--predictions",
        fixture("classify/predictions.jsonl").to_str().unwrap(),
        "--labels",
        fixture("classify/labels.txt").to_str().unwrap(),
        "--confusion",
        png.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("accuracy      0.6667 (4/6)"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("card_arrival") && l.ends_with("1.000   0.667   0.800")),
        "{text}"
    );
    assert!(png.is_file() && dir.path().join("classification.json").is_file());
}

/// `eval score --annotations` on a labeled table and on predictions.jsonl, against a fixture
/// whose numbers were computed by hand by the guideline's rule:
///
/// - `a.csv#1`, mentions {tyres -> tire, a/c -> air conditioning}; the table says
///   [tire, steering]: 1 correct, 1 false positive, 1 of 2 mentions found;
/// - `a.csv#2`, no mention; the table says [four-wheel drive]: 1 false positive;
/// - `b.csv#7`, mentions {v6 -> engine, rims -> wheel}; the table
///   says [wheels]: "wheels" normalises to "wheel", the canonical of "rims": 1 correct, 1 of 2.
///
/// P = 2 / 4 = 0.500, R = 2 / 4 = 0.500, F1 = 0.500.
#[test]
fn score_against_hand_annotations_by_the_guideline_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let gold = tmp.path().join("gold.jsonl");
    std::fs::write(
        &gold,
        concat!(
            r#"{"file": "a.csv", "index": 1, "mentions": [{"surface": "tyres", "canonical": "tire"}, {"surface": "a/c", "canonical": "air conditioning"}]}"#,
            "\n",
            r#"{"file": "a.csv", "index": 2, "mentions": []}"#,
            "\n",
            r#"{"file": "b.csv", "index": 7, "mentions": [{"surface": "v6", "canonical": "engine"}, {"surface": "rims", "canonical": "wheel"}]}"#,
            "\n"
        ),
    )
    .unwrap();
    let table = tmp.path().join("labeled.csv");
    std::fs::write(
        &table,
        "index,Review,source_file,List_part,Count_part\n\
         1,\"New tyres, and the steering is vague; the a/c died.\",a.csv,\"[\"\"tire\"\", \"\"steering\"\"]\",2\n\
         2,Four-wheel drive is great.,a.csv,\"[\"\"four-wheel drive\"\"]\",1\n\
         7,The V6 on new wheels.,data/b.csv,\"[\"\"wheels\"\"]\",1\n",
    )
    .unwrap();
    let predictions = tmp.path().join("predictions.jsonl");
    std::fs::write(
        &predictions,
        concat!(
            r#"{"id": "a.csv#1", "completion": "", "parts": ["tire", "steering"]}"#,
            "\n",
            r#"{"id": "a.csv#2", "completion": "", "parts": ["four-wheel drive"]}"#,
            "\n",
            r#"{"id": "b.csv#7", "completion": "", "parts": ["wheels"]}"#,
            "\n"
        ),
    )
    .unwrap();
    for extracted in [&table, &predictions] {
        let o = eval(&[
            "score",
            "--predictions",
            extracted.to_str().unwrap(),
            "--annotations",
            gold.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        assert!(text.contains("3 reviews (0 without a prediction), 4 mentions"), "{text}");
        assert!(text.contains("precision 0.500  recall 0.500  F1 0.500"), "{text}");
        assert!(text.contains("(2 correct, 2 false positives; 2 of 4 mentions found)"), "{text}");
        assert!(
            text.contains("a/c -> air conditioning") && text.contains("v6 -> engine"),
            "{text}"
        );
        if extracted == &table {
            assert!(text.contains("a.csv#1: New tyres, and the [steering] is vague;"), "{text}");
        }
    }
    let o = eval(&[
        "score",
        "--predictions",
        predictions.to_str().unwrap(),
        "--annotations",
        gold.to_str().unwrap(),
        "--gold",
        table.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "--gold and --annotations are two different scorings");
}

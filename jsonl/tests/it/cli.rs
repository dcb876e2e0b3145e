//! The binary: exit codes, `--json`, and an export → exclude → validate round.

use std::path::Path;
use std::process::{Command, Output};

use crate::fixture;

fn jsonl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jsonl")).args(args).output().unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn validate_exit_codes_are_0_clean_1_errors_2_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.jsonl");
    std::fs::write(&clean, "{\"prompt\":\"a b ->\",\"completion\":\" tire END\"}\n{\"prompt\":\"c d ->\",\"completion\":\" hood END\"}\n").unwrap();
    let out = jsonl(&["validate", path(&clean)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));

    let planted = fixture("planted_legacy.jsonl");
    let out = jsonl(&["validate", path(&planted)]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("planted_legacy.jsonl:6: error[key_case]: Prompt: "), "{text}");

    let out = jsonl(&["validate", path(&dir.path().join("missing.jsonl"))]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("error: ") && err.contains("missing.jsonl"), "{err}");
}

#[test]
fn validate_json_report_and_tokenizer_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let tokenizer = dir.path().join("tokenizer.json");
    jsonl::tokens::test_tokenizer().save(&tokenizer, false).unwrap();
    let out = jsonl(&[
        "validate",
        path(&fixture("planted_chat.jsonl")),
        "--json",
        "--tokenizer",
        path(&tokenizer),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["format"], "chat");
    assert_eq!(report["lines"], 20);
    // Line 8 has no assistant, nor has line 17 (whose only message is not an object).
    assert_eq!(report["counts"]["missing_assistant"], 2);
    // Valid chat lines are counted: 1, 10, 11, 15, 16 (and the others have errors).
    assert!(report["tokens"]["per_example"]["max"].as_u64().unwrap() > 0);
    assert_eq!(report["tokens"]["epochs"], 20);
}

#[test]
fn export_rounds_with_exclude_then_validate() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("labeled.csv");
    let round1 = dir.path().join("round1");
    let out = jsonl(&[
        "export",
        "--input",
        path(&input),
        "--format",
        "legacy",
        "--out",
        path(&round1),
        "--split",
        "1,0,0",
        "--rows",
        "4",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "export prints logs on stderr only");
    let ids1 = std::fs::read_to_string(round1.join("train.ids")).unwrap();
    assert_eq!(ids1.lines().count(), 4);
    assert!(!round1.join("valid.jsonl").exists(), "a split of fraction 0 is not written");

    let round2 = dir.path().join("round2");
    let exclude = round1.join("train.ids");
    let out = jsonl(&[
        "export",
        "--input",
        path(&input),
        "--out",
        path(&round2),
        "--split",
        "1,0,0",
        "--exclude",
        path(&exclude),
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty());
    let ids2 = std::fs::read_to_string(round2.join("train.ids")).unwrap();
    assert_eq!(ids2.lines().count(), 6);
    assert!(ids2.lines().all(|id| !ids1.lines().any(|used| used == id)));

    let out = jsonl(&["validate", path(&round2.join("train.jsonl"))]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));

    let out =
        jsonl(&["export", "--input", path(&input), "--out", path(&round2), "--split", "0.5,0.6,0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--split"));
}

#[test]
fn an_export_owns_its_directory_and_refuses_empty_input_and_its_own_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("labeled.csv");
    let ds = dir.path().join("ds");
    let export = |out: &Path, split: &str| {
        jsonl(&["export", "--input", path(&input), "--out", path(out), "--split", split])
    };
    let ok = |out: &Output| {
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr))
    };
    ok(&export(&ds, "0.5,0.25,0.25"));
    assert!(ds.join("test.jsonl").is_file() && ds.join("test.ids").is_file());
    // Exported again with every review in training: the old test split must not stay beside
    // the new training split, or every old test review would be trained on and tested on.
    ok(&export(&ds, "1,0,0"));
    let names: Vec<String> = {
        let mut n: Vec<String> = std::fs::read_dir(&ds)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names, ["manifest.json", "train.ids", "train.jsonl"]);

    // A directory with split files that no export wrote is not taken over.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("train.jsonl"), "{\"prompt\": \"mine\"}\n").unwrap();
    let out = export(&foreign, "1,0,0");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("holds train.jsonl but no manifest.json"), "{err}");
    assert_eq!(
        std::fs::read_to_string(foreign.join("train.jsonl")).unwrap(),
        "{\"prompt\": \"mine\"}\n"
    );

    // A table without a review: an error, not three empty splits.
    let empty = dir.path().join("empty.csv");
    let header = std::fs::read_to_string(&input).unwrap().lines().next().unwrap().to_owned();
    std::fs::write(&empty, format!("{header}\n")).unwrap();
    let out = jsonl(&["export", "--input", path(&empty), "--out", path(&dir.path().join("e"))]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("empty.csv: no example to export (0 reviews read"), "{err}");
    assert!(!dir.path().join("e/train.jsonl").exists());

    // The output directory may not be (or hold) the input.
    let out = jsonl(&["export", "--input", path(&input), "--out", path(input.parent().unwrap())]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("would replace the input"), "{err}");
}

#[test]
fn hand_annotated_reviews_are_selected_alone_or_kept_out_of_training() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("labeled.csv");
    let gold = dir.path().join("gold.jsonl");
    std::fs::write(
        &gold,
        "{\"file\": \"Scraped_Car_Review_testa.csv\", \"index\": 0, \"mentions\": []}\n\
         {\"file\": \"Scraped_Car_Review_testa.csv\", \"index\": 3, \"mentions\": []}\n",
    )
    .unwrap();
    let only = dir.path().join("only");
    let out = jsonl(&[
        "export",
        "--input",
        path(&input),
        "--out",
        path(&only),
        "--only",
        path(&gold),
        "--split",
        "0,0,1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let ids = std::fs::read_to_string(only.join("test.ids")).unwrap();
    let mut ids: Vec<&str> = ids.lines().collect();
    ids.sort();
    assert_eq!(ids, ["Scraped_Car_Review_testa.csv#0", "Scraped_Car_Review_testa.csv#3"]);
    let manifest = std::fs::read_to_string(only.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"not_selected\": "), "{manifest}");

    let rest = dir.path().join("rest");
    let out = jsonl(&[
        "export",
        "--input",
        path(&input),
        "--out",
        path(&rest),
        "--exclude",
        path(&gold),
        "--split",
        "1,0,0",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let train = std::fs::read_to_string(rest.join("train.ids")).unwrap();
    assert!(!train.lines().any(|id| ids.contains(&id)), "{train}");
    assert!(train.lines().count() > 5);
}

#[test]
fn tagging_export_maps_label_spans_into_the_normalised_text() {
    let dir = tempfile::tempdir().unwrap();
    // A table as `label --spans` writes it: byte offsets into the raw review, whose line break
    // and double spaces the export normalises away; a title mention is left out.
    let review = "Great car.\nThe seats  are comfy, the a/c   died.";
    let seats = review.find("seats").unwrap();
    let ac = review.find("a/c").unwrap();
    let spans = serde_json::json!([
        {"part": "roof", "text": "Roof", "field": "Review_Title", "start": 0, "end": 4},
        {"part": "seat", "text": "seats", "field": "Review", "start": seats, "end": seats + 5},
        {"part": "air conditioning", "text": "a/c", "field": "Review", "start": ac, "end": ac + 3},
    ]);
    let mut w = csv::Writer::from_path(dir.path().join("labeled.csv")).unwrap();
    w.write_record([
        "index",
        "Review_Title",
        "Review",
        "source_file",
        "List_part",
        "Count_part",
        "Spans_part",
    ])
    .unwrap();
    w.write_record([
        "0",
        "Roof leaks",
        review,
        "t.csv",
        "[\"seat\",\"air conditioning\"]",
        "2",
        &spans.to_string(),
    ])
    .unwrap();
    w.write_record(["1", "", "Nothing to see.", "t.csv", "[]", "0", "[]"]).unwrap();
    w.flush().unwrap();
    drop(w);
    let labeled = dir.path().join("labeled.csv");
    let out_dir = dir.path().join("ds");
    let out = jsonl(&[
        "export",
        "--input",
        path(&labeled),
        "--format",
        "tagging",
        "--split",
        "1,0,0",
        "--out",
        path(&out_dir),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(out_dir.join("train.jsonl")).unwrap();
    let ids = std::fs::read_to_string(out_dir.join("train.ids")).unwrap();
    let examples: Vec<(String, records::dataset::TaggedExample)> = ids
        .lines()
        .map(str::to_owned)
        .zip(text.lines().map(|l| serde_json::from_str(l).unwrap()))
        .collect();
    let (_, ex) = examples.iter().find(|(id, _)| id == "t.csv#0").unwrap();
    assert_eq!(ex.text, "Great car. The seats are comfy, the a/c died.");
    let shown: Vec<(&str, &str)> =
        ex.spans.iter().map(|s| (&ex.text[s.start..s.end], s.part.as_str())).collect();
    assert_eq!(shown, [("seats", "seat"), ("a/c", "air conditioning")]);
    let (_, negative) = examples.iter().find(|(id, _)| id == "t.csv#1").unwrap();
    assert!(negative.spans.is_empty(), "a review without parts is a negative example");
    // The strict validator accepts the export, and catches a span outside its text.
    let out = jsonl(&["validate", path(&out_dir.join("train.jsonl"))]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"text\": \"new tire\", \"spans\": [{\"start\": 4, \"end\": 40, \"part\": \"tire\"}]}\n",
    )
    .unwrap();
    let out = jsonl(&["validate", path(&bad)]);
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.contains("bad.jsonl:1: error[bad_span]"), "{report}");

    // A table labeled without --spans cannot give tagging examples: the error says why.
    let out_dir2 = dir.path().join("ds2");
    let out = jsonl(&[
        "export",
        "--input",
        path(&fixture("labeled.csv")),
        "--format",
        "tagging",
        "--out",
        path(&out_dir2),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("labeled.csv") && err.contains("label --spans"), "{err}");

    // A mention that does not fit its review (an edited table) names the review.
    let edited = std::fs::read_to_string(&labeled).unwrap().replace("comfy", "cozy!");
    let edited = edited.replace("The seats", "The seat ");
    std::fs::write(dir.path().join("edited.csv"), edited).unwrap();
    let out = jsonl(&[
        "export",
        "--input",
        path(&dir.path().join("edited.csv")),
        "--format",
        "tagging",
        "--out",
        path(&dir.path().join("ds3")),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("t.csv#0") && err.contains("Spans_part"), "{err}");
}

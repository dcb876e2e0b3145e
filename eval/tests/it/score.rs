use std::path::Path;

use eval::score::{
    read_gold, read_part_list, read_predictions, score, Prf, ScoreConfig, ScoreReport,
};

use crate::fixture;

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

fn close_prf(got: Prf, p: f64, r: f64, f: f64) {
    close(got.precision, p);
    close(got.recall, r);
    close(got.f1, f);
}

pub fn fixture_report(gold_file: &str) -> ScoreReport {
    let preds = read_predictions(&fixture("score/predictions.jsonl")).unwrap();
    let gold = read_gold(&fixture(gold_file)).unwrap();
    let heldout = read_part_list(&fixture("score/heldout.txt")).unwrap();
    score(&preds, &gold, &ScoreConfig { worst: 10, heldout_parts: Some(heldout) }).unwrap()
}

/// Hand computation for `score/predictions.jsonl` against `score/gold.jsonl` (+ `.ids`):
///
/// ```text
/// id  gold                      predicted          tp fp fn  exact
/// #1  brake pad, tire           Brake Pad, tire     2  0  0  yes (case-insensitive)
/// #2  engine                    engine, seat        1  1  0  no
/// #3  (none)                    (none)              0  0  0  yes
/// #4  seat, tire, engine        tire                1  0  2  no
/// #5  brake pad                 (none)              0  0  1  no
/// #6  engine                    -- no prediction: not scored (missing_predictions 1)
/// #9  -- no gold --             tire               not scored (unmatched_predictions 1)
///
/// examples 5, exact 2 -> 0.4; tp 4, fp 1, fn 3
/// micro P 4/5 = 0.8, R 4/7, F1 2*0.8*(4/7)/(0.8+4/7) = (6.4/7)/(9.6/7) = 2/3
///
/// part       support pred tp   P    R    F1
/// brake pad     2     1   1    1   1/2   2/3
/// engine        2     1   1    1   1/2   2/3
/// tire          2     2   2    1    1     1
/// seat          1     1   0    0    0     0
/// macro P (1+1+1+0)/4 = 0.75, R (0.5+0.5+1+0)/4 = 0.5, F1 (2/3+2/3+1+0)/4 = 7/12
///
/// held out {seat, engine, wheel} (listed 3; wheel never occurs):
///   held-out: support 2+1 = 3, found 1 -> recall 1/3; predicted 1+1 = 2 -> precision 1/2
///   seen (brake pad, tire): support 4, found 3 -> recall 3/4; predicted 3 -> precision 1
/// worst: #4 (2 errors), then #2 and #5 (1 error each) in input order
/// ```
#[test]
fn jsonl_gold_scores_equal_the_hand_computation() {
    let r = fixture_report("score/gold.jsonl");
    assert_eq!((r.examples, r.unmatched_predictions, r.missing_predictions), (5, 1, 1));
    assert_eq!(r.exact_matches, 2);
    close(r.exact_match, 0.4);
    assert_eq!((r.tp, r.fp, r.fn_), (4, 1, 3));
    close_prf(r.micro, 0.8, 4.0 / 7.0, 2.0 / 3.0);
    close_prf(r.macro_, 0.75, 0.5, 7.0 / 12.0);

    let table: Vec<(&str, u64, u64, u64)> =
        r.parts.iter().map(|p| (p.part.as_str(), p.support, p.predicted, p.tp)).collect();
    assert_eq!(
        table,
        [("brake pad", 2, 1, 1), ("engine", 2, 1, 1), ("tire", 2, 2, 2), ("seat", 1, 1, 0)]
    );
    close_prf(
        Prf { precision: r.parts[0].precision, recall: r.parts[0].recall, f1: r.parts[0].f1 },
        1.0,
        0.5,
        2.0 / 3.0,
    );
    close_prf(
        Prf { precision: r.parts[3].precision, recall: r.parts[3].recall, f1: r.parts[3].f1 },
        0.0,
        0.0,
        0.0,
    );
    assert_eq!(
        r.parts.iter().filter(|p| p.heldout).map(|p| p.part.as_str()).collect::<Vec<_>>(),
        ["engine", "seat"]
    );

    let h = r.heldout.as_ref().unwrap();
    assert_eq!(h.listed, 3);
    assert_eq!(
        (h.heldout.parts_in_gold, h.heldout.support, h.heldout.found, h.heldout.predicted),
        (2, 3, 1, 2)
    );
    close(h.heldout.recall, 1.0 / 3.0);
    close(h.heldout.precision, 0.5);
    assert_eq!(
        (h.seen.parts_in_gold, h.seen.support, h.seen.found, h.seen.predicted),
        (2, 4, 3, 3)
    );
    close(h.seen.recall, 0.75);
    close(h.seen.precision, 1.0);

    let worst: Vec<&str> = r.worst.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(worst, ["kia.csv#4", "kia.csv#2", "kia.csv#5"]);
    assert_eq!(r.worst[0].missing, ["seat", "engine"]);
    assert_eq!(r.worst[1].extra, ["seat"]);
}

#[test]
fn labeled_csv_gold_gives_the_same_report_as_the_jsonl_export() {
    assert_eq!(
        read_gold(&fixture("score/labeled.csv")).unwrap(),
        read_gold(&fixture("score/gold.jsonl")).unwrap()
    );
    assert_eq!(fixture_report("score/labeled.csv"), fixture_report("score/gold.jsonl"));
}

#[test]
fn text_report_shows_the_headline_numbers_and_worst_examples() {
    let text = fixture_report("score/gold.jsonl").to_text(Some(2));
    assert!(text.contains("exact match      0.4000 (2/5)"), "{text}");
    assert!(text.contains("micro            P 0.8000  R 0.5714  F1 0.6667"), "{text}");
    assert!(text.contains("held-out parts   recall 0.3333 (1/3 mentions of 2 parts)"), "{text}");
    assert!(text.contains("... 2 more parts"), "{text}");
    assert!(text.contains("kia.csv#4  missing: [seat, engine]  extra: []"), "{text}");
}

#[test]
fn report_json_round_trips() {
    let r = fixture_report("score/gold.jsonl");
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains("\"macro\":{"), "{json}");
    assert!(json.contains("\"fn\":3"), "{json}");
    assert_eq!(serde_json::from_str::<ScoreReport>(&json).unwrap(), r);
}

#[test]
fn chat_gold_without_sidecar_is_keyed_by_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let gold = dir.path().join("test.jsonl");
    std::fs::write(
        &gold,
        concat!(
            r#"{"messages":[{"role":"system","content":"List parts."},{"role":"user","content":"tires"},{"role":"assistant","content":"tire"}]}"#,
            "\n\n",
            r#"{"messages":[{"role":"user","content":"nothing"},{"role":"assistant","content":"none"}]}"#,
            "\n"
        ),
    )
    .unwrap();
    let g = read_gold(&gold).unwrap();
    let ids: Vec<(&str, usize)> = g.iter().map(|e| (e.id.as_str(), e.parts.len())).collect();
    // Line 2 is blank: ids are physical line numbers, as the predictor writes them.
    assert_eq!(ids, [("1", 1), ("3", 0)]);
}

#[test]
fn the_sidecar_may_be_named_like_jsonl_export_names_it() {
    // `jsonl export` writes test.jsonl with test.ids beside it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("score/gold.jsonl"), dir.path().join("test.jsonl")).unwrap();
    std::fs::copy(fixture("score/gold.jsonl.ids"), dir.path().join("test.ids")).unwrap();
    let gold = read_gold(&dir.path().join("test.jsonl")).unwrap();
    assert_eq!(gold, read_gold(&fixture("score/gold.jsonl")).unwrap());
    assert_eq!(gold[0].id, "kia.csv#1");
}

#[test]
fn a_sidecar_shorter_than_the_dataset_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let gold = dir.path().join("d.jsonl");
    std::fs::write(&gold, "{\"prompt\":\"a ->\",\"completion\":\" tire END\"}\n{\"prompt\":\"b ->\",\"completion\":\" none END\"}\n").unwrap();
    std::fs::write(dir.path().join("d.jsonl.ids"), "f.csv#1\n").unwrap();
    let err = read_gold(&gold).unwrap_err().to_string();
    assert!(err.contains("d.jsonl.ids: has 1 ids but"), "{err}");
}

#[test]
fn bad_lines_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let preds = dir.path().join("predictions.jsonl");
    std::fs::write(&preds, "{\"id\":\"1\",\"completion\":\"\",\"parts\":[]}\n{\"id\":2}\n")
        .unwrap();
    let err = read_predictions(&preds).unwrap_err().to_string();
    assert!(err.contains("predictions.jsonl: line 2: not a prediction"), "{err}");

    let csv = dir.path().join("labeled.csv");
    std::fs::write(&csv, "source_file,index,List_part\nkia.csv,1,[tire]\n").unwrap();
    let err = read_gold(&csv).unwrap_err().to_string();
    assert!(err.contains("line 2: field \"List_part\": not a JSON array"), "{err}");

    std::fs::write(&csv, "a,b\n1,2\n").unwrap();
    let err = read_gold(&csv).unwrap_err().to_string();
    assert!(err.contains("no column \"source_file\""), "{err}");
    assert!(read_gold(Path::new("/nonexistent/gold.jsonl")).is_err());
}

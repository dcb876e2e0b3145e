use label::{label, read_labeled, Error, LabelConfig};
use records::ReviewId;

use crate::fixture;

fn config(inputs: &[&str], output: &std::path::Path) -> LabelConfig {
    let mut config = LabelConfig::new(
        inputs.iter().map(|i| fixture(i)).collect(),
        fixture("lexicon.csv"),
        output,
    );
    config.threads = 2;
    config
}

#[test]
fn labels_kaggle_files_and_reads_them_back_from_csv_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["labeled.csv", "labeled.parquet"] {
        let out = dir.path().join(name);
        let summary = label(&config(&["reviews"], &out), |_| {}).unwrap();
        assert_eq!(
            (summary.files, summary.reviews, summary.reviews_with_parts),
            (2, 5, 4),
            "{name}"
        );
        let rows = read_labeled(&out).unwrap();
        let parts: Vec<(String, Vec<String>)> =
            rows.iter().map(|r| (r.id.to_string(), r.parts.clone())).collect();
        let want: Vec<(String, Vec<String>)> = [
            ("Scraped_Car_Review_acme.csv#0", vec!["brake pad", "tire", "seat belt"]),
            ("Scraped_Car_Review_acme.csv#1", vec!["air conditioning", "transmission", "seat"]),
            ("Scraped_Car_Review_acme.csv#2", vec![]),
            ("Scraped_Car_Review_acme.csv#3", vec!["engine"]),
            ("Scrapped_Car_Reviews_Corvid.csv#0", vec!["sunroof"]),
        ]
        .into_iter()
        .map(|(id, p)| (id.to_owned(), p.into_iter().map(str::to_owned).collect()))
        .collect();
        assert_eq!(parts, want, "{name}");
        // The bare CR is a line break; the leading space is trimmed.
        assert_eq!(rows[0].review, "New brake pads and tyres.\nThe seatbelt chimes too much.");
        assert_eq!(rows[3].review, "He said \"the engine is fine\"\nand left.");
        assert_eq!(rows[0].rating, Some(4.875));
        assert_eq!(rows[1].title, "Fast, fun");
        assert_eq!(rows[4].id, ReviewId::new("Scrapped_Car_Reviews_Corvid.csv", 0));
    }
}

#[test]
fn spans_read_back_point_at_the_mentions_in_csv_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["labeled.csv", "labeled.parquet"] {
        let out = dir.path().join(name);
        let mut cfg = config(&["reviews"], &out);
        cfg.spans = true;
        label(&cfg, |_| {}).unwrap();
        let rows = read_labeled(&out).unwrap();
        for r in &rows {
            let spans = r.spans.as_ref().expect("a Spans_part column");
            let mut parts: Vec<String> = Vec::new();
            for m in spans {
                assert_eq!(m.field, "Review", "{name}");
                assert_eq!(&r.review[m.start..m.end], m.text, "{name}: {}", r.id);
                if !parts.contains(&m.part) {
                    parts.push(m.part.clone());
                }
            }
            assert_eq!(parts, r.parts, "{name}: the spans name the listed parts");
        }
        assert_eq!(rows[0].spans.as_ref().unwrap()[0].text, "brake pads");
    }
    // Without --spans, no spans are claimed.
    let out = dir.path().join("plain.csv");
    label(&config(&["reviews"], &out), |_| {}).unwrap();
    assert!(read_labeled(&out).unwrap().iter().all(|r| r.spans.is_none()));
}

#[test]
fn csv_output_keeps_columns_in_order_with_count_equal_to_list_length() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("labeled.csv");
    label(&config(&["reviews/Scraped_Car_Review_acme.csv"], &out), |_| {}).unwrap();
    let mut rdr = csv::Reader::from_path(&out).unwrap();
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        [
            "index",
            "Review_Date",
            "Author_Name",
            "Vehicle_Title",
            "Review_Title",
            "Review",
            "Rating",
            "source_file",
            "List_part",
            "Count_part"
        ]
    );
    for row in rdr.records() {
        let row = row.unwrap();
        let list: Vec<String> = serde_json::from_str(&row[8]).unwrap();
        assert_eq!(list.len().to_string(), &row[9]);
        assert_eq!(&row[7], "Scraped_Car_Review_acme.csv");
    }
}

#[test]
fn variants_are_read_and_ragged_rows_skipped_or_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("labeled.csv");
    let summary = label(&config(&["variants"], &out), |_| {}).unwrap();
    // extra_column: 1, lowercase_no_index: 2, trailing_comma_shifted: 3 rows with 1 shifted.
    assert_eq!(summary.reviews, 5);
    assert_eq!(summary.skipped.len(), 1);
    let skipped = summary.skipped[0].to_string();
    assert!(skipped.ends_with("trailing_comma_shifted.csv: line 3: ragged row skipped: 8 fields, expected 7 (plus an empty trailing field)"), "{skipped}");
    let rows = read_labeled(&out).unwrap();
    let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(
        ids,
        [
            "extra_column.csv#0",
            "lowercase_no_index.csv#0",
            "lowercase_no_index.csv#1",
            "trailing_comma_shifted.csv#0",
            "trailing_comma_shifted.csv#2"
        ]
    );
    assert_eq!(rows[1].parts, ["tire", "battery"]);
    assert_eq!(rows[1].rating, None);
    assert_eq!(rows[4].parts, ["wiper"]);
    let mut rdr = csv::Reader::from_path(&out).unwrap();
    assert!(rdr.headers().unwrap().iter().any(|h| h == "Sentiment"), "extra columns are kept");

    let mut strict = config(&["variants"], &out);
    strict.strict = true;
    let err = label(&strict, |_| {}).unwrap_err();
    assert!(matches!(err, Error::Ragged { line: 3, .. }), "{err}");
}

#[test]
fn missing_review_column_is_an_error_naming_file_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let err = label(&config(&["no_review.csv"], &dir.path().join("o.csv")), |_| {}).unwrap_err();
    let msg = err.to_string();
    assert!(msg.ends_with("no_review.csv: no Review column (columns found: \"\", \"Review_Date\", \"Author_Name\", \"Text\", \"Rating\")"), "{msg}");
    assert!(!dir.path().join("o.csv").exists(), "no output on error");
}

#[test]
fn holdout_removes_parts_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("labeled.csv");
    let mut cfg = config(&["reviews"], &out);
    cfg.holdout_fraction = 0.5;
    cfg.seed = 3;
    let first = label(&cfg, |_| {}).unwrap();
    let again = label(&cfg, |_| {}).unwrap();
    assert_eq!(first.held_out, again.held_out);
    assert!(!first.held_out.is_empty() && first.held_out.len() < 15, "{:?}", first.held_out);
    for row in read_labeled(&out).unwrap() {
        for part in &row.parts {
            assert!(!first.held_out.contains(part), "{part} was held out");
        }
    }
}

#[test]
fn csv_and_parquet_outputs_agree_when_files_have_different_columns() {
    // CSV rows are serialised per file against the union of the headers; Parquet stacks the
    // frames. Both must give the same columns, in the same order, with the same cells.
    let dir = tempfile::tempdir().unwrap();
    let csv_out = dir.path().join("labeled.csv");
    let pq_out = dir.path().join("labeled.parquet");
    for out in [&csv_out, &pq_out] {
        label(&config(&["variants", "reviews"], out), |_| {}).unwrap();
    }
    assert_eq!(read_labeled(&csv_out).unwrap(), read_labeled(&pq_out).unwrap());

    let mut rdr = csv::Reader::from_path(&csv_out).unwrap();
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_owned).collect();
    use polars::prelude::SerReader;
    let file = std::fs::File::open(&pq_out).unwrap();
    let frame = polars::prelude::ParquetReader::new(file).finish().unwrap();
    let names: Vec<String> = frame.get_column_names().iter().map(|n| n.to_string()).collect();
    assert_eq!(header, names);
    let at = header.iter().position(|h| h == "Sentiment").expect("the extra column is kept");
    let from_csv: Vec<String> = rdr.records().map(|r| r.unwrap()[at].to_owned()).collect();
    let sentiment = frame.column("Sentiment").unwrap().str().unwrap().clone();
    let from_parquet: Vec<String> = sentiment.iter().map(|v| v.unwrap_or("").to_owned()).collect();
    assert_eq!(from_csv, from_parquet);
    assert_eq!(from_csv.len(), 10, "5 variant rows and 5 review rows");
}

//! Checks on the real Kaggle corpus in `../shared/data/edmunds` (read in place, never copied).
//! They run where that folder exists (CI and development machines) and are skipped elsewhere.

use std::path::PathBuf;

use label::{label, read_labeled, LabelConfig};

fn shared(path: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data").join(path);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} not found", p.display());
        None
    }
}

fn lexicon() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/lexicon.csv")
}

#[test]
fn the_38_real_files_yield_87525_intact_reviews() {
    let Some(corpus) = shared("edmunds") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("edmunds.parquet");
    let summary = label(&LabelConfig::new(vec![corpus], lexicon(), &out), |_| {}).unwrap();
    assert_eq!(summary.files, 38);
    assert_eq!(summary.reviews, 87_525);
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped.first());
    let rows = read_labeled(&out).unwrap();
    assert_eq!(rows.len(), 87_525);
    // No fragment rows: every index runs 0..N-1 within its file, with no gap and no repeat.
    let mut expected = std::collections::HashMap::<String, i64>::new();
    for row in &rows {
        let next = expected.entry(row.id.source_file.clone()).or_insert(0);
        assert_eq!(row.id.index, *next, "{}", row.id);
        *next += 1;
        assert!(
            row.rating.is_some_and(|r| (1.0..=5.0).contains(&r)),
            "{}: rating {:?}",
            row.id,
            row.rating
        );
        assert!(!row.review.contains('\r'), "{}: a carriage return survived", row.id);
    }
    assert_eq!(expected["Scraped_Car_Review_ferrari.csv"], 161);
    assert_eq!(expected["Scraped_Car_Review_mclaren.csv"], 1);
    assert!(summary.reviews_with_parts * 2 > summary.reviews, "most reviews mention a part");
}

#[test]
fn the_third_party_variants_are_read_and_shifted_rows_named() {
    let Some(variants) = shared("edmunds/variants") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("variants.csv");
    let summary = label(&LabelConfig::new(vec![variants], lexicon(), &out), |_| {}).unwrap();
    // dodge (Id column) 1020 + dodge (no index) 1584 + 2 × tesla (140 rows, 2 shifted) + suzuki 2933.
    assert_eq!(summary.reviews, 1020 + 1584 + 2 * 138 + 2933);
    let lines: Vec<String> = summary.skipped.iter().map(|s| s.to_string()).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines.iter().all(|l| l.contains("tesla.csv: line ")), "{lines:?}");
}

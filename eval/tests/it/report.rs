use eval::classification::ClassificationReport;
use eval::report::{render_report, ReportConfig};

use crate::copy_runs;

#[test]
fn the_report_is_one_self_contained_page_with_table_curves_and_scores() {
    let (_tmp, dirs) = copy_runs(&["round1", "round2"]);
    std::fs::write(
        dirs[1].join("scores.json"),
        serde_json::to_string(&crate::score::fixture_report("score/gold.jsonl")).unwrap(),
    )
    .unwrap();
    let class =
        ClassificationReport::from_names(None, &[("a", "a"), ("a", "b"), ("b", "b")]).unwrap();
    std::fs::write(dirs[0].join("classification.json"), serde_json::to_string(&class).unwrap())
        .unwrap();

    let report = render_report(&dirs, &ReportConfig::default()).unwrap();
    let html = &report.html;
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    // 6 curve charts and 1 confusion matrix, all embedded PNGs.
    assert_eq!(html.matches("src=\"data:image/png;base64,iVBORw0KGgo").count(), 7);
    // Nothing is fetched from elsewhere.
    assert!(!html.contains("src=\"http") && !html.contains("href=") && !html.contains("<script"));
    assert!(html.contains("<th>run</th><th>parent</th>"), "no comparison table");
    assert!(
        html.contains("<td>round2</td><td></td><td>runs/round1</td><td>480</td>"),
        "no round2 row"
    );
    assert!(html.contains("<h2>Scores: round2</h2>"));
    assert!(html
        .contains("<td>held-out parts (2 in gold, 3 mentions)</td><td>0.5000</td><td>0.3333</td>"));
    assert!(html.contains("<td>kia.csv#4</td><td>seat, engine</td>"), "no worst example");
    assert!(html.contains("<h2>Classification: round1</h2>"));
}

#[test]
fn a_run_without_results_is_reported_with_a_warning() {
    let (tmp, mut dirs) = copy_runs(&["round1"]);
    let empty = tmp.path().join("runs/empty");
    std::fs::create_dir_all(&empty).unwrap();
    dirs.push(empty);
    let report = render_report(&dirs, &ReportConfig::default()).unwrap();
    assert_eq!(report.html.matches("data:image/png;base64,").count(), 6);
    assert!(report.warnings.iter().any(|w| w.contains("no results.csv")), "{:?}", report.warnings);
}

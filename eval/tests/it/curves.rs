use eval::plot::curves::{
    chart_file_name, render_chart_png, write_curves, CurveConfig, Metric, RunCurves, XAxis,
};

use crate::{assert_readable_png, copy_runs, fixture, has_colour};

#[test]
fn every_chart_of_two_overlaid_runs_is_a_readable_png_showing_both_runs() {
    let runs = [
        RunCurves::load(&fixture("runs/round1")).unwrap(),
        RunCurves::load(&fixture("runs/round2")).unwrap(),
    ];
    assert_eq!(runs[0].rows.len(), 60);
    assert_eq!(runs[0].rows.iter().filter(|r| r.validation_loss.is_some()).count(), 6);
    let out = tempfile::tempdir().unwrap();
    let written = write_curves(&runs, out.path(), &CurveConfig::default()).unwrap();
    assert_eq!(written.len(), 6);
    for metric in Metric::ALL {
        for x in XAxis::ALL {
            let path = out.path().join(chart_file_name(metric, x));
            assert!(written.contains(&path), "{} not written", path.display());
            let img = assert_readable_png(&std::fs::read(&path).unwrap(), 1200, 700);
            // The bold moving averages are drawn in the palette's first two colours.
            assert!(has_colour(&img, [31, 119, 180], 6), "{}: no round1 line", path.display());
            assert!(has_colour(&img, [255, 127, 14], 6), "{}: no round2 line", path.display());
        }
    }
}

#[test]
fn chart_size_follows_the_config() {
    let runs = [RunCurves::load(&fixture("runs/round1")).unwrap()];
    let config = CurveConfig { width: 640, height: 400, window: Some(1), ..CurveConfig::default() };
    let png = render_chart_png(&runs, Metric::Loss, XAxis::Examples, &config).unwrap();
    assert_readable_png(&png, 640, 400);
}

#[test]
fn a_run_without_rows_is_an_error_naming_the_file() {
    let (_tmp, dirs) = copy_runs(&["round1"]);
    let results = dirs[0].join("results.csv");
    let header = std::fs::read_to_string(&results).unwrap().lines().next().unwrap().to_owned();
    std::fs::write(&results, header + "\n").unwrap();
    let err = RunCurves::load(&dirs[0]).unwrap_err().to_string();
    assert!(err.contains("results.csv: has no rows"), "{err}");
}

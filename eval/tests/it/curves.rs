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

#[test]
fn a_long_run_draws_its_raw_steps_as_a_light_band_and_stays_readable() {
    // 3,000 steps: more points than pixels, so the raw values become a percentile band.
    let rows = (1..=3000u64)
        .map(|step| {
            let mean = 2.0 * (-(step as f64) / 600.0).exp() + 0.3;
            let noise = ((step * 7919) % 101) as f64 / 100.0 - 0.5;
            let validation = (step % 100 == 0).then_some(mean);
            records::run::ResultsRow {
                step,
                elapsed_tokens: step * 900,
                elapsed_examples: step * 8,
                training_loss: mean * (1.0 + 0.4 * noise),
                training_sequence_accuracy: (step % 9) as f64 / 8.0,
                training_token_accuracy: 1.0 - mean / 3.0,
                validation_loss: validation,
                validation_sequence_accuracy: validation.map(|_| 0.5),
                validation_token_accuracy: validation.map(|m| 1.0 - m / 3.0),
            }
        })
        .collect();
    let runs = [RunCurves { name: "long".into(), rows }];
    let png = render_chart_png(&runs, Metric::Loss, XAxis::Step, &CurveConfig::default()).unwrap();
    let img = assert_readable_png(&png, 1200, 700);
    // The band: the first palette colour at 22% over white.
    assert!(has_colour(&img, [206, 225, 240], 4), "no light band");
    assert!(has_colour(&img, [31, 119, 180], 6), "no moving average");
}

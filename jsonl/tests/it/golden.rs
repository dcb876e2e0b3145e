//! Golden tests: the labeled fixture exported in both formats must give exactly the expected
//! bytes, and what export writes must pass `validate` with no warning but the example count.
//!
//! To regenerate after an intended change: `UPDATE_GOLDEN=1 cargo test -p jsonl --test it golden`,
//! then review the diff of `tests/fixtures/expected/`.

use std::fs;
use std::path::Path;

use jsonl::export::{export, ExportConfig, Manifest};
use jsonl::split::SplitFractions;
use jsonl::validate::{validate_file, ValidateConfig};
use jsonl::Format;

use crate::fixture;

fn golden_config(format: Format) -> ExportConfig {
    ExportConfig {
        format,
        seed: 12,
        split: SplitFractions::new(0.6, 0.2, 0.2).unwrap(),
        ..ExportConfig::default()
    }
}

fn run_export(format: Format, out: &Path) -> Manifest {
    export(&fixture("labeled.csv"), out, &golden_config(format)).unwrap()
}

fn compare(format: Format) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = run_export(format, dir.path());
    let expected = fixture("expected").join(format.to_string());
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for name in ["train.jsonl", "train.ids", "valid.jsonl", "valid.ids", "test.jsonl", "test.ids"] {
        let got = fs::read(dir.path().join(name)).unwrap();
        let want_path = expected.join(name);
        if update {
            fs::create_dir_all(&expected).unwrap();
            fs::write(&want_path, &got).unwrap();
            continue;
        }
        let want = fs::read(&want_path).unwrap_or_else(|e| panic!("{}: {e}", want_path.display()));
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{format} {name} differs from {}",
            want_path.display()
        );
    }
    // 12 reviews: one empty, one duplicate; the separator and the stop sequence each rewritten once.
    let c = &manifest.counts;
    assert_eq!((c.reviews, c.empty_reviews, c.duplicates, c.negatives), (12, 1, 1, 3));
    assert_eq!(c.train + c.valid + c.test, 10);
    if format == Format::Legacy {
        assert_eq!((c.separator_in_review, c.stop_in_review, c.conflicts_rewritten), (1, 1, 2));
    } else {
        assert_eq!(c.conflicts_rewritten, 0);
    }
    // The manifest records the outputs' digests and the options.
    let written: Manifest =
        serde_json::from_slice(&fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(written.outputs, manifest.outputs);
    assert_eq!(written.options.seed, 12);
    assert_eq!(written.input.sha256.len(), 64);
}

#[test]
fn legacy_export_matches_golden_bytes() {
    compare(Format::Legacy);
}

#[test]
fn chat_export_matches_golden_bytes() {
    compare(Format::Chat);
}

#[test]
fn exported_files_pass_validate_with_only_the_example_count_warning() {
    for format in [Format::Legacy, Format::Chat] {
        let dir = tempfile::tempdir().unwrap();
        // All reviews in one file, so that the whole-file checks see every example.
        let config = ExportConfig {
            split: SplitFractions::new(1.0, 0.0, 0.0).unwrap(),
            ..golden_config(format)
        };
        export(&fixture("labeled.csv"), dir.path(), &config).unwrap();
        let report =
            validate_file(&dir.path().join("train.jsonl"), &ValidateConfig::default(), None)
                .unwrap();
        assert_eq!(report.format, Some(format));
        assert_eq!(report.examples, 10);
        assert_eq!(report.errors, 0, "{}", report.to_text());
        let warnings: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.severity == jsonl::validate::Severity::Warning)
            .map(|f| f.code)
            .collect();
        assert_eq!(warnings, ["example_count"], "{format}: {}", report.to_text());
        // The id sidecar is line-aligned with the examples.
        let ids = fs::read_to_string(dir.path().join("train.ids")).unwrap();
        assert_eq!(ids.lines().count(), 10);
        assert!(ids.lines().all(|l| l.parse::<records::ReviewId>().is_ok()));
    }
}

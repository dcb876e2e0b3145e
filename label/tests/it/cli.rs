use std::process::Command;

use crate::fixture;

fn label_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_label"))
}

#[test]
fn default_run_labels_the_embedded_data() {
    let dir = tempfile::tempdir().unwrap();
    // No --input and no --lexicon: the embedded defaults are found from any directory.
    let out = dir.path().join("out/labeled.csv");
    let status = label_bin()
        .current_dir(dir.path())
        .args(["--output", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(status.status.success(), "{stderr}");
    assert!(stderr.contains("labeled 281 reviews from 3 files"), "{stderr}");
    assert!(stderr.contains("most frequent parts"), "{stderr}");
    let rows = label::read_labeled(&out).unwrap();
    assert_eq!(rows.len(), 281);
    assert!(rows.iter().filter(|r| !r.parts.is_empty()).count() > 150);
}

#[test]
fn exit_codes_and_error_messages() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.csv");
    let lexicon = fixture("lexicon.csv");
    let run = |input: &str, extra: &[&str]| {
        label_bin()
            .args([
                "--input",
                fixture(input).to_str().unwrap(),
                "--lexicon",
                lexicon.to_str().unwrap(),
            ])
            .args(["--output", out.to_str().unwrap(), "--quiet"])
            .args(extra)
            .output()
            .unwrap()
    };
    let ok = run("reviews", &[]);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    let skipped = run("variants", &[]);
    assert_eq!(skipped.status.code(), Some(1), "rows skipped: ran but found problems");
    assert!(String::from_utf8_lossy(&skipped.stderr).contains("warning: "));
    let strict = run("variants", &["--strict"]);
    assert_eq!(strict.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(stderr.starts_with("error: ") && stderr.contains("line 3: ragged row"), "{stderr}");
    let missing = run("nowhere.csv", &[]);
    assert_eq!(missing.status.code(), Some(2));
    let bad_format = label_bin()
        .args([
            "--input",
            fixture("reviews").to_str().unwrap(),
            "--lexicon",
            lexicon.to_str().unwrap(),
        ])
        .args(["--output", dir.path().join("o.txt").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(bad_format.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_format.stderr).contains("unsupported output format"));
}

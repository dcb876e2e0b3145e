//! What `label` does with broken inputs: for every generated case it either succeeds with a
//! readable table or exits non-zero with a message naming the file (and the line where there
//! is one); it never changes an input and never leaves an output a later stage would trust.

use std::path::Path;
use std::process::{Command, Output};

use crate::fixture;
use records::testing::{snapshot, Rng};

fn run(inputs: &[&Path], lexicon: &Path, output: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_label"));
    for input in inputs {
        cmd.arg("--input").arg(input);
    }
    cmd.arg("--lexicon").arg(lexicon).arg("--output").arg(output).arg("--quiet");
    cmd.output().unwrap()
}

#[test]
fn generated_bad_inputs_fail_cleanly_or_succeed_and_never_touch_the_inputs() {
    let good = std::fs::read(fixture("reviews/Scraped_Car_Review_acme.csv")).unwrap();
    let lexicon = std::fs::read(fixture("lexicon.csv")).unwrap();
    let mut rng = Rng(7);
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("header only".into(), good[..good.iter().position(|&b| b == b'\n').unwrap() + 1].into()),
        ("binary".into(), (0..4096u32).map(|i| (i * 7 % 256) as u8).collect()),
        (
            "duplicate ids".into(),
            [&good[..], &good[good.iter().position(|&b| b == b'\n').unwrap() + 1..]].concat(),
        ),
    ];
    for i in 0..12 {
        let cut = rng.below(good.len());
        cases.push((format!("truncated at {cut} ({i})"), good[..cut].to_vec()));
    }
    for i in 0..8 {
        let mut bytes = good.clone();
        let at = rng.below(bytes.len());
        bytes[at] = [0xff, 0xc3, 0xe9][i % 3];
        cases.push((format!("latin-1 or broken byte at {at}"), bytes));
    }
    for (name, bytes) in cases {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("Scraped_Car_Review_case.csv");
        std::fs::write(&input, &bytes).unwrap();
        let lex = dir.path().join("lexicon.csv");
        std::fs::write(&lex, &lexicon).unwrap();
        let before = snapshot(dir.path());
        let output = dir.path().join("out/labeled.csv");
        let out = run(&[&input], &lex, &output);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(snapshot(dir.path()), before, "{name}: an input changed");
        assert!(stderr.len() < 2000, "{name}: a message of {} bytes:\n{stderr}", stderr.len());
        match out.status.code() {
            Some(0) => {
                label::read_labeled(&output).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            Some(1) => {
                assert!(stderr.contains("Scraped_Car_Review_case.csv: line "), "{name}: {stderr}");
                label::read_labeled(&output).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            code => {
                assert_eq!(code, Some(2), "{name}: {stderr}");
                assert!(stderr.starts_with("error: "), "{name}: {stderr}");
                assert!(stderr.contains("Scraped_Car_Review_case.csv"), "{name}: {stderr}");
                assert!(!output.exists(), "{name}: a failed run left {}", output.display());
                assert!(
                    !dir.path().join("out").exists()
                        || std::fs::read_dir(dir.path().join("out")).unwrap().next().is_none(),
                    "{name}: a failed run left a temporary file"
                );
            }
        }
    }
}

#[test]
fn a_non_utf8_byte_is_named_by_line_column_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("latin1.csv");
    let mut bytes = std::fs::read(fixture("reviews/Scraped_Car_Review_acme.csv")).unwrap();
    let line3 = bytes.iter().enumerate().filter(|(_, &b)| b == b'\n').nth(1).unwrap().0 + 1;
    bytes[line3 + 5] = 0xe9; // "é" in Latin-1
    std::fs::write(&input, &bytes).unwrap();
    let out = run(&[&input], &fixture("lexicon.csv"), &dir.path().join("o.csv"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "latin1.csv: line 3: column 6: invalid UTF-8 (byte 0xe9 at offset {})",
            line3 + 5
        )),
        "{stderr}"
    );
}

#[test]
fn an_output_that_is_an_input_is_refused_and_the_input_kept() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("x.csv");
    std::fs::copy(fixture("reviews/Scraped_Car_Review_acme.csv"), &input).unwrap();
    let lexicon = dir.path().join("lexicon.csv");
    std::fs::copy(fixture("lexicon.csv"), &lexicon).unwrap();
    let before = snapshot(dir.path());
    for output in [&input, &lexicon, &dir.path().join("./x.csv")] {
        let out = run(&[&input], &lexicon, output);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("the output would replace the input"), "{stderr}");
    }
    // A directory input with the output inside it is fine: the output is not an input file.
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn two_inputs_with_one_file_name_are_refused_before_ids_collide() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["a", "b"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        std::fs::copy(
            fixture("reviews/Scraped_Car_Review_acme.csv"),
            dir.path().join(sub).join("Scraped_Car_Review_acme.csv"),
        )
        .unwrap();
    }
    let output = dir.path().join("o.csv");
    let out =
        run(&[&dir.path().join("a"), &dir.path().join("b")], &fixture("lexicon.csv"), &output);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("same file name as"), "{stderr}");
    assert!(stderr.contains("review ids (file name + index) would collide"), "{stderr}");
    assert!(!output.exists());
}

#[test]
fn a_lexicon_surface_with_two_parts_is_refused_or_reported() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("reviews");
    let lex = dir.path().join("lexicon.csv");
    // The same surface twice: an error naming both lines.
    std::fs::write(
        &lex,
        "surface,canonical,category,source\nbrake,brake,B,a\nseat,seat,I,a\nbrake,brake pad,B,b\n",
    )
    .unwrap();
    let out = run(&[&input], &lex, &dir.path().join("o.csv"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("lexicon.csv: line 4: field \"canonical\": surface \"brake\""),
        "{stderr}"
    );
    assert!(stderr.contains("at line 2"), "{stderr}");
    // Surfaces equal but for case: labeled with the first, and a warning says so.
    std::fs::write(&lex, "surface,canonical,category,source\nSeat,seat,I,a\nseat,bench,I,b\n")
        .unwrap();
    let out = run(&[&input], &lex, &dir.path().join("o.csv"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: ")
            && stderr.contains("surface \"Seat\" maps to \"seat\" and to \"bench\""),
        "{stderr}"
    );
}

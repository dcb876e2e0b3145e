//! What `eval score` does with broken predictions, gold and annotation files: for every
//! generated case it either scores every line it was given, or exits 2 with a message naming
//! the file (and the line where the file has one); it never changes an input, and a failed run
//! leaves no `scores.json` or `human_scores.json` behind.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use crate::fixture;
use records::testing::{snapshot, Rng};

/// The input a case breaks; the others are the intact fixtures of `tests/fixtures/score/`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    /// `predictions.jsonl`, scored against `labeled.csv`.
    Predictions,
    /// `predictions.jsonl`, scored against `annotations.jsonl`.
    AnnotatedPredictions,
    /// `gold.jsonl` (with its `gold.jsonl.ids`).
    GoldJsonl,
    /// `gold.jsonl.ids`, the sidecar of `gold.jsonl`.
    GoldIds,
    /// `labeled.csv` as gold.
    GoldCsv,
    /// `labeled.csv` as the extractor scored against `annotations.jsonl`.
    AnnotatedCsv,
    /// `annotations.jsonl`.
    Annotations,
}

impl Target {
    const ALL: [Self; 7] = [
        Self::Predictions,
        Self::AnnotatedPredictions,
        Self::GoldJsonl,
        Self::GoldIds,
        Self::GoldCsv,
        Self::AnnotatedCsv,
        Self::Annotations,
    ];

    fn file(self) -> &'static str {
        match self {
            Self::Predictions | Self::AnnotatedPredictions => "predictions.jsonl",
            Self::GoldJsonl => "gold.jsonl",
            Self::GoldIds => "gold.jsonl.ids",
            Self::GoldCsv | Self::AnnotatedCsv => "labeled.csv",
            Self::Annotations => "annotations.jsonl",
        }
    }

    /// `eval score` arguments, paths relative to the case directory.
    fn args(self) -> [&'static str; 4] {
        match self {
            Self::Predictions | Self::GoldCsv => {
                ["--predictions", "predictions.jsonl", "--gold", "labeled.csv"]
            }
            Self::GoldJsonl | Self::GoldIds => {
                ["--predictions", "predictions.jsonl", "--gold", "gold.jsonl"]
            }
            Self::AnnotatedPredictions | Self::Annotations => {
                ["--predictions", "predictions.jsonl", "--annotations", "annotations.jsonl"]
            }
            Self::AnnotatedCsv => {
                ["--predictions", "labeled.csv", "--annotations", "annotations.jsonl"]
            }
        }
    }

    fn annotated(self) -> bool {
        self.args()[2] == "--annotations"
    }
}

/// One generated case: the target's bytes and what a failure message must say besides the
/// file name.
struct Case {
    target: Target,
    name: String,
    bytes: Vec<u8>,
    says: Vec<String>,
}

/// Byte offsets where the lines of `bytes` start.
fn line_starts(bytes: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(bytes.iter().enumerate().filter(|(_, &b)| b == b'\n').map(|(i, _)| i + 1))
        .filter(|&i| i < bytes.len())
        .collect()
}

fn line_of(bytes: &[u8], at: usize) -> usize {
    bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1
}

fn cases_for(target: Target, good: &[u8], rng: &mut Rng) -> Vec<Case> {
    let case = |name: String, bytes: Vec<u8>, says: &[&str]| Case {
        target,
        name: format!("{target:?}: {name}"),
        bytes,
        says: says.iter().map(|s| (*s).to_owned()).collect(),
    };
    let starts = line_starts(good);
    let csv = target.file().ends_with(".csv");
    let mut cases = vec![
        case("empty".into(), Vec::new(), &[]),
        case("binary".into(), (0..4096u32).map(|i| (i * 7 % 256) as u8).collect(), &[]),
        case("NUL bytes".into(), vec![0; 4096], &[]),
    ];
    // Lines dropped at the end: a shorter file that is still whole.
    let keep = starts[1 + rng.below(starts.len() - 1)];
    cases.push(case(
        format!("cut after line {}", line_of(good, keep) - 1),
        good[..keep].into(),
        &[],
    ));
    for _ in 0..3 {
        // Cut inside a line (not at its start or end): the last line is half a record.
        let mut cut = rng.below(good.len());
        while cut == 0 || good[cut - 1] == b'\n' || good[cut] == b'\n' {
            cut = rng.below(good.len());
        }
        let line = line_of(good, cut);
        // A cut CSV header lacks a column, and a sidecar cut short no longer matches its
        // dataset: both are whole-file errors, without a line.
        let says = if (csv && line == 1) || target == Target::GoldIds {
            String::new()
        } else {
            format!("line {line}")
        };
        cases.push(case(format!("truncated at byte {cut}"), good[..cut].into(), &[&says]));
        if target != Target::GoldIds {
            let end = cut + good[cut..].iter().position(|&b| b == b'\n').unwrap();
            let joined = [&good[..cut], &good[end..]].concat();
            cases.push(case(format!("line {line} cut short at byte {cut}"), joined, &[&says]));
        }
    }
    for i in 0..4 {
        let at = rng.below(good.len());
        let mut bytes = good.to_vec();
        bytes[at] = [0xff, 0xc3, 0xe9][i % 3];
        assert!(std::str::from_utf8(&bytes).is_err());
        let says = format!("line {}", line_of(good, at));
        cases.push(case(format!("invalid UTF-8 at byte {at}"), bytes, &[&says]));
    }
    // A line repeated at the end: its id twice.
    let first = if csv { 1 } else { 0 };
    let j = first + rng.below(starts.len() - first);
    let line = &good[starts[j]..starts.get(j + 1).copied().unwrap_or(good.len())];
    let dup = format!("line {}", starts.len() + 1);
    if ![Target::GoldJsonl, Target::GoldIds].contains(&target) {
        // (Not for gold.jsonl and its sidecar: a line more in either leaves them misaligned.)
        cases.push(case(format!("line {} twice", j + 1), [good, line].concat(), &[&dup]));
    }
    if !csv && target != Target::GoldIds {
        let j = rng.below(starts.len());
        let end = starts.get(j + 1).copied().unwrap_or(good.len());
        let bytes = [&good[..starts[j]], b"kia.csv#1 -> brake pad\n", &good[end..]].concat();
        cases.push(case(format!("line {} not JSON", j + 1), bytes, &[&format!("line {}", j + 1)]));
    }
    cases
}

/// The ids of a JSONL file's lines (`id`, or `file#index` for annotations).
fn jsonl_ids(bytes: &[u8]) -> Vec<String> {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            match v["id"].as_str() {
                Some(id) => id.to_owned(),
                None => format!("{}#{}", v["file"].as_str().unwrap(), v["index"]),
            }
        })
        .collect()
}

/// The ids of a labeled CSV's rows.
fn csv_ids(bytes: &[u8]) -> Vec<String> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (file, index) = (col("source_file"), col("index"));
    rdr.records().map(|r| r.unwrap()).map(|r| format!("{}#{}", &r[file], &r[index])).collect()
}

/// The ids a file that was scored holds, read back by the test itself.
fn ids_of(dir: &Path, file: &str) -> Vec<String> {
    let bytes = std::fs::read(dir.join(file)).unwrap();
    if file.ends_with(".csv") {
        return csv_ids(&bytes);
    }
    if file == "gold.jsonl" {
        let ids = std::fs::read_to_string(dir.join("gold.jsonl.ids")).unwrap();
        let ids: Vec<&str> = ids.lines().collect();
        let text = std::str::from_utf8(&bytes).unwrap();
        let lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        return lines.map(|(i, _)| ids[i].trim().to_owned()).collect();
    }
    jsonl_ids(&bytes)
}

#[test]
fn generated_bad_score_inputs_are_scored_whole_or_fail_naming_file_and_line() {
    let names = ["predictions.jsonl", "gold.jsonl", "gold.jsonl.ids", "labeled.csv"];
    let mut fixtures: Vec<(&str, Vec<u8>)> = names
        .iter()
        .map(|n| (*n, std::fs::read(fixture(&format!("score/{n}"))).unwrap()))
        .collect();
    fixtures
        .push(("annotations.jsonl", std::fs::read(fixture("score/annotations.jsonl")).unwrap()));
    let good = |file: &str| fixtures.iter().find(|(n, _)| *n == file).unwrap().1.clone();

    let mut rng = Rng(17);
    let mut cases: Vec<Case> =
        Target::ALL.iter().flat_map(|&t| cases_for(t, &good(t.file()), &mut rng)).collect();
    // One review id on two lines of the sidecar, both of them aligned with a dataset line.
    let mut ids = good("gold.jsonl.ids");
    let second = ids.iter().position(|&b| b == b'\n').unwrap() + 1;
    ids.splice(second..second + "kia.csv#2".len(), b"kia.csv#1".iter().copied());
    cases.push(Case {
        target: Target::GoldIds,
        name: "GoldIds: kia.csv#1 on lines 1 and 2".into(),
        bytes: ids,
        says: vec!["line 2".into()],
    });

    for Case { target, name, bytes, says } in cases {
        let dir = tempfile::tempdir().unwrap();
        for (file, content) in &fixtures {
            std::fs::write(dir.path().join(file), content).unwrap();
        }
        std::fs::write(dir.path().join(target.file()), &bytes).unwrap();
        let run_dir = dir.path().join("run");
        std::fs::create_dir(&run_dir).unwrap();
        let before = snapshot(dir.path());
        let out = Command::new(env!("CARGO_BIN_EXE_eval"))
            .current_dir(dir.path())
            .arg("score")
            .args(target.args())
            .args(["--json", "--out", "run"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(snapshot(dir.path()), before, "{name}: an input changed");
        assert!(err.len() < 2000, "{name}: a message of {} bytes:\n{err}", err.len());
        let written = if target.annotated() { "human_scores.json" } else { "scores.json" };
        if out.status.success() {
            let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let file: serde_json::Value =
                serde_json::from_slice(&std::fs::read(run_dir.join(written)).unwrap()).unwrap();
            assert_eq!(printed, file, "{name}: {written} is not what was printed");
            // Every line given was scored: nothing dropped on the way.
            let (extracted, gold) = (target.args()[1], target.args()[3]);
            let (extracted, gold) = (ids_of(dir.path(), extracted), ids_of(dir.path(), gold));
            let both = gold.iter().filter(|g| extracted.contains(g)).count() as u64;
            if target.annotated() {
                let s = &printed[0];
                assert!(!gold.is_empty(), "{name}: scored against no annotation");
                assert_eq!(s["reviews"].as_u64(), Some(gold.len() as u64), "{name}: {s}");
                assert_eq!(s["without_prediction"].as_u64(), Some(gold.len() as u64 - both));
            } else {
                let examples = printed["examples"].as_u64().unwrap();
                assert_eq!(examples, both, "{name}: {printed}");
                let unmatched = printed["unmatched_predictions"].as_u64().unwrap();
                assert_eq!(examples + unmatched, extracted.len() as u64, "{name}: {printed}");
                let missing = printed["missing_predictions"].as_u64().unwrap();
                assert_eq!(examples + missing, gold.len() as u64, "{name}: {printed}");
            }
            if target.args()[3] == "gold.jsonl" {
                // Gold ids come from the sidecar: one review id per dataset line.
                let sidecar = std::fs::read_to_string(dir.path().join("gold.jsonl.ids")).unwrap();
                let ids: Vec<&str> = sidecar.lines().filter(|l| !l.trim().is_empty()).collect();
                assert_eq!(ids.len(), gold.len(), "{name}: gold.jsonl and its sidecar differ");
                for id in &gold {
                    assert!(id.parse::<records::ReviewId>().is_ok(), "{name}: gold id {id:?}");
                }
            }
            for (what, ids) in [("gold", &gold), ("extracted", &extracted)] {
                let unique: HashSet<&String> = ids.iter().collect();
                assert_eq!(unique.len(), ids.len(), "{name}: an id twice in the {what} was scored");
            }
            continue;
        }
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.starts_with("error: "), "{name}: {err}");
        let file = target.file();
        // `gold.jsonl.ids: has 6 ids but DIR/gold.jsonl has 5 lines` names both files.
        assert!(
            err.contains(&format!("{file}: ")) || err.contains(&format!("{file} ")),
            "{name}: the file is not named: {err}"
        );
        for want in says.iter().filter(|s| !s.is_empty()) {
            assert!(err.contains(&format!("{want}: ")), "{name}: no {want:?} in: {err}");
        }
        let left: Vec<_> =
            std::fs::read_dir(&run_dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(left.is_empty(), "{name}: a failed run left {left:?} (no {written} may be)");
    }
}

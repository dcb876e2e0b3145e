//! What `jsonl` does with broken inputs. `export` either writes a complete dataset whose every
//! example is one the intact table gives, or exits 2 with a message naming the file and leaves
//! no `manifest.json`; `validate` reports every broken line by its number (exit 1) or, when the
//! file cannot be read, names it (exit 2). Neither ever changes its input.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

use crate::fixture;
use records::testing::{snapshot, Rng};

fn jsonl(args: &[&OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jsonl")).args(args).output().unwrap()
}

fn export(input: &Path, out: &Path) -> Output {
    jsonl(&[
        "export".as_ref(),
        "--input".as_ref(),
        input.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--seed".as_ref(),
        "12".as_ref(),
        "--split".as_ref(),
        "0.6,0.2,0.2".as_ref(),
        "--quiet".as_ref(),
    ])
}

/// `bytes` with the byte at `at` replaced by one that cannot be UTF-8 there.
fn broken_utf8(bytes: &[u8], at: usize, i: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at] = [0xff, 0xc3, 0xe9][i % 3];
    assert!(std::str::from_utf8(&out).is_err(), "byte {at} still leaves UTF-8");
    out
}

/// Offsets of the bytes that lie inside a quoted CSV field (after its opening quote).
fn inside_quotes(csv: &[u8]) -> Vec<usize> {
    let mut quoted = false;
    let mut out = Vec::new();
    for (i, &b) in csv.iter().enumerate() {
        if b == b'"' {
            quoted = !quoted;
        } else if quoted {
            out.push(i);
        }
    }
    out
}

/// The examples of an export directory, (split file, review id) → JSONL line, checked on the
/// way: the manifest lists every split file with its example count, each file is line-aligned
/// with its `.ids` sidecar, each line is a JSON object, and no id occurs twice.
fn exported(dir: &Path, name: &str) -> HashMap<(String, String), String> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap())
            .unwrap_or_else(|e| panic!("{name}: manifest.json: {e}"));
    let mut out = HashMap::new();
    let mut ids_seen = HashSet::new();
    for file in manifest["outputs"].as_array().unwrap() {
        let (jsonl, sidecar) = (file["file"].as_str().unwrap(), file["ids"].as_str().unwrap());
        let lines = std::fs::read_to_string(dir.join(jsonl)).unwrap();
        let ids_text = std::fs::read_to_string(dir.join(sidecar)).unwrap();
        let lines: Vec<&str> = lines.lines().collect();
        let ids: Vec<&str> = ids_text.lines().collect();
        assert_eq!(lines.len(), ids.len(), "{name}: {jsonl} and {sidecar} are not line-aligned");
        assert_eq!(lines.len() as u64, file["examples"].as_u64().unwrap(), "{name}: {jsonl}");
        for (line, id) in lines.into_iter().zip(ids) {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{name}: {jsonl}: {e}: {line}"));
            assert!(value.is_object(), "{name}: {jsonl}: {line}");
            assert!(ids_seen.insert(id.to_owned()), "{name}: id {id} exported twice");
            out.insert((jsonl.to_owned(), id.to_owned()), line.to_owned());
        }
    }
    out
}

/// The cells of a labeled-table line that ends a record: everything before `List_part`, the
/// `List_part` cell, and the `Count_part` cell with the line break.
fn split_parts_cell(line: &str) -> Option<(&str, &str, &str)> {
    let (head, _) = line.trim_end().rsplit_once(',')?;
    let start = if head.ends_with("]\"") { head.rfind(",\"[")? } else { head.rfind(",[")? };
    Some((&line[..start + 1], &head[start + 1..], &line[head.len()..]))
}

/// One generated table: its bytes, and what a failure message must say besides the file name.
struct Case {
    name: String,
    bytes: Vec<u8>,
    says: Vec<String>,
}

impl Case {
    fn new(name: impl Into<String>, bytes: impl Into<Vec<u8>>, says: &[&str]) -> Self {
        let says = says.iter().map(|s| (*s).to_owned()).collect();
        Self { name: name.into(), bytes: bytes.into(), says }
    }
}

#[test]
fn generated_bad_tables_export_whole_or_fail_naming_the_file_and_leave_no_manifest() {
    let good = std::fs::read(fixture("labeled.csv")).unwrap();
    let text = std::str::from_utf8(&good).unwrap();
    let header_end = text.find('\n').unwrap() + 1;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    // The first data row is on one line: index 0 of Scraped_Car_Review_testa.csv.
    let first_row = lines[1];
    assert!(first_row.starts_with("0,") && split_parts_cell(first_row).is_some());

    let base = tempfile::tempdir().unwrap();
    let baseline = export(&fixture("labeled.csv"), base.path());
    assert!(baseline.status.success(), "{}", String::from_utf8_lossy(&baseline.stderr));
    let want = exported(base.path(), "the intact table");

    let twice =
        ": row 12: field \"index\": review id Scraped_Car_Review_testa.csv#0 is also at row 0";
    let mut cases = vec![
        Case::new("empty", [], &[]),
        Case::new("header only", &good[..header_end], &[]),
        Case::new("header without line break", &good[..header_end - 1], &[]),
        Case::new(
            "binary",
            (0..4096u32).map(|i| (i * 7 % 256) as u8).collect::<Vec<_>>(),
            &["a binary file"],
        ),
        Case::new("NUL bytes", [0; 4096], &[]),
        Case::new("a row twice", [text, first_row].concat(), &[twice]),
        Case::new(
            "one id with two reviews",
            [text, &first_row.replace("The brake pads squeal", "The rotors squeal")].concat(),
            &[twice],
        ),
    ];
    let mut rng = Rng(11);
    // Whole rows dropped at the end (or a quoted field cut at one of its line breaks), and the
    // last line break dropped: a shorter table that may well export.
    for _ in 0..3 {
        let starts: Vec<usize> =
            (header_end..good.len()).filter(|&i| good[i - 1] == b'\n').collect();
        let cut = starts[rng.below(starts.len())];
        cases.push(Case::new(
            format!("cut at the line break before byte {cut}"),
            &good[..cut],
            &[],
        ));
    }
    cases.push(Case::new("no final line break", &good[..good.len() - 1], &[]));
    for _ in 0..10 {
        // Cut inside a row (not at a line end): the last record is half a row.
        let mut cut = header_end + rng.below(good.len() - header_end);
        while good[cut - 1] == b'\n' {
            cut = header_end + rng.below(good.len() - header_end);
        }
        cases.push(Case::new(
            format!("truncated inside a row at byte {cut}"),
            &good[..cut],
            &[": line "],
        ));
    }
    let quoted = inside_quotes(&good);
    for _ in 0..8 {
        let cut = quoted[rng.below(quoted.len())];
        let name = format!("truncated inside a quoted field at byte {cut}");
        cases.push(Case::new(name, &good[..cut], &[": line "]));
    }
    for i in 0..9 {
        let at = rng.below(good.len());
        let line = good[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        let says = format!(": line {line}: column ");
        cases.push(Case::new(
            format!("invalid UTF-8 at byte {at}"),
            broken_utf8(&good, at, i),
            &[&says],
        ));
    }
    let bad_cells = [
        "seat",
        "\"[\"\"seat\"\"\"",
        "\"{\"\"part\"\": \"\"seat\"\"}\"",
        "\"\"\"seat\"\"\"",
        "\"[1, 2]\"",
        "\"[\"\"seat\"\", null]\"",
        "null",
    ];
    let row_lines: Vec<usize> =
        (1..lines.len()).filter(|&i| split_parts_cell(lines[i]).is_some()).collect();
    for cell in bad_cells {
        let at = row_lines[rng.below(row_lines.len())];
        let (before, old, after) = split_parts_cell(lines[at]).unwrap();
        let line = format!("{before}{cell}{after}");
        let mut changed = lines.clone();
        changed[at] = &line;
        let name = format!("List_part {cell} instead of {old} on line {}", at + 1);
        cases.push(Case::new(
            name,
            changed.concat(),
            &[": row ", "field \"List_part\": not a JSON array"],
        ));
    }

    for Case { name, bytes, says } in cases {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("labeled_case.csv");
        std::fs::write(&input, &bytes).unwrap();
        let before = snapshot(dir.path());
        let out_dir = dir.path().join("dataset");
        let run = export(&input, &out_dir);
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(snapshot(dir.path()), before, "{name}: the input changed");
        assert!(err.len() < 2000, "{name}: a message of {} bytes:\n{err}", err.len());
        if run.status.success() {
            // Whatever was exported is exactly what the intact table gives for those reviews.
            for (key, line) in exported(&out_dir, &name) {
                assert_eq!(
                    want.get(&key),
                    Some(&line),
                    "{name}: {key:?} differs from the intact export"
                );
            }
            continue;
        }
        assert_eq!(run.status.code(), Some(2), "{name}: {err}");
        assert!(err.starts_with("error: "), "{name}: {err}");
        assert!(err.contains("labeled_case.csv: "), "{name}: the file is not named: {err}");
        for want in &says {
            assert!(err.contains(want.as_str()), "{name}: no {want:?} in: {err}");
        }
        assert!(!out_dir.join("manifest.json").exists(), "{name}: a failed export left a manifest");
        let left: Vec<_> = std::fs::read_dir(&out_dir)
            .map(|d| d.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{name}: a failed export left {left:?}");
    }
}

/// A JSONL file of the exported examples of the fixture, in one format.
fn good_jsonl(format: &str) -> Vec<u8> {
    let dir = fixture("expected").join(format);
    ["train.jsonl", "valid.jsonl", "test.jsonl"]
        .iter()
        .flat_map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect()
}

/// The line numbers of the `json_syntax` findings of a `validate` report.
fn syntax_lines(report: &str, file: &str) -> Vec<u64> {
    report
        .lines()
        .filter(|l| l.contains(": error[json_syntax]: "))
        .map(|l| {
            let rest = l.strip_prefix(file).unwrap_or_else(|| panic!("not about {file}: {l}"));
            rest[1..].split(':').next().unwrap().parse().unwrap()
        })
        .collect()
}

#[test]
fn generated_bad_jsonl_is_reported_by_line_or_named_as_unreadable() {
    let mut rng = Rng(5);
    // (name, bytes, the lines that must be reported as broken JSON)
    let mut cases: Vec<(String, Vec<u8>, Vec<u64>)> = Vec::new();
    for format in ["legacy", "chat"] {
        let good = good_jsonl(format);
        let starts: Vec<usize> = std::iter::once(0)
            .chain(good.iter().enumerate().filter(|(_, &b)| b == b'\n').map(|(i, _)| i + 1))
            .filter(|&i| i < good.len())
            .collect();
        let line_of = |at: usize| good[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        for _ in 0..4 {
            // The file cut inside its last line, or inside a line that the next lines follow.
            let mut cut = rng.below(good.len());
            while cut == 0 || good[cut - 1] == b'\n' || good[cut] == b'\n' {
                cut = rng.below(good.len());
            }
            let line = line_of(cut);
            cases.push((
                format!("{format}: truncated at byte {cut}"),
                good[..cut].to_vec(),
                vec![line],
            ));
            let end = cut + good[cut..].iter().position(|&b| b == b'\n').unwrap();
            let joined = [&good[..cut], &good[end..]].concat();
            cases.push((
                format!("{format}: line {line} cut short at byte {cut}"),
                joined,
                vec![line],
            ));
        }
        for i in 0..6 {
            let at = rng.below(good.len());
            cases.push((
                format!("{format}: invalid UTF-8 at byte {at}"),
                broken_utf8(&good, at, i),
                vec![line_of(at)],
            ));
        }
        let at = starts[rng.below(starts.len())];
        cases.push((
            format!("{format}: a line that is not JSON before line {}", line_of(at)),
            [&good[..at], b"prompt -> completion END\n", &good[at..]].concat(),
            vec![line_of(at)],
        ));
    }
    cases.push(("empty".into(), Vec::new(), Vec::new()));
    cases.push(("binary".into(), (0..4096u32).map(|i| (i * 31 % 256) as u8).collect(), Vec::new()));

    for (name, bytes, broken) in cases {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("case.jsonl");
        std::fs::write(&file, &bytes).unwrap();
        let run = jsonl(&["validate".as_ref(), file.as_os_str()]);
        let (report, err) =
            (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
        assert_eq!(std::fs::read(&file).unwrap(), bytes, "{name}: the input changed");
        assert!(err.len() < 2000, "{name}: a message of {} bytes", err.len());
        // `jsonl validate --help`: exit 0 clean, 1 errors found, 2 unreadable.
        match run.status.code() {
            Some(1) => {
                let file_name = file.display().to_string();
                assert!(report.contains(&format!("{file_name}: ")), "{name}: {report}");
                if bytes.is_empty() {
                    assert!(report.contains(": error[no_examples]: "), "{name}: {report}");
                } else if name != "binary" {
                    assert_eq!(syntax_lines(&report, &file_name), broken, "{name}: {report}");
                } else {
                    assert!(report.contains(&format!("{file_name}:1:")), "{name}: {report}");
                }
            }
            code => {
                assert_eq!(code, Some(2), "{name}: a broken file passed: {report}{err}");
                assert!(err.starts_with("error: ") && err.contains("case.jsonl"), "{name}: {err}");
            }
        }
    }
    // A directory cannot be read as a file: exit 2, named.
    let dir = tempfile::tempdir().unwrap();
    let run = jsonl(&["validate".as_ref(), dir.path().as_os_str()]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.starts_with("error: ") && err.contains(&dir.path().display().to_string()), "{err}");
}

#[test]
fn the_intact_exports_validate_clean() {
    // The base of the generated cases above is itself valid: exit 0.
    for format in ["legacy", "chat"] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("good.jsonl");
        std::fs::write(&file, good_jsonl(format)).unwrap();
        let run = jsonl(&["validate".as_ref(), file.as_os_str()]);
        assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stdout));
    }
}

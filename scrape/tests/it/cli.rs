//! The `scrape` binary end to end on fixtures.

use std::path::Path;
use std::process::{Command, Output};

use crate::fixture;
use crate::server::{Answer, Server};

fn scrape(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scrape"))
        .args(args)
        .current_dir(dir)
        .env("XDG_CACHE_HOME", dir.join("xdg"))
        .output()
        .expect("run scrape")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn fixture_args(out: &str) -> Vec<String> {
    let f = |name: &str| fixture(name).display().to_string();
    vec![
        "--file".into(),
        f("wiki_parts.html"),
        "--text".into(),
        f("parts_list.txt"),
        "--extra-aliases".into(),
        f("extra_aliases.csv"),
        "--stoplist".into(),
        f("stoplist.txt"),
        "--out".into(),
        out.into(),
    ]
}

#[test]
fn rebuilds_the_fixture_lexicon_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = fixture_args("lexicon.csv");
    args.push("--explain".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = scrape(&args, dir.path());
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let got = std::fs::read_to_string(dir.path().join("lexicon.csv")).unwrap();
    let expected = std::fs::read_to_string(fixture("lexicon.expected.csv")).unwrap();
    assert_eq!(got, expected, "stderr:\n{err}");
    // The lexicon is the one the labeler reads.
    records::Lexicon::read(&dir.path().join("lexicon.csv")).unwrap();

    assert!(err.contains("source wiki_parts: "), "{err}");
    assert!(err.contains("source parts_list: "), "{err}");
    assert!(err.contains("canonical parts"), "{err}");
    for line in [
        "dropped\twiki_parts\tFuel economy in automobiles\tin non-part section \"See also\"",
        "dropped\twiki_parts\tAnother reference\tin non-part section \"References\"",
        "dropped\twiki_parts\tfront and rear\tparenthetical qualifier, not another name",
        "dropped\twiki_parts\tspring\tstop-listed: the season",
        "dropped\twiki_parts\tOther fluids\tnot one specific part",
    ] {
        assert!(err.contains(line), "missing {line:?} in:\n{err}");
    }
    for junk in ["Navbox", "Log in", "Auto parts", "last edited", "Not a part", "Contents"] {
        assert!(!got.contains(junk), "{junk} leaked into the lexicon");
    }
}

#[test]
fn output_to_stdout_is_the_same_file_and_runs_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let args = fixture_args("-");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = scrape(&args, dir.path());
    let b = scrape(&args, dir.path());
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
    let expected = std::fs::read(fixture("lexicon.expected.csv")).unwrap();
    assert_eq!(a.stdout, expected);
}

#[test]
fn url_source_is_cached_and_offline_rerun_needs_no_server() {
    let dir = tempfile::tempdir().unwrap();
    let page = std::fs::read_to_string(fixture("wiki_parts.html")).unwrap();
    let server = Server::start(vec![("/wiki_parts.html", vec![Answer::Ok("text/html", page)])]);
    let url = server.url("/wiki_parts.html");
    let from_file = scrape(
        &["--file", &fixture("wiki_parts.html").display().to_string(), "--out", "file.csv"],
        dir.path(),
    );
    assert!(from_file.status.success(), "{}", stderr(&from_file));
    let live = scrape(
        &["--url", &url, "--delay", "0", "--cache-dir", "cache", "--out", "live.csv"],
        dir.path(),
    );
    assert!(live.status.success(), "{}", stderr(&live));
    drop(server);
    let offline = scrape(
        &["--url", &url, "--offline", "--cache-dir", "cache", "--out", "offline.csv"],
        dir.path(),
    );
    assert!(offline.status.success(), "{}", stderr(&offline));
    assert!(stderr(&offline).contains("cached"), "{}", stderr(&offline));
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    assert_eq!(read("live.csv"), read("file.csv"));
    assert_eq!(read("offline.csv"), read("file.csv"));
}

#[test]
fn offline_without_cache_entry_exits_2_naming_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let url = "http://127.0.0.1:9/never-fetched.html";
    let out =
        scrape(&["--url", url, "--offline", "--cache-dir", "cache", "--out", "x.csv"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("error: {url}: not in the cache at cache (offline)")),
        "{err}"
    );
    assert!(!dir.path().join("x.csv").exists());
}

#[test]
fn stoplist_entry_without_reason_exits_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stop.txt"), "spring # season\nbody\n").unwrap();
    let list = fixture("parts_list.txt").display().to_string();
    let out = scrape(&["--text", &list, "--stoplist", "stop.txt", "--out", "x.csv"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "error: stop.txt: line 2: stop-list entry \"body\" has no `# reason`"
    );
}

#[test]
fn no_source_is_bad_usage() {
    let dir = tempfile::tempdir().unwrap();
    let out = scrape(&["--out", "x.csv"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no sources"), "{}", stderr(&out));
}

#[test]
fn an_existing_lexicon_merges_like_the_other_sources() {
    let dir = tempfile::tempdir().unwrap();
    let f = |name: &str| fixture(name).display().to_string();
    let out = scrape(
        &[
            "--file",
            &f("wiki_parts.html"),
            "--lexicon-in",
            &f("handmade_lexicon.csv"),
            "--stoplist",
            &f("stoplist.txt"),
            "--explain",
            "--out",
            "lexicon.csv",
        ],
        dir.path(),
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let got = std::fs::read_to_string(dir.path().join("lexicon.csv")).unwrap();
    let rows: Vec<&str> = got.lines().collect();
    for row in [
        // A part both sources list: one canonical, sources and categories joined; the
        // plural `Tires` is folded into `tire`.
        "tire,tire,Body|Wheels and tires,handmade_lexicon|wiki_parts",
        "tyre,tire,Body|Wheels and tires,wiki_parts",
        // Parts only the lexicon has, with their aliases; a short acronym is kept (reviewed).
        "AC,air conditioning system,Climate,handmade_lexicon",
        "a/c,air conditioning system,Climate,handmade_lexicon",
        "speedo,speedometer,Instruments,handmade_lexicon",
        "speedometer,speedometer,Instruments,handmade_lexicon",
        "brake pad,brake pad,Brakes,handmade_lexicon",
        "car jack,car jack,Tools,handmade_lexicon",
    ] {
        assert!(rows.contains(&row), "missing {row:?} in:\n{got}");
    }
    // The stop-list applies to the lexicon's surfaces too.
    assert!(!rows.iter().any(|r| r.starts_with("jack,")), "{got}");
    assert!(err.contains("dropped\thandmade_lexicon\tjack\tstop-listed"), "{err}");
    assert!(err.contains("source handmade_lexicon: "), "{err}");
}

#[test]
fn a_lexicon_source_with_a_wrong_header_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lex.csv"), "alias,canonical\ntranny,transmission\n").unwrap();
    let out = scrape(&["--lexicon-in", "lex.csv", "--out", "x.csv"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("error: lex.csv"), "{}", stderr(&out));
    assert!(!dir.path().join("x.csv").exists());
}

#[test]
fn a_page_without_a_list_is_an_error_not_an_empty_lexicon() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blank.html"), "<html><body><p>No list here.</p></body></html>")
        .unwrap();
    std::fs::write(dir.path().join("blank.txt"), "# only a comment\n\n").unwrap();
    for (flag, file) in [("--file", "blank.html"), ("--text", "blank.txt")] {
        let out = scrape(&[flag, file, "--out", "lexicon.csv"], dir.path());
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(&format!("{file}: no list item found")), "{}", stderr(&out));
        assert!(!dir.path().join("lexicon.csv").exists(), "no header-only lexicon is written");
    }
    assert!(stderr(&scrape(&["--file", "blank.html", "--out", "x.csv"], dir.path()))
        .contains("give --selector"));
}

#[test]
fn the_output_may_not_be_one_of_the_sources() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("parts_list.txt"), dir.path().join("list.txt")).unwrap();
    let before = std::fs::read(dir.path().join("list.txt")).unwrap();
    let out = scrape(&["--text", "list.txt", "--out", "list.txt"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("would replace the input"), "{}", stderr(&out));
    assert_eq!(std::fs::read(dir.path().join("list.txt")).unwrap(), before);
}

//! One planted instance of each problem; each must be reported on its line with its key.

use jsonl::validate::{validate_file, validate_reader, Report, Severity, ValidateConfig};

use crate::fixture;

fn check(report: &Report, planted: &[(u64, &str, Option<&str>)], clean_lines: &[u64]) {
    for (line, code, key) in planted {
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.line == Some(*line) && f.code == *code && f.key.as_deref() == *key),
            "line {line}: expected {code} (key {key:?}); report:\n{}",
            report.to_text()
        );
    }
    for line in clean_lines {
        let on_line: Vec<_> = report.findings.iter().filter(|f| f.line == Some(*line)).collect();
        assert!(on_line.is_empty(), "line {line} is clean but got {on_line:?}");
    }
}

#[test]
fn every_planted_legacy_problem_is_reported_on_its_line() {
    let report =
        validate_file(&fixture("planted_legacy.jsonl"), &ValidateConfig::default(), None).unwrap();
    let planted = [
        (2, "json_syntax", None),
        (3, "blank_line", None),
        (4, "not_object", None),
        (5, "format_mismatch", Some("messages")),
        (6, "key_case", Some("Prompt")),
        (7, "missing_key", Some("completion")),
        (8, "extra_key", Some("id")),
        (9, "not_string", Some("completion")),
        (10, "empty_completion", Some("completion")),
        (11, "duplicate", None),
        (12, "long_example", None),
        (13, "completion_space_start", Some("completion")),
        (14, "prompt_suffix_repeated", Some("prompt")),
        (15, "completion_suffix_repeated", Some("completion")),
        (16, "json_syntax", None),
    ];
    check(&report, &planted, &[1]);
    // The syntax errors name their column: the missing `}` after the last byte of line 2, and
    // the invalid UTF-8 byte of line 16.
    let column =
        |line| report.findings.iter().find(|f| f.line == Some(line)).and_then(|f| f.column);
    assert_eq!(column(2), Some(57));
    assert_eq!(column(16), Some(22));
    assert_eq!(report.lines, 16);
    assert!(report.counts.contains_key("example_count"));
    assert!(!report.is_ok());
}

#[test]
fn every_planted_chat_problem_is_reported_on_its_line() {
    let report =
        validate_file(&fixture("planted_chat.jsonl"), &ValidateConfig::default(), None).unwrap();
    let planted = [
        (2, "not_object", None),
        (3, "missing_messages", Some("messages")),
        (4, "message_missing_key", Some("messages[0].content")),
        (5, "message_unrecognized_key", Some("messages[0].extra")),
        (6, "unrecognized_role", Some("messages[0].role")),
        (7, "content_not_string", Some("messages[0].content")),
        (8, "missing_assistant", Some("messages")),
        (9, "invalid_weight", Some("messages[1].weight")),
        (10, "missing_system", Some("messages")),
        (11, "missing_user", Some("messages")),
        (12, "missing_content", Some("messages[0].content")),
        (13, "unrecognized_key", Some("meta")),
        (14, "name_not_string", Some("messages[0].name")),
        (16, "duplicate", None),
        (17, "message_not_object", Some("messages[0]")),
        (18, "format_mismatch", Some("prompt")),
        (19, "json_syntax", None),
        (20, "invalid_weight", Some("messages[0].weight")),
    ];
    // Line 15 is a valid multi-turn example with weights 0 and 1.
    check(&report, &planted, &[1, 15]);
}

/// Validates inline legacy lines.
fn legacy(lines: &[String]) -> Report {
    validate_reader(lines.join("\n").as_bytes(), "inline", &ValidateConfig::default(), None)
        .unwrap()
}

fn pair(prompt: &str, completion: &str) -> String {
    serde_json::json!({"prompt": prompt, "completion": completion}).to_string()
}

#[test]
fn whole_file_legacy_checks() {
    struct Case {
        name: &'static str,
        lines: Vec<String>,
        code: &'static str,
        severity: Severity,
        line: Option<u64>,
    }
    let varied = |i: usize| format!("review {i} about the car");
    let cases = vec![
        Case {
            name: "identical prompts",
            lines: (0..4).map(|i| pair("same ->", &format!(" part{i} END"))).collect(),
            code: "identical_prompts",
            severity: Severity::Error,
            line: None,
        },
        Case {
            name: "no separator",
            lines: vec![pair("a b ->", " x END"), pair("c d", " y END"), pair("e f ->", " z END")],
            code: "no_prompt_separator",
            severity: Severity::Warning,
            line: Some(2),
        },
        Case {
            name: "long separator",
            lines: (0..3)
                .map(|i| pair(&format!("{i}\n\n### Parts of this car:"), &format!(" p{i} END")))
                .collect(),
            code: "prompt_suffix_long",
            severity: Severity::Warning,
            line: None,
        },
        Case {
            name: "common prompt prefix",
            lines: (0..3)
                .map(|i| {
                    pair(&format!("Extract the parts: {} ->", varied(i)), &format!(" p{i} END"))
                })
                .collect(),
            code: "prompt_prefix",
            severity: Severity::Warning,
            line: None,
        },
        Case {
            name: "common completion prefix",
            lines: (0..3)
                .map(|i| pair(&format!("{} ->", varied(i)), &format!(" Parts: p{i} END")))
                .collect(),
            code: "completion_prefix",
            severity: Severity::Warning,
            line: None,
        },
        Case {
            name: "no completion ending",
            lines: vec![pair("a ->", " x END"), pair("b ->", " y"), pair("c ->", " z END")],
            code: "no_completion_ending",
            severity: Severity::Warning,
            line: Some(2),
        },
        Case {
            name: "upper-case prompts",
            lines: (0..3)
                .map(|i| pair(&format!("GREAT CAR NUMBER {i} ->"), &format!(" tire{i} END")))
                .collect(),
            code: "uppercase",
            severity: Severity::Warning,
            line: None,
        },
        Case {
            name: "few examples",
            lines: (0..3)
                .map(|i| pair(&format!("{} ->", varied(i)), &format!(" p{i} END")))
                .collect(),
            code: "example_count",
            severity: Severity::Warning,
            line: None,
        },
    ];
    for case in cases {
        let report = legacy(&case.lines);
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.code == case.code && f.severity == case.severity && f.line == case.line),
            "{}: expected {} at {:?}:\n{}",
            case.name,
            case.code,
            case.line,
            report.to_text()
        );
    }
    // Identical completions in a file that the old tool sees as conditional generation.
    let lines = vec![pair("a ->", " tire END"), pair("b ->", " tire END")];
    let report = legacy(&lines);
    assert!(
        report.findings.iter().any(|f| f.code == "identical_completions"),
        "{}",
        report.to_text()
    );
}

#[test]
fn token_statistics_follow_the_cookbook_rules() {
    use jsonl::tokens::{test_tokenizer, TokenCounter};
    let counter = TokenCounter::new(test_tokenizer());
    // Prompts of 3, 4 and 5 tokens ("->" is one), completions of 2 tokens.
    let lines = [
        pair("the car ->", " tire END"),
        pair("the red car ->", " hood END"),
        pair("a b c d ->", " seat END"),
    ];
    let config = ValidateConfig { max_tokens: 6, ..ValidateConfig::default() };
    let report =
        validate_reader(lines.join("\n").as_bytes(), "inline", &config, Some(&counter)).unwrap();
    let t = report.tokens.expect("token report");
    let per = t.per_example.unwrap();
    assert_eq!((per.min, per.max, per.median), (5, 7, 6.0));
    assert_eq!(t.target_per_example.unwrap().max, 2);
    assert_eq!(t.over_max_tokens, 1);
    // 3 examples: 3 * 3 < 100, so 100 // 3 = 33 epochs capped at 25; per epoch 5 + 6 + min(7, 6).
    assert_eq!((t.epochs, t.tokens_per_epoch, t.training_tokens), (25, 17, 425));
    assert!(report.findings.iter().any(|f| f.code == "over_max_tokens" && f.line == Some(3)));
}

//! Text normalisation shared by dataset export and prediction.
//!
//! A model sees review text exactly as [`normalize`] leaves it, both when its training data is
//! exported and when it predicts; the two stages call this one function so they cannot drift.

/// Normalises review text for a model prompt: every run of whitespace (spaces, tabs, the bare
/// carriage returns and line breaks of the Kaggle files) becomes one space, and the ends are
/// trimmed.
///
/// ```
/// assert_eq!(records::text::normalize("  Great\r\rcar,\r\n  new  tires "), "Great car, new tires");
/// ```
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Replaces the line breaks of a raw Kaggle field (`\r\n` and bare `\r`) with `\n`, leaving the
/// rest untouched. This is how the labeler keeps a review's line breaks.
///
/// ```
/// assert_eq!(records::text::unify_line_breaks("a\rb\r\nc"), "a\nb\nc");
/// ```
pub fn unify_line_breaks(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\r') {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_cases() {
        struct Case {
            name: &'static str,
            input: &'static str,
            want: &'static str,
        }
        let cases = [
            Case { name: "empty", input: "", want: "" },
            Case { name: "only spaces", input: " \t\r\n ", want: "" },
            Case { name: "bare cr", input: "one\rtwo", want: "one two" },
            Case { name: "crlf and runs", input: "a\r\n\r\n  b", want: "a b" },
            Case { name: "non-ascii kept", input: " café  naïve ", want: "café naïve" },
            Case { name: "separator kept", input: "x -> y", want: "x -> y" },
        ];
        for case in cases {
            assert_eq!(normalize(case.input), case.want, "case {}", case.name);
        }
    }
}

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

/// [`normalize`], with where each byte of `text` went: `map[i]` is the offset in the result of
/// the byte at `i` (whitespace maps to where the following word starts, or the end), and
/// `map[text.len()]` is the result's length. [`map_span`] maps a span that starts and ends on
/// non-whitespace bytes (a whitespace run inside it becomes one space).
///
/// ```
/// let (norm, map) = records::text::normalize_with_map("  cup \r\n holder ");
/// assert_eq!(norm, "cup holder");
/// assert_eq!(records::text::map_span(&map, 2, 15), (0, 10));
/// ```
pub fn normalize_with_map(text: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(text.len());
    let mut map = vec![0; text.len() + 1];
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut pending: Vec<usize> = Vec::new();
    for word in text.split_whitespace() {
        // `split_whitespace` yields subslices: their offsets locate the word.
        let start = word.as_ptr() as usize - text.as_ptr() as usize;
        if !out.is_empty() {
            out.push(' ');
        }
        pending.extend(i..start);
        for p in pending.drain(..) {
            map[p] = out.len();
        }
        for (k, _) in bytes[start..start + word.len()].iter().enumerate() {
            map[start + k] = out.len() + k;
        }
        out.push_str(word);
        i = start + word.len();
    }
    pending.extend(i..text.len());
    for p in pending {
        map[p] = out.len();
    }
    map[text.len()] = out.len();
    (out, map)
}

/// Maps a byte span `start..end` of a text through [`normalize_with_map`]'s `map` to the span of
/// the normalised text: the first byte's position to one past the last byte's.
pub fn map_span(map: &[usize], start: usize, end: usize) -> (usize, usize) {
    if end <= start {
        return (map[start], map[start]);
    }
    (map[start], map[end - 1] + 1)
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

/// Names (columns of a header, say) for an error message: at most 12, each cut to 40
/// characters and quoted with escapes, so that a file that is not what was expected (binary,
/// NUL bytes, one long line) gives a short, printable message and not its content.
pub fn shown_names<S: AsRef<str>>(names: &[S]) -> String {
    const MAX_NAMES: usize = 12;
    const MAX_CHARS: usize = 40;
    let mut shown: Vec<String> = names
        .iter()
        .take(MAX_NAMES)
        .map(|n| {
            let n = n.as_ref();
            let cut: String = n.chars().take(MAX_CHARS).collect();
            if cut.len() < n.len() {
                format!("{cut:?}...")
            } else {
                format!("{cut:?}")
            }
        })
        .collect();
    if names.len() > MAX_NAMES {
        shown.push(format!("and {} more", names.len() - MAX_NAMES));
    }
    shown.join(", ")
}

/// Where a byte string stops being UTF-8: the first bad byte's 1-based line and column (in
/// characters) and its byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Problem {
    pub line: u64,
    pub column: usize,
    pub offset: usize,
    pub byte: u8,
}

impl std::fmt::Display for Utf8Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: column {}: invalid UTF-8 (byte 0x{:02x} at offset {}); the file must be \
             UTF-8 text (convert with iconv -t UTF-8)",
            self.line, self.column, self.byte, self.offset
        )
    }
}

/// The first place where `bytes` is not UTF-8, if any.
pub fn utf8_problem(bytes: &[u8]) -> Option<Utf8Problem> {
    let offset = std::str::from_utf8(bytes).err()?.valid_up_to();
    let before = &bytes[..offset];
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    Some(Utf8Problem {
        line: 1 + before.iter().filter(|&&b| b == b'\n').count() as u64,
        column: String::from_utf8_lossy(&before[line_start..]).chars().count() + 1,
        offset,
        byte: bytes[offset],
    })
}

/// Reads a text file, naming the line, column and offset of the first byte that is not UTF-8
/// instead of the standard library's bare "stream did not contain valid UTF-8".
///
/// # Errors
/// [`crate::Error::Io`] when the file cannot be read, [`crate::Error::Record`] when it is not
/// UTF-8.
pub fn read_text(path: &std::path::Path) -> crate::Result<String> {
    let bytes = std::fs::read(path).map_err(|e| crate::Error::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let p = utf8_problem(e.as_bytes()).expect("invalid UTF-8 has a first bad byte");
        crate::Error::Record {
            path: path.to_owned(),
            line: p.line,
            message: p.to_string().split_once(": ").map_or(String::new(), |(_, m)| m.to_owned()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_utf8_file_is_named_by_line_column_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        std::fs::write(&path, b"{\"a\": 1}\n{\"caf\xc3\xa9 \xe9\": 2}\n").unwrap();
        let err = read_text(&path).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "t.jsonl: line 2: column 8: invalid UTF-8 (byte 0xe9 at offset 17); the file \
                 must be UTF-8 text (convert with iconv -t UTF-8)"
            ),
            "{err}"
        );
        std::fs::write(&path, "ok\n").unwrap();
        assert_eq!(read_text(&path).unwrap(), "ok\n");
    }

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

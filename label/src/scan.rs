//! A fast, quote-aware pass over a CSV file that finds every record and counts its fields.
//!
//! polars parses the fields; this pass exists because the Kaggle files need what a CSV parser
//! does not report: which physical line a record starts on and how many fields it has, so that
//! a ragged row can be named and skipped instead of being silently misaligned. Only `\n` ends a
//! record (a `\r` before it is part of the terminator); a bare `\r` is field text.

use memchr::{memchr, memchr3};

/// One record of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordSpan {
    /// Offset of the record's first byte.
    pub start: usize,
    /// Offset one past the record's last byte, terminator (`\n` or `\r\n`) excluded.
    pub end: usize,
    /// Offset one past the terminator: where the next record starts.
    pub next: usize,
    /// Number of fields.
    pub fields: u32,
    /// Whether the last field is empty (a trailing comma).
    pub last_field_empty: bool,
    /// Whether a quoted field was still open at the end of the input (a file cut short).
    pub open_quote: bool,
}

/// Finds every record of `bytes`. Empty lines are skipped. A quote opens a quoted field only at
/// the start of a field; inside one, `""` is a literal quote.
pub(crate) fn scan(bytes: &[u8]) -> Vec<RecordSpan> {
    let mut records = Vec::new();
    let mut pos = 0;
    let len = bytes.len();
    while pos < len {
        let start = pos;
        let mut fields = 1u32;
        let mut field_start = pos;
        let mut at_field_start = true;
        let mut open_quote = false;
        let (end, next) = loop {
            if at_field_start && pos < len && bytes[pos] == b'"' {
                // Quoted field: find the closing quote that is not doubled.
                pos += 1;
                loop {
                    match memchr(b'"', &bytes[pos..]) {
                        None => {
                            pos = len;
                            open_quote = true;
                            break;
                        }
                        Some(i) => {
                            pos += i + 1;
                            if pos < len && bytes[pos] == b'"' {
                                pos += 1;
                            } else {
                                break;
                            }
                        }
                    }
                }
            }
            at_field_start = false;
            match memchr3(b',', b'\n', b'"', &bytes[pos..]) {
                None => break (trim_cr(bytes, start, len), len),
                Some(i) => {
                    let at = pos + i;
                    match bytes[at] {
                        b',' => {
                            fields += 1;
                            pos = at + 1;
                            field_start = pos;
                            at_field_start = true;
                        }
                        b'\n' => break (trim_cr(bytes, start, at), at + 1),
                        _ => pos = at + 1, // a quote inside an unquoted field is text
                    }
                }
            }
        };
        pos = next;
        if end == start {
            continue; // an empty line
        }
        records.push(RecordSpan {
            start,
            end,
            next,
            fields,
            last_field_empty: field_start >= end,
            open_quote,
        });
    }
    records
}

fn trim_cr(bytes: &[u8], start: usize, end: usize) -> usize {
    if end > start && bytes[end - 1] == b'\r' {
        end - 1
    } else {
        end
    }
}

/// The fields of one record, unquoted (used for the header only).
pub(crate) fn split_fields(record: &[u8]) -> Vec<String> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(record);
    let mut row = csv::ByteRecord::new();
    if rdr.read_byte_record(&mut row).unwrap_or(false) {
        row.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect()
    } else {
        Vec::new()
    }
}

/// 1-based line number of byte `offset` (lines end at `\n`).
pub(crate) fn line_of(bytes: &[u8], offset: usize) -> u64 {
    1 + memchr::memchr_iter(b'\n', &bytes[..offset]).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes(text: &str) -> Vec<(String, u32, bool)> {
        let bytes = text.as_bytes();
        scan(bytes)
            .into_iter()
            .map(|r| (text[r.start..r.end].to_owned(), r.fields, r.last_field_empty))
            .collect()
    }

    #[test]
    fn scan_cases() {
        struct Case {
            name: &'static str,
            text: &'static str,
            want: Vec<(&'static str, u32, bool)>,
        }
        let cases = [
            Case {
                name: "lf",
                text: "a,b\n1,2\n",
                want: vec![("a,b", 2, false), ("1,2", 2, false)],
            },
            Case {
                name: "crlf",
                text: "a,b\r\n1,2\r\n",
                want: vec![("a,b", 2, false), ("1,2", 2, false)],
            },
            Case {
                name: "no final newline",
                text: "a,b\n1,2",
                want: vec![("a,b", 2, false), ("1,2", 2, false)],
            },
            Case {
                name: "bare cr in unquoted field is text",
                text: "a,b\r\n1,x\ry\r\n",
                want: vec![("a,b", 2, false), ("1,x\ry", 2, false)],
            },
            Case {
                name: "quoted comma, newline, doubled quote",
                text: "a,b\n\"x,\n\"\"y\"\"\",2\n",
                want: vec![("a,b", 2, false), ("\"x,\n\"\"y\"\"\",2", 2, false)],
            },
            Case {
                name: "trailing comma",
                text: "a,b,\n1,2,\n",
                want: vec![("a,b,", 3, true), ("1,2,", 3, true)],
            },
            Case {
                name: "empty lines skipped",
                text: "a\n\n1\n\r\n",
                want: vec![("a", 1, false), ("1", 1, false)],
            },
            Case {
                name: "quote inside unquoted field",
                text: "a 5\" b,c\n",
                want: vec![("a 5\" b,c", 2, false)],
            },
        ];
        for case in cases {
            let want: Vec<_> = case.want.iter().map(|(s, n, e)| (s.to_string(), *n, *e)).collect();
            assert_eq!(shapes(case.text), want, "case {}", case.name);
        }
    }

    #[test]
    fn line_numbers_count_lf_only() {
        let text = b"h\r\na\rb\r\nc\n";
        let recs = scan(text);
        assert_eq!(recs.len(), 3);
        assert_eq!(line_of(text, recs[2].start), 3);
        assert_eq!(split_fields(b"\"x,y\",z"), vec!["x,y", "z"]);
    }
}

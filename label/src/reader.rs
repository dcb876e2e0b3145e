//! Reading Kaggle Edmunds review files with polars, quirks included.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;

use crate::scan::{self, RecordSpan};
use crate::Error;

/// The Kaggle Edmunds columns after the index, in file order, as the labeler names them.
pub const KAGGLE_COLUMNS: [&str; 6] =
    ["Review_Date", "Author_Name", "Vehicle_Title", "Review_Title", "Review", "Rating"];

/// The name of the index column in the output (the Kaggle files leave it unnamed).
pub const INDEX_COLUMN: &str = "index";

/// Columns whose surrounding spaces are scraping artefacts and are trimmed.
const TRIMMED: [&str; 3] = ["Review_Date", "Author_Name", "Review"];

/// A row that was skipped because its field count did not fit the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRow {
    pub path: PathBuf,
    /// 1-based line where the record starts.
    pub line: u64,
    pub fields: u32,
    pub expected: String,
}

impl std::fmt::Display for SkippedRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: line {}: ragged row skipped: {} fields, expected {}",
            self.path.display(),
            self.line,
            self.fields,
            self.expected
        )
    }
}

/// One review file read into a frame with the labeler's schema: `index` (i64), the Kaggle
/// columns under their canonical names, any extra columns as given, all text with `\n` line
/// breaks, `Rating` as f64.
#[derive(Debug)]
pub struct ReviewFile {
    pub path: PathBuf,
    pub frame: DataFrame,
    pub skipped: Vec<SkippedRow>,
    /// `Rating` cells that were not empty but not a number either (now null).
    pub bad_ratings: usize,
    pub bytes: usize,
}

/// Reads one review file. With `strict`, a ragged row is an error; otherwise it is skipped and
/// reported in [`ReviewFile::skipped`].
///
/// # Errors
/// The file cannot be read, is empty, has no `Review` column, or (strict) has a ragged row;
/// errors name the file and, where one exists, the line.
pub fn read_review_file(path: &Path, strict: bool) -> Result<ReviewFile, Error> {
    let bytes =
        std::fs::read(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    read_review_bytes(path, bytes, strict)
}

/// The columns that [`read_review_file`] gives `path`, in order, from its header alone (the
/// first record; only as much of the file is read as the header needs).
///
/// # Errors
/// As [`read_review_file`] for the header: unreadable, empty, no `Review` column.
pub fn header_columns(path: &Path) -> Result<Vec<String>, Error> {
    use std::io::Read;
    let io = |source| Error::Io { path: path.to_owned(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    let mut chunk = 1 << 16;
    loop {
        let read = (&mut file).take(chunk as u64).read_to_end(&mut bytes).map_err(io)?;
        let eof = read < chunk;
        let records = scan::scan(&bytes);
        // The header is known once a second record starts, or the file has ended.
        if eof || records.len() > 1 {
            let Some(header) = records.first() else {
                return Err(Error::Empty { path: path.to_owned() });
            };
            let layout =
                Layout::from_header(path, &scan::split_fields(&bytes[header.start..header.end]))?;
            let index = (!layout.has_index).then(|| INDEX_COLUMN.to_owned());
            return Ok(index
                .into_iter()
                .chain(layout.output_names.into_iter().flatten())
                .collect());
        }
        chunk *= 4;
    }
}

/// Refuses bytes that are not UTF-8 text, naming the first bad byte's line, column and offset,
/// so that a user can open the file at the right place; a binary file (a NUL byte near the
/// start) is named as such instead of being parsed into column names made of binary.
pub(crate) fn check_text(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if memchr::memchr(0, &bytes[..bytes.len().min(8192)]).is_some() {
        return Err(Error::Binary { path: path.to_owned() });
    }
    if let Some(p) = records::text::utf8_problem(bytes) {
        return Err(Error::Encoding { path: path.to_owned(), problem: p });
    }
    Ok(())
}

pub(crate) fn read_review_bytes(
    path: &Path,
    bytes: Vec<u8>,
    strict: bool,
) -> Result<ReviewFile, Error> {
    let n_bytes = bytes.len();
    check_text(path, &bytes)?;
    let records = scan::scan(&bytes);
    let Some(header) = records.first() else {
        return Err(Error::Empty { path: path.to_owned() });
    };
    let raw_names = scan::split_fields(&bytes[header.start..header.end]);
    let layout = Layout::from_header(path, &raw_names)?;

    // Decide for every data record whether it fits the header.
    let mut keep: Vec<&RecordSpan> = Vec::with_capacity(records.len());
    let mut ordinals: Vec<i64> = Vec::with_capacity(records.len());
    let mut skipped = Vec::new();
    for (ordinal, record) in records[1..].iter().enumerate() {
        if layout.fits(record) {
            keep.push(record);
            ordinals.push(ordinal as i64);
        } else {
            let row = SkippedRow {
                path: path.to_owned(),
                line: scan::line_of(&bytes, record.start),
                fields: record.fields,
                expected: layout.expected(),
            };
            if strict {
                return Err(Error::Ragged {
                    path: row.path,
                    line: row.line,
                    fields: row.fields,
                    expected: row.expected,
                });
            }
            skipped.push(row);
        }
    }

    // polars reads the records that fit. When none was skipped the file is read as it is.
    let body: Vec<u8> = if skipped.is_empty() {
        bytes
    } else {
        let mut body = Vec::with_capacity(bytes.len());
        body.extend_from_slice(&bytes[header.start..header.next]);
        for r in &keep {
            body.extend_from_slice(&bytes[r.start..r.end]);
            body.push(b'\n');
        }
        body
    };
    let mut frame = if keep.is_empty() {
        DataFrame::new_infer_height(
            layout
                .file_names
                .iter()
                .map(|n| Column::new_empty(n.as_str().into(), &DataType::String))
                .collect(),
        )
        .map_err(|e| polars_error(path, e))?
    } else {
        let schema: Schema = layout
            .file_names
            .iter()
            .map(|n| Field::new(n.as_str().into(), DataType::String))
            .collect();
        CsvReadOptions::default()
            .with_has_header(true)
            .with_schema(Some(Arc::new(schema)))
            .with_n_threads(Some(1))
            .with_rechunk(true)
            .map_parse_options(|o| o.with_missing_is_null(false))
            .into_reader_with_file_handle(std::io::Cursor::new(body))
            .finish()
            .map_err(|e| polars_error(path, e))?
    };
    if frame.height() != keep.len() {
        return Err(Error::Polars {
            path: path.to_owned(),
            message: format!(
                "read {} rows where the scan found {} records",
                frame.height(),
                keep.len()
            ),
        });
    }
    let bad_ratings = layout.normalise(path, &mut frame, &ordinals)?;
    check_unique_index(path, &frame)?;
    Ok(ReviewFile { path: path.to_owned(), frame, skipped, bad_ratings, bytes: n_bytes })
}

/// A review's id is its file's name and its index: an index that occurs twice in one file would
/// give two reviews one id (splits, exclusions and scores would mix them up).
fn check_unique_index(path: &Path, frame: &DataFrame) -> Result<(), Error> {
    let index = frame
        .column(INDEX_COLUMN)
        .and_then(|c| c.i64().cloned())
        .map_err(|e| polars_error(path, e))?;
    let mut seen: std::collections::HashMap<i64, usize> =
        std::collections::HashMap::with_capacity(index.len());
    for (row, value) in index.iter().enumerate() {
        let Some(value) = value else { continue };
        if let Some(first) = seen.insert(value, row) {
            return Err(Error::Field {
                path: path.to_owned(),
                row,
                field: INDEX_COLUMN.to_owned(),
                message: format!(
                    "index {value} is also the index of row {first}: review ids would collide"
                ),
            });
        }
    }
    Ok(())
}

/// How a file's header maps onto the labeler's schema.
#[derive(Debug)]
struct Layout {
    /// Unique names given to polars, one per header field.
    file_names: Vec<String>,
    /// The output name of each header field; `None` drops it (a trailing comma's empty column).
    output_names: Vec<Option<String>>,
    /// Whether the first field is the index column.
    has_index: bool,
    /// Header fields, the trailing-comma column excluded.
    named_fields: u32,
    /// Whether the header ends with a trailing comma (an unnamed last column).
    trailing_comma: bool,
    /// A record needs at least this many fields: every Kaggle column must be present; only
    /// extra columns after them may be missing.
    min_fields: u32,
}

impl Layout {
    fn from_header(path: &Path, raw: &[String]) -> Result<Self, Error> {
        let mut names: Vec<String> = raw.iter().map(|n| n.trim().to_owned()).collect();
        let trailing_comma = names.len() > 1 && names.last().is_some_and(|n| n.is_empty());
        if trailing_comma {
            names.pop();
        }
        let first = names.first().map(|n| n.to_ascii_lowercase()).unwrap_or_default();
        let has_index = matches!(first.as_str(), "" | "index" | "id" | "unnamed: 0");
        let mut output_names: Vec<Option<String>> = Vec::with_capacity(raw.len());
        let mut last_kaggle = None;
        for (i, name) in names.iter().enumerate() {
            let out = if i == 0 && has_index {
                INDEX_COLUMN.to_owned()
            } else if let Some(k) = KAGGLE_COLUMNS.iter().find(|k| k.eq_ignore_ascii_case(name)) {
                last_kaggle = Some(i);
                (*k).to_owned()
            } else if name.is_empty() {
                format!("column_{}", i + 1)
            } else {
                name.clone()
            };
            if output_names.iter().flatten().any(|n| *n == out) {
                return Err(Error::DuplicateColumn { path: path.to_owned(), column: out });
            }
            output_names.push(Some(out));
        }
        if !output_names.iter().flatten().any(|n| n == "Review") {
            return Err(Error::MissingReview { path: path.to_owned(), found: names.clone() });
        }
        if trailing_comma {
            output_names.push(None);
        }
        let file_names = (0..output_names.len()).map(|i| format!("f{i}")).collect();
        Ok(Self {
            file_names,
            output_names,
            has_index,
            named_fields: names.len() as u32,
            trailing_comma,
            min_fields: last_kaggle.map_or(names.len(), |i| i + 1) as u32,
        })
    }

    /// Whether a record's fields line up with the header.
    fn fits(&self, r: &RecordSpan) -> bool {
        let fields =
            if self.trailing_comma && r.fields == self.named_fields + 1 && r.last_field_empty {
                self.named_fields
            } else {
                r.fields
            };
        (self.min_fields..=self.named_fields).contains(&fields)
    }

    fn expected(&self) -> String {
        let mut s = if self.min_fields == self.named_fields {
            self.named_fields.to_string()
        } else {
            format!("{} to {}", self.min_fields, self.named_fields)
        };
        if self.trailing_comma {
            s.push_str(" (plus an empty trailing field)");
        }
        s
    }

    /// Renames, drops, trims and types the columns; returns the count of unparsable ratings.
    fn normalise(
        &self,
        path: &Path,
        frame: &mut DataFrame,
        ordinals: &[i64],
    ) -> Result<usize, Error> {
        let height = frame.height();
        let mut columns: Vec<Column> = Vec::with_capacity(self.output_names.len() + 1);
        if !self.has_index {
            columns.push(Column::new(INDEX_COLUMN.into(), ordinals));
        }
        let mut bad_ratings = 0;
        for (file_name, out) in self.file_names.iter().zip(&self.output_names) {
            let Some(out) = out else { continue };
            let col = frame.column(file_name).map_err(|e| polars_error(path, e))?;
            let strings = col.str().map_err(|e| polars_error(path, e))?;
            let trim = TRIMMED.contains(&out.as_str());
            let column = match out.as_str() {
                INDEX_COLUMN => {
                    let mut values = Vec::with_capacity(height);
                    for (row, v) in strings.iter().enumerate() {
                        let v = v.unwrap_or("").trim();
                        let parsed =
                            if v.is_empty() { Ok(ordinals[row]) } else { v.parse::<i64>() };
                        values.push(parsed.map_err(|_| Error::Field {
                            path: path.to_owned(),
                            row,
                            field: INDEX_COLUMN.to_owned(),
                            message: format!("{v:?} is not an integer"),
                        })?);
                    }
                    Column::new(INDEX_COLUMN.into(), values)
                }
                "Rating" => {
                    let values: Vec<Option<f64>> = strings
                        .iter()
                        .map(|v| {
                            let v = v.unwrap_or("").trim();
                            if v.is_empty() {
                                return None;
                            }
                            let parsed = v.parse::<f64>().ok().filter(|x| x.is_finite());
                            bad_ratings += usize::from(parsed.is_none());
                            parsed
                        })
                        .collect();
                    Column::new("Rating".into(), values)
                }
                _ => {
                    fn clean(v: &str, trim: bool) -> std::borrow::Cow<'_, str> {
                        records::text::unify_line_breaks(if trim { v.trim() } else { v })
                    }
                    // Most columns have nothing to trim or unify: then they are kept as read.
                    let unchanged = strings.iter().flatten().all(|v| {
                        matches!(clean(v, trim), std::borrow::Cow::Borrowed(c) if c.len() == v.len())
                    });
                    if unchanged {
                        strings.clone().with_name(out.as_str().into()).into_column()
                    } else {
                        let ca: StringChunked =
                            strings.iter().map(|v| v.map(|v| clean(v, trim))).collect();
                        ca.with_name(out.as_str().into()).into_column()
                    }
                }
            };
            columns.push(column);
        }
        *frame = DataFrame::new_infer_height(columns).map_err(|e| polars_error(path, e))?;
        Ok(bad_ratings)
    }
}

fn polars_error(path: &Path, e: PolarsError) -> Error {
    Error::Polars { path: path.to_owned(), message: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> ReviewFile {
        read_review_bytes(Path::new("t.csv"), text.as_bytes().to_vec(), false).unwrap()
    }

    fn strings(f: &ReviewFile, col: &str) -> Vec<Option<String>> {
        f.frame.column(col).unwrap().str().unwrap().iter().map(|s| s.map(str::to_owned)).collect()
    }

    const HEADER: &str = ",Review_Date,Author_Name,Vehicle_Title,Review_Title,Review,Rating";

    #[test]
    fn kaggle_quirks_survive() {
        let text = format!(
            "{HEADER}\r\n0, on 08/30/18 15:36 PM (PDT),Ann ,2015 Car,Title, First line\rsecond line,4.875\r\n\
             1, on 01/01/10 10:00 AM (PST),Bob ,2010 Car,\"Quoted, title\",\" He said \"\"wow\"\", then\rleft \",5\r\n\
             2, on 01/01/10 10:00 AM (PST),Cy ,2010 Car,Empty, ,3\r\n"
        );
        let f = read(&text);
        assert_eq!(f.frame.height(), 3);
        let names: Vec<_> = f.frame.get_column_names().into_iter().map(|s| s.to_string()).collect();
        assert_eq!(
            names,
            [
                "index",
                "Review_Date",
                "Author_Name",
                "Vehicle_Title",
                "Review_Title",
                "Review",
                "Rating"
            ]
        );
        assert_eq!(
            strings(&f, "Review"),
            [
                Some("First line\nsecond line".into()),
                Some("He said \"wow\", then\nleft".into()),
                Some("".into())
            ]
        );
        assert_eq!(strings(&f, "Review_Date")[0].as_deref(), Some("on 08/30/18 15:36 PM (PDT)"));
        assert_eq!(strings(&f, "Author_Name")[0].as_deref(), Some("Ann"));
        assert_eq!(strings(&f, "Review_Title")[1].as_deref(), Some("Quoted, title"));
        let ratings: Vec<_> = f.frame.column("Rating").unwrap().f64().unwrap().iter().collect();
        assert_eq!(ratings, [Some(4.875), Some(5.0), Some(3.0)]);
        let index: Vec<_> = f.frame.column("index").unwrap().i64().unwrap().iter().collect();
        assert_eq!(index, [Some(0), Some(1), Some(2)]);
    }

    #[test]
    fn renamed_lowercase_and_missing_index() {
        let f = read(
            "Id,review_date,author_name,vehicle_title,review_title,review,rating\n7,d,a,v,t,r,4",
        );
        assert_eq!(f.frame.get_column_names()[0].as_str(), "index");
        assert_eq!(f.frame.get_column_names()[5].as_str(), "Review");
        assert_eq!(f.frame.column("index").unwrap().i64().unwrap().get(0), Some(7));
        let f = read("Review_Date,Author_Name,Vehicle_Title,Review_Title,Review,Rating\nd,a,v,t,r1,\nd,a,v,t,r2,2\n");
        assert_eq!(
            f.frame.column("index").unwrap().i64().unwrap().iter().collect::<Vec<_>>(),
            [Some(0), Some(1)]
        );
        assert_eq!(f.frame.column("Rating").unwrap().f64().unwrap().get(0), None);
    }

    #[test]
    fn trailing_commas_and_shifted_rows() {
        let text = format!(
            "{HEADER},\n0,d,a,v,t,r0,5,\n1,d,a,v,t;x,r1,4\n2,d,a,v,t,x,r2,3\n3,d,a,v,t,r3,2,\n"
        );
        let f = read(&text);
        assert_eq!(f.frame.width(), 7, "the trailing comma's column is dropped");
        assert_eq!(
            strings(&f, "Review"),
            [Some("r0".into()), Some("r1".into()), Some("r3".into())]
        );
        assert_eq!(f.skipped.len(), 1);
        assert_eq!(f.skipped[0].line, 4);
        assert_eq!(f.skipped[0].to_string(), "t.csv: line 4: ragged row skipped: 8 fields, expected 7 (plus an empty trailing field)");
        let err = read_review_bytes(Path::new("t.csv"), text.into_bytes(), true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.csv: line 4: ragged row: 8 fields, expected 7 (plus an empty trailing field)"
        );
    }

    #[test]
    fn extra_unfilled_column_is_read() {
        let text = format!("{HEADER},Sentiment\n0,d,a,v,t,r0,5\n1,d,a,v,t,r1,4,pos\n2,d,a,v,t\n");
        let f = read(&text);
        assert_eq!(f.frame.height(), 2);
        assert_eq!(strings(&f, "Sentiment"), [Some("".into()), Some("pos".into())]);
        assert_eq!(f.skipped.len(), 1, "a row missing Review and Rating is ragged");
    }

    #[test]
    fn missing_review_column_names_file_and_columns() {
        let err = read_review_bytes(Path::new("x.csv"), b"a,b\n1,2\n".to_vec(), false).unwrap_err();
        assert_eq!(err.to_string(), "x.csv: no Review column (columns found: \"a\", \"b\")");
    }

    #[test]
    fn one_row_file_without_final_newline() {
        let f = read(&format!("{HEADER}\n0,d,a,v,t, only review,5"));
        assert_eq!(strings(&f, "Review"), [Some("only review".into())]);
    }
}

//! The labeled table: written by the labeler as `.csv` (List_part as a JSON array string) or
//! `.parquet` (a native list column), and read back by later stages through [`read_labeled`].

use std::path::Path;

use polars::prelude::*;
use records::{LabeledReview, ReviewId};

use crate::Error;

/// The output format, chosen by the output file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
}

impl Format {
    /// The format of `path`, by extension.
    ///
    /// # Errors
    /// [`Error::OutputFormat`] for any other extension.
    pub fn of(path: &Path) -> Result<Self, Error> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("csv") => Ok(Self::Csv),
            Some("parquet") | Some("pq") => Ok(Self::Parquet),
            _ => Err(Error::OutputFormat { path: path.to_owned() }),
        }
    }
}

/// Writes the labeled frame atomically. For CSV, list columns are written as JSON arrays.
///
/// # Errors
/// Unsupported extension, or any polars / I/O error, naming the file.
pub fn write_table(frame: &mut DataFrame, path: &Path) -> Result<(), Error> {
    let format = Format::of(path)?;
    let mut csv_frame = match format {
        Format::Csv => Some(lists_as_json(frame).map_err(|e| polars_error(path, e))?),
        Format::Parquet => None,
    };
    records::atomic::write_atomic(path, |w| {
        match csv_frame.as_mut() {
            Some(f) => CsvWriter::new(w).include_header(true).finish(f),
            None => ParquetWriter::new(w)
                .with_compression(ParquetCompression::Snappy)
                .finish(frame)
                .map(|_| ()),
        }
        .map_err(|e| std::io::Error::other(e.to_string()))
    })?;
    Ok(())
}

/// `frame` as CSV bytes (list columns as JSON arrays), with or without the header line.
pub(crate) fn csv_bytes(frame: &DataFrame, header: bool) -> PolarsResult<Vec<u8>> {
    let mut frame = lists_as_json(frame)?;
    let mut out = Vec::with_capacity(frame.height() * 640);
    CsvWriter::new(&mut out).include_header(header).n_threads(1).finish(&mut frame)?;
    Ok(out)
}

/// Writes a CSV table atomically from its column names and its rows, already serialised in
/// pieces by [`csv_bytes`] without a header.
pub(crate) fn write_csv_parts(
    path: &Path,
    columns: &[String],
    parts: &[Vec<u8>],
) -> Result<(), Error> {
    let empty = DataFrame::new(
        0,
        columns.iter().map(|n| Column::new_empty(n.as_str().into(), &DataType::String)).collect(),
    )
    .and_then(|f| csv_bytes(&f, true))
    .map_err(|e| polars_error(path, e))?;
    records::atomic::write_atomic(path, |w| {
        use std::io::Write;
        w.write_all(&empty)?;
        parts.iter().try_for_each(|p| w.write_all(p))
    })?;
    Ok(())
}

/// A copy of `frame` whose list-of-string columns are JSON array strings.
fn lists_as_json(frame: &DataFrame) -> PolarsResult<DataFrame> {
    let mut columns = Vec::with_capacity(frame.width());
    for col in frame.columns() {
        if let DataType::List(inner) = col.dtype() {
            if **inner == DataType::String {
                let lists = col.list()?;
                let json: StringChunked = lists
                    .amortized_iter()
                    .map(|opt| {
                        opt.map(|s| {
                            let values: Vec<&str> = s
                                .as_ref()
                                .str()
                                .map(|ca| ca.iter().flatten().collect())
                                .unwrap_or_default();
                            serde_json::to_string(&values).expect("strings serialise")
                        })
                    })
                    .collect();
                columns.push(json.with_name(col.name().clone()).into_column());
                continue;
            }
        }
        columns.push(col.clone());
    }
    DataFrame::new_infer_height(columns)
}

/// Reads a labeled table (`.csv` or `.parquet`) written by the labeler.
///
/// # Errors
/// The file cannot be read, or lacks `Review`, `List_part`, `source_file` or `index`; errors
/// name the file, and the row for a malformed `List_part`.
pub fn read_labeled(path: &Path) -> Result<Vec<LabeledReview>, Error> {
    let format = Format::of(path)?;
    if format == Format::Csv {
        check_csv(path)?;
    }
    let reviews = read_frame(path, format)?;
    // One id, one review: a second row with the same id would give two examples one id.
    let mut rows: std::collections::HashMap<&ReviewId, usize> =
        std::collections::HashMap::with_capacity(reviews.len());
    for (row, review) in reviews.iter().enumerate() {
        if let Some(first) = rows.insert(&review.id, row) {
            return Err(Error::Field {
                path: path.to_owned(),
                row,
                field: "index".to_owned(),
                message: format!("review id {} is also at row {first}", review.id),
            });
        }
    }
    Ok(reviews)
}

/// What polars lets through in a CSV, checked first: bytes that are not UTF-8 text, a record
/// whose field count differs from the header's (polars pads a short last record with nulls, so a
/// table cut inside a row would give a review under a cut id with no parts), a quoted field
/// still open at the end (a file cut short). Errors name the line.
fn check_csv(path: &Path) -> Result<(), Error> {
    let bytes =
        std::fs::read(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    crate::reader::check_text(path, &bytes)?;
    let records = crate::scan::scan(&bytes);
    let Some(header) = records.first() else {
        return Err(Error::Empty { path: path.to_owned() });
    };
    for record in &records {
        let line = crate::scan::line_of(&bytes, record.start);
        if record.open_quote {
            return Err(Error::OpenQuote { path: path.to_owned(), line });
        }
        if record.fields != header.fields {
            return Err(Error::Ragged {
                path: path.to_owned(),
                line,
                fields: record.fields,
                expected: format!("{} as in the header (is the file cut short?)", header.fields),
            });
        }
    }
    Ok(())
}

fn read_frame(path: &Path, format: Format) -> Result<Vec<LabeledReview>, Error> {
    let frame = match format {
        Format::Csv => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(path.to_owned()))
            .and_then(|r| r.finish()),
        Format::Parquet => std::fs::File::open(path)
            .map_err(PolarsError::from)
            .and_then(|f| ParquetReader::new(f).finish()),
    }
    .map_err(|e| polars_error(path, e))?;
    let column = |name: &str| {
        frame.column(name).map_err(|_| Error::Field {
            path: path.to_owned(),
            row: 0,
            field: name.to_owned(),
            message: "column missing".into(),
        })
    };
    let as_strings = |name: &str| -> Result<StringChunked, Error> {
        let col = column(name)?;
        Ok(col
            .cast(&DataType::String)
            .map_err(|e| polars_error(path, e))?
            .str()
            .map_err(|e| polars_error(path, e))?
            .clone())
    };
    let reviews = as_strings("Review")?;
    let files = as_strings("source_file")?;
    let index = column("index")?.cast(&DataType::Int64).map_err(|e| polars_error(path, e))?;
    let index = index.i64().map_err(|e| polars_error(path, e))?;
    let titles =
        frame.column("Review_Title").ok().map(|_| as_strings("Review_Title")).transpose()?;
    let ratings = match frame.column("Rating") {
        Ok(c) => Some(c.cast(&DataType::Float64).map_err(|e| polars_error(path, e))?),
        Err(_) => None,
    };
    let parts_col = column("List_part")?;
    let parts: Vec<Vec<String>> = match parts_col.dtype() {
        DataType::List(_) => parts_col
            .list()
            .map_err(|e| polars_error(path, e))?
            .amortized_iter()
            .map(|opt| {
                opt.and_then(|s| {
                    s.as_ref().str().ok().map(|ca| ca.iter().flatten().map(str::to_owned).collect())
                })
                .unwrap_or_default()
            })
            .collect(),
        _ => {
            let json = as_strings("List_part")?;
            let mut out = Vec::with_capacity(json.len());
            for (row, v) in json.iter().enumerate() {
                let v = v.unwrap_or("[]");
                out.push(serde_json::from_str::<Vec<String>>(v).map_err(|e| Error::Field {
                    path: path.to_owned(),
                    row,
                    field: "List_part".into(),
                    message: format!("not a JSON array of strings: {e}"),
                })?);
            }
            out
        }
    };
    let spans = match frame.column("Spans_part") {
        Ok(_) => {
            let json = as_strings("Spans_part")?;
            let mut out = Vec::with_capacity(json.len());
            for (row, v) in json.iter().enumerate() {
                let v = v.unwrap_or("[]");
                out.push(serde_json::from_str::<Vec<records::Mention>>(v).map_err(|e| {
                    Error::Field {
                        path: path.to_owned(),
                        row,
                        field: "Spans_part".into(),
                        message: format!("not a JSON array of mentions: {e}"),
                    }
                })?);
            }
            Some(out)
        }
        Err(_) => None,
    };
    let mut spans = spans.map(Vec::into_iter);
    let mut out = Vec::with_capacity(frame.height());
    for (row, parts) in parts.into_iter().enumerate() {
        out.push(LabeledReview {
            id: ReviewId::new(files.get(row).unwrap_or(""), index.get(row).unwrap_or(row as i64)),
            title: titles.as_ref().and_then(|t| t.get(row)).unwrap_or("").to_owned(),
            review: reviews.get(row).unwrap_or("").to_owned(),
            rating: ratings.as_ref().and_then(|r| r.f64().ok()).and_then(|r| r.get(row)),
            parts,
            spans: spans.as_mut().and_then(Iterator::next),
        });
    }
    Ok(out)
}

pub(crate) fn polars_error(path: &Path, e: PolarsError) -> Error {
    Error::Polars { path: path.to_owned(), message: e.to_string() }
}

/// Builds a `List_part` column from part-id lists.
pub(crate) fn list_column(name: &str, parts: &[Vec<u32>], canonicals: &[String]) -> Column {
    let total: usize = parts.iter().map(Vec::len).sum();
    let mut builder = ListStringChunkedBuilder::new(name.into(), parts.len(), total);
    for p in parts {
        builder.append_values_iter(p.iter().map(|&id| canonicals[id as usize].as_str()));
    }
    builder.finish().into_column()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_are_checked_for_field_counts_and_open_quotes() {
        struct Case {
            name: &'static str,
            csv: &'static str,
            /// The error's text after the path; `None` when the file passes.
            error: Option<&'static str>,
        }
        let cases = [
            Case { name: "plain", csv: "a,b,c\n1,2,3\n", error: None },
            Case { name: "no final line break", csv: "a,b,c\n1,2,3", error: None },
            Case { name: "blank lines, crlf", csv: "a,b,c\r\n\r\n1,2,3\r\n\n", error: None },
            Case {
                name: "quoted comma and line break",
                csv: "a,b\n\"x,\ny\",2\n3,4\n",
                error: None,
            },
            Case { name: "doubled quotes", csv: "a,b\n\"[\"\"x\"\"]\",2\n", error: None },
            Case { name: "quote inside an unquoted field", csv: "a,b\n5\" tire,2\n", error: None },
            Case {
                name: "row cut short",
                csv: "a,b,c\n1,2,3\n\"x\ny\",2\n",
                error: Some("line 3: ragged row: 2 fields, expected 3 as in the header"),
            },
            Case {
                name: "row too long",
                csv: "a,b\n1,2,3\n",
                error: Some("line 2: ragged row: 3 fields, expected 2 as in the header"),
            },
            Case {
                name: "quoted field left open",
                csv: "a,b\n1,2\n3,\"x\n\ny",
                error: Some("line 3: a quoted field is not closed before the end of the file"),
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        for case in cases {
            std::fs::write(&path, case.csv).unwrap();
            let got = check_csv(&path).err().map(|e| e.to_string());
            match (case.error, got) {
                (None, None) => {}
                (Some(want), Some(got)) => {
                    assert!(got.contains(&format!("t.csv: {want}")), "{}: {got}", case.name);
                }
                (want, got) => panic!("{}: want {want:?}, got {got:?}", case.name),
            }
        }
    }
}

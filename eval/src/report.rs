//! One self-contained HTML page about several runs: the comparison table, the training curves
//! (PNG images embedded as base64 `data:` URLs) and each run's scores (`scores.json`) and
//! classification metrics (`classification.json`). The page has no external reference, so it
//! can be mailed or archived as one file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::classification::ClassificationReport;
use crate::compare::{comparison_table, summarize_run, RunSummary};
use crate::plot::confusion::{render_confusion_png, ConfusionConfig};
use crate::plot::curves::{render_chart_png, CurveConfig, Metric, RunCurves, XAxis};
use crate::score::ScoreReport;
use crate::Result;

/// Options of [`render_report`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReportConfig {
    /// The page title. Default "partfinder runs".
    pub title: String,
    /// How the curves are drawn.
    pub curves: CurveConfig,
    /// Rows of each run's per-part table. Default 30.
    pub max_parts: usize,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self { title: "partfinder runs".to_owned(), curves: CurveConfig::default(), max_parts: 30 }
    }
}

/// The page and what was skipped on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub html: String,
    /// Unreadable files and runs without curves.
    pub warnings: Vec<String>,
}

/// Builds the report page for `run_dirs`.
///
/// # Errors
/// A path is not a directory, no font is available, or a chart cannot be drawn. Missing or
/// unreadable files inside a run become warnings.
pub fn render_report(run_dirs: &[PathBuf], config: &ReportConfig) -> Result<Report> {
    let mut warnings = Vec::new();
    let mut summaries: Vec<RunSummary> = Vec::new();
    for dir in run_dirs {
        let s = summarize_run(dir)?;
        warnings.extend(s.warnings.iter().cloned());
        summaries.push(s);
    }
    let mut curves = Vec::new();
    for dir in run_dirs {
        if dir.join("results.csv").exists() {
            match RunCurves::load(dir) {
                Ok(c) => curves.push(c),
                Err(e) => warnings.push(e.to_string()),
            }
        } else {
            warnings.push(format!("{}: no results.csv, no curves", dir.display()));
        }
    }

    let mut h = String::new();
    let title = escape(&config.title);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n<p class=\"muted\">{} run(s): {}</p>\n",
        run_dirs.len(),
        escape(&summaries.iter().map(|s| s.run.as_str()).collect::<Vec<_>>().join(", "))
    );

    h.push_str("<h2>Comparison</h2>\n");
    h.push_str(&table_html(
        &comparison_table(&summaries).header,
        &comparison_table(&summaries).rows,
    ));
    let _ = writeln!(
        h,
        "<p class=\"muted\">train metrics: mean of the last {} steps; val metrics: the last \
         validation; test metrics: <code>scores.json</code> from <code>eval score --out</code>.</p>",
        crate::compare::FINAL_WINDOW
    );

    h.push_str("<h2>Training curves</h2>\n");
    if curves.is_empty() {
        h.push_str("<p>No run has a <code>results.csv</code>.</p>\n");
    } else {
        h.push_str(
            "<p class=\"muted\">Light lines: raw training values per step (a light band of the \
             10th to 90th percentile when steps outnumber pixels); bold lines: centred moving \
             average; dots: validation.</p>\n<div class=\"charts\">\n",
        );
        for metric in Metric::ALL {
            for x in XAxis::ALL {
                let png = render_chart_png(&curves, metric, x, &config.curves)?;
                let _ = writeln!(
                    h,
                    "<img alt=\"{} by {}\" src=\"data:image/png;base64,{}\">",
                    metric.slug(),
                    x.slug(),
                    base64(&png)
                );
            }
        }
        h.push_str("</div>\n");
    }

    for dir in run_dirs {
        let name = crate::compare::run_name(dir);
        if let Some(scores) = read_json::<ScoreReport>(&dir.join("scores.json"), &mut warnings) {
            let _ = writeln!(h, "<h2>Scores: {}</h2>", escape(&name));
            scores_html(&mut h, &scores, config.max_parts);
        }
        let class_path = dir.join("classification.json");
        if let Some(report) = read_json::<ClassificationReport>(&class_path, &mut warnings) {
            let _ = writeln!(h, "<h2>Classification: {}</h2>", escape(&name));
            classification_html(&mut h, &report, config)?;
        }
    }
    h.push_str("</body>\n</html>\n");
    Ok(Report { html: h, warnings })
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;\
max-width:1300px;padding:0 1em;color:#222}table{border-collapse:collapse;margin:1em 0;font-size:14px}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f2f2f2}\
td:first-child,th:first-child{text-align:left}.muted{color:#666}img{max-width:100%;\
border:1px solid #ddd;margin:6px 0}.charts img{width:49%}pre{background:#f7f7f7;padding:8px}";

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, warnings: &mut Vec<String>) -> Option<T> {
    let text = std::fs::read_to_string(path).ok()?;
    match serde_json::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            warnings.push(format!("{}: {e}", path.display()));
            None
        }
    }
}

fn table_html(header: &[String], rows: &[Vec<String>]) -> String {
    let mut h = String::from("<table>\n<tr>");
    for c in header {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr>\n");
    for row in rows {
        h.push_str("<tr>");
        for c in row {
            let _ = write!(h, "<td>{}</td>", escape(c));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    h
}

fn scores_html(h: &mut String, s: &ScoreReport, max_parts: usize) {
    let f = |v: f64| format!("{v:.4}");
    let _ = writeln!(
        h,
        "<p>{} examples scored ({} predictions without gold, {} gold examples without \
         prediction); exact match {} ({}/{})</p>",
        s.examples,
        s.unmatched_predictions,
        s.missing_predictions,
        f(s.exact_match),
        s.exact_matches,
        s.examples
    );
    let mut rows = vec![
        vec!["micro".into(), f(s.micro.precision), f(s.micro.recall), f(s.micro.f1)],
        vec![
            "macro (gold parts)".into(),
            f(s.macro_.precision),
            f(s.macro_.recall),
            f(s.macro_.f1),
        ],
    ];
    if let Some(ho) = &s.heldout {
        for (name, g) in [("held-out parts", &ho.heldout), ("seen parts", &ho.seen)] {
            rows.push(vec![
                format!("{name} ({} in gold, {} mentions)", g.parts_in_gold, g.support),
                f(g.precision),
                f(g.recall),
                String::new(),
            ]);
        }
    }
    let header = ["", "precision", "recall", "F1"].map(String::from);
    h.push_str(&table_html(&header, &rows));
    let parts: Vec<Vec<String>> = s
        .parts
        .iter()
        .take(max_parts)
        .map(|p| {
            vec![
                format!("{}{}", p.part, if p.heldout { " (held out)" } else { "" }),
                p.support.to_string(),
                p.predicted.to_string(),
                f(p.precision),
                f(p.recall),
                f(p.f1),
            ]
        })
        .collect();
    let header = ["part", "support", "predicted", "P", "R", "F1"].map(String::from);
    let _ = writeln!(h, "<h3>Parts (top {} of {} by support)</h3>", parts.len(), s.parts.len());
    h.push_str(&table_html(&header, &parts));
    if !s.worst.is_empty() {
        let rows: Vec<Vec<String>> = s
            .worst
            .iter()
            .map(|e| {
                vec![e.id.clone(), e.missing.join(", "), e.extra.join(", "), e.completion.clone()]
            })
            .collect();
        h.push_str("<h3>Worst examples</h3>\n");
        let header = ["id", "missing", "extra", "completion"].map(String::from);
        h.push_str(&table_html(&header, &rows));
    }
}

fn classification_html(
    h: &mut String,
    r: &ClassificationReport,
    config: &ReportConfig,
) -> Result<()> {
    let _ = writeln!(
        h,
        "<p>accuracy {:.4} ({}/{}), macro F1 {:.4}, weighted F1 {:.4}</p>",
        r.accuracy, r.correct, r.total, r.macro_f1, r.weighted_f1
    );
    let png = render_confusion_png(
        r,
        &ConfusionConfig { title: None, font: config.curves.font.clone() },
    )?;
    let _ = writeln!(
        h,
        "<img alt=\"confusion matrix\" src=\"data:image/png;base64,{}\">",
        base64(&png)
    );
    Ok(())
}

/// HTML-escapes text for element content and quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Standard base64 (RFC 4648, with padding). Small enough not to warrant a dependency.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(base64(input.as_bytes()), want, "{input:?}");
        }
        assert_eq!(base64(&[0xff, 0xfe]), "//4=");
    }

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}

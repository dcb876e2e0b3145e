//! Throughput of the matcher alone (no reading or writing), over the `Review` text of every file
//! given, best of five passes:
//!
//!     cargo run --release -p label --example match_throughput -- ../shared/data/edmunds [LEXICON]

use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let input = PathBuf::from(args.next().ok_or("usage: match_throughput DIR [LEXICON]")?);
    let lexicon = args.next().unwrap_or_else(|| "data/lexicon.csv".into());
    let t = Instant::now();
    let labeler = label::Labeler::new(&records::Lexicon::read(lexicon.as_ref())?)?;
    println!(
        "build: {:.1} ms, {} patterns",
        t.elapsed().as_secs_f64() * 1e3,
        labeler.pattern_count()
    );
    let mut reviews = Vec::new();
    for file in label::input_files(&[input])? {
        let read = label::read_review_file(&file, false)?;
        let col = read.frame.column("Review")?.str()?.clone();
        reviews.extend(col.iter().map(|r| r.unwrap_or("").to_owned()));
    }
    let bytes: usize = reviews.iter().map(String::len).sum();
    let mut best = f64::MAX;
    let (mut scratch, mut found) = (Vec::new(), 0usize);
    for _ in 0..5 {
        let t = Instant::now();
        found = 0;
        for r in &reviews {
            labeler.mentions_into(r, &mut scratch);
            found += scratch.len();
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "match: {} reviews, {:.1} MB, {found} mentions, best of 5 {:.3} s = {:.1} MB/s (one thread)",
        reviews.len(),
        bytes as f64 / 1e6,
        best,
        bytes as f64 / 1e6 / best
    );
    Ok(())
}

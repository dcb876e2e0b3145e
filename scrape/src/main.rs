//! `scrape`: build `lexicon.csv` from list pages and plain lists (see the library docs).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};
use scrape::{build_lexicon, FetchConfig, ScrapeConfig, Source};

/// Build the vehicle-part lexicon (lexicon.csv) from list pages, live or saved, and plain lists.
///
/// Sources are read in the order given; the first name listed for a part is its canonical name.
#[derive(Parser, Debug)]
#[command(name = "scrape", version)]
struct Args {
    /// Fetch a list page over HTTP(S) (cached; see --cache-dir). Repeatable.
    #[arg(long = "url", value_name = "URL")]
    urls: Vec<String>,
    /// A saved page (.html/.htm) or a plain list (any other extension). Repeatable.
    #[arg(long = "file", value_name = "PATH")]
    files: Vec<PathBuf>,
    /// A plain list, one part per line, whatever its extension. Repeatable.
    #[arg(long = "text", value_name = "PATH")]
    texts: Vec<PathBuf>,
    /// An existing lexicon (surface,canonical,category,source), merged like the other sources:
    /// its canonicals are parts, its other surfaces their aliases. Repeatable.
    #[arg(long = "lexicon-in", value_name = "FILE")]
    lexicons: Vec<PathBuf>,
    /// CSS selector for items on pages that are not MediaWiki articles [default: li].
    #[arg(long, value_name = "CSS")]
    selector: Option<String>,
    /// Reviewed extra aliases, CSV with header alias,canonical; or reviewed lexicon candidates
    /// (`finetune tag predict --candidates`: header accept,alias,canonical,..., rows whose
    /// accept is yes are merged); repeatable.
    #[arg(long, value_name = "FILE")]
    extra_aliases: Vec<PathBuf>,
    /// Stop-list: one surface per line followed by `# reason`.
    #[arg(long, value_name = "FILE")]
    stoplist: Option<PathBuf>,
    /// Where fetched pages are cached [default: $XDG_CACHE_HOME or ~/.cache, /partfinder/scrape].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Do not cache fetched pages.
    #[arg(long, conflicts_with_all = ["cache_dir", "offline"])]
    no_cache: bool,
    /// Use only the cache; fail naming any URL that is not in it.
    #[arg(long)]
    offline: bool,
    /// Seconds between two requests to one host.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    delay: f64,
    /// Retries after a 5xx answer or a connection error.
    #[arg(long, default_value_t = 3)]
    retries: u32,
    /// Seconds before the first retry, doubled for each further one.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    backoff: f64,
    /// Seconds a request may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    timeout: f64,
    /// List every dropped item with its reason on stderr.
    #[arg(long)]
    explain: bool,
    /// Output file (`-` for stdout).
    #[arg(long, short, value_name = "PATH")]
    out: PathBuf,
}

fn main() -> ExitCode {
    let matches = Args::command().get_matches();
    let args = match Args::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(e) => e.exit(),
    };
    match run(args, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args, matches: &ArgMatches) -> anyhow::Result<()> {
    let sources = ordered_sources(&args, matches);
    if sources.is_empty() {
        anyhow::bail!("no sources: give at least one --url, --file, --text or --lexicon-in");
    }
    let seconds = |name: &str, s: f64| {
        Duration::try_from_secs_f64(s).with_context(|| format!("--{name} {s}: not a duration"))
    };
    let cache_dir =
        if args.no_cache { None } else { args.cache_dir.clone().or_else(default_cache_dir) };
    let config = ScrapeConfig {
        sources,
        selector: args.selector.clone(),
        extra_aliases: args.extra_aliases.clone(),
        stoplist: args.stoplist.clone(),
        fetch: FetchConfig {
            delay: seconds("delay", args.delay)?,
            retries: args.retries,
            backoff: seconds("backoff", args.backoff)?,
            timeout: seconds("timeout", args.timeout)?,
            cache_dir,
            offline: args.offline,
            ..FetchConfig::default()
        },
    };
    if args.out.as_os_str() != "-" {
        let inputs: Vec<&PathBuf> = args
            .files
            .iter()
            .chain(&args.texts)
            .chain(&args.lexicons)
            .chain(&args.extra_aliases)
            .chain(&args.stoplist)
            .collect();
        records::atomic::ensure_not_input(&args.out, &inputs)?;
    }
    let (lexicon, report) = build_lexicon(&config)?;
    if args.out.as_os_str() == "-" {
        let mut stdout = std::io::stdout().lock();
        lexicon.write_to(&mut stdout).map_err(|e| match e.into_kind() {
            csv::ErrorKind::Io(io) => anyhow::Error::from(io),
            other => anyhow::anyhow!("{other:?}"),
        })?;
        stdout.flush()?;
    } else {
        lexicon.write(&args.out)?;
    }
    if args.explain {
        eprint!("{}", report.explain());
    }
    eprint!("{}", report.summary());
    if args.out.as_os_str() != "-" {
        eprintln!("wrote {}", args.out.display());
    }
    Ok(())
}

/// The sources in command-line order, whatever flag named them.
fn ordered_sources(args: &Args, matches: &ArgMatches) -> Vec<Source> {
    let mut indexed: Vec<(usize, Source)> = Vec::new();
    let indices =
        |id: &str| matches.indices_of(id).map(Iterator::collect::<Vec<_>>).unwrap_or_default();
    for (i, url) in indices("urls").into_iter().zip(&args.urls) {
        indexed.push((i, Source::Url(url.clone())));
    }
    for (i, path) in indices("files").into_iter().zip(&args.files) {
        indexed.push((i, Source::File(path.clone())));
    }
    for (i, path) in indices("texts").into_iter().zip(&args.texts) {
        indexed.push((i, Source::Text(path.clone())));
    }
    for (i, path) in indices("lexicons").into_iter().zip(&args.lexicons) {
        indexed.push((i, Source::Lexicon(path.clone())));
    }
    indexed.sort_by_key(|(i, _)| *i);
    indexed.into_iter().map(|(_, s)| s).collect()
}

fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("partfinder").join("scrape"))
}

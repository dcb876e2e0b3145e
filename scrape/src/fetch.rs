//! Polite, cached HTTP fetching of list pages.
//!
//! Every URL is looked up in the on-disk cache first (`<sha256 of the url>.body` plus a `.meta`
//! file naming the url, final url and content type), so that a re-run needs no network and
//! `--offline` can refuse to touch it. Live requests send a descriptive User-Agent, honour the
//! host's robots.txt (fetched once per host; 4xx means no rules, 5xx means keep out), wait
//! [`FetchConfig::delay`] between requests to one host, give up after
//! [`FetchConfig::timeout`], retry 5xx answers and transport errors with exponential backoff
//! (never 4xx), and follow redirects themselves so that every hop is checked against robots.txt
//! and the delay.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use url::Url;

use crate::robots::Robots;
use crate::{Error, Result};

/// The product token we look for in robots.txt.
pub const AGENT_TOKEN: &str = "partfinder-scrape";

/// How pages are fetched. `Default` is polite enough for public sites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchConfig {
    /// User-Agent header (default names the project, its version and purpose).
    pub user_agent: String,
    /// Whole-request timeout (default 30 s).
    pub timeout: Duration,
    /// Connection timeout (default 10 s).
    pub connect_timeout: Duration,
    /// Retries after a 5xx answer or a transport error (default 3).
    pub retries: u32,
    /// Wait before the first retry, doubled for each further one (default 1 s).
    pub backoff: Duration,
    /// Least time between two requests to one host (default 1 s).
    pub delay: Duration,
    /// Most redirects followed (default 5).
    pub max_redirects: u32,
    /// Where fetched pages are kept (default none: no cache).
    pub cache_dir: Option<PathBuf>,
    /// Use only the cache; a URL missing from it is an error (default false).
    pub offline: bool,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            user_agent: format!(
                "{AGENT_TOKEN}/{} (partfinder vehicle-part lexicon builder; one request a second)",
                env!("CARGO_PKG_VERSION")
            ),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retries: 3,
            backoff: Duration::from_secs(1),
            delay: Duration::from_secs(1),
            max_redirects: 5,
            cache_dir: None,
            offline: false,
        }
    }
}

/// What a page's body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// An HTML page.
    Html,
    /// A plain text list.
    Text,
}

/// A fetched (or cached) page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The URL asked for.
    pub url: String,
    /// The URL the body came from, after redirects.
    pub final_url: String,
    /// HTML or plain text.
    pub kind: BodyKind,
    /// The body, decoded as UTF-8 (invalid bytes replaced).
    pub body: String,
    /// Whether the page came from the cache.
    pub from_cache: bool,
}

/// Fetches pages according to a [`FetchConfig`], remembering robots.txt and request times per
/// host.
pub struct Fetcher {
    config: FetchConfig,
    client: Option<reqwest::blocking::Client>,
    last_request: HashMap<String, Instant>,
    robots: HashMap<String, Robots>,
}

impl Fetcher {
    /// A fetcher; the HTTP client is built on the first live request.
    pub fn new(config: FetchConfig) -> Self {
        Self { config, client: None, last_request: HashMap::new(), robots: HashMap::new() }
    }

    /// Fetches `url`, from the cache when it is there.
    ///
    /// # Errors
    /// An invalid URL; offline and not cached ([`Error::NotCached`]); robots.txt forbids it;
    /// a 4xx status, or a 5xx or transport error after all retries; too many redirects; a body
    /// that is neither HTML nor text; a cache file that cannot be written.
    pub fn fetch(&mut self, url: &str) -> Result<Page> {
        let parsed = parse_url(url)?;
        if let Some(page) = self.cached(url)? {
            return Ok(page);
        }
        if self.config.offline {
            return Err(Error::NotCached {
                url: url.to_owned(),
                cache_dir: self.config.cache_dir.clone().unwrap_or_default(),
            });
        }
        let mut hop = parsed;
        let mut redirects = 0;
        loop {
            if !self.robots_for(&hop)?.allowed(&path_and_query(&hop)) {
                return Err(Error::Disallowed { url: hop.to_string() });
            }
            let response = self.get(&hop)?;
            let status = response.status();
            if status.is_redirection() {
                redirects += 1;
                if redirects > self.config.max_redirects {
                    return Err(Error::Redirect {
                        url: url.to_owned(),
                        message: format!("more than {} redirects", self.config.max_redirects),
                    });
                }
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| Error::Redirect {
                        url: hop.to_string(),
                        message: format!("redirect {} without a location", status.as_u16()),
                    })?;
                hop = hop.join(location).map_err(|e| Error::BadUrl {
                    url: location.to_owned(),
                    message: e.to_string(),
                })?;
                continue;
            }
            if !status.is_success() {
                return Err(Error::Status { url: hop.to_string(), status: status.as_u16() });
            }
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let bytes = response.bytes().map_err(|e| Error::Transport {
                url: hop.to_string(),
                attempts: 1,
                message: error_chain(&e),
            })?;
            let body = String::from_utf8_lossy(&bytes).into_owned();
            let kind = body_kind(&content_type, &body).ok_or_else(|| Error::NotHtml {
                url: url.to_owned(),
                content_type: content_type.clone(),
            })?;
            let page = Page {
                url: url.to_owned(),
                final_url: hop.to_string(),
                kind,
                body,
                from_cache: false,
            };
            self.store(&page, &content_type)?;
            return Ok(page);
        }
    }

    /// The cache files of `url`: body and meta.
    fn cache_paths(&self, url: &str) -> Option<(PathBuf, PathBuf)> {
        let dir = self.config.cache_dir.as_ref()?;
        let name = hex::encode(Sha256::digest(url.as_bytes()));
        Some((dir.join(format!("{name}.body")), dir.join(format!("{name}.meta"))))
    }

    fn cached(&self, url: &str) -> Result<Option<Page>> {
        let Some((body_path, meta_path)) = self.cache_paths(url) else { return Ok(None) };
        // The meta file is written last, so its presence means the entry is complete.
        let meta = match std::fs::read_to_string(&meta_path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(meta_path, e)),
        };
        let field = |name: &str| {
            meta.lines().find_map(|l| l.strip_prefix(name)).map(str::trim).unwrap_or("").to_owned()
        };
        let bytes = std::fs::read(&body_path).map_err(|e| Error::io(&body_path, e))?;
        let body = String::from_utf8_lossy(&bytes).into_owned();
        let content_type = field("content-type:");
        let kind = body_kind(&content_type, &body)
            .ok_or_else(|| Error::NotHtml { url: url.to_owned(), content_type })?;
        Ok(Some(Page {
            url: url.to_owned(),
            final_url: field("final-url:"),
            kind,
            body,
            from_cache: true,
        }))
    }

    fn store(&self, page: &Page, content_type: &str) -> Result<()> {
        let Some((body_path, meta_path)) = self.cache_paths(&page.url) else { return Ok(()) };
        records::atomic::write_bytes_atomic(&body_path, page.body.as_bytes())?;
        let meta = format!(
            "url: {}\nfinal-url: {}\ncontent-type: {}\n",
            page.url, page.final_url, content_type
        );
        records::atomic::write_bytes_atomic(&meta_path, meta.as_bytes())?;
        Ok(())
    }

    /// The robots.txt rules of `url`'s origin, fetched on first use.
    fn robots_for(&mut self, url: &Url) -> Result<&Robots> {
        let origin = url.origin().ascii_serialization();
        if !self.robots.contains_key(&origin) {
            let robots_url = url
                .join("/robots.txt")
                .map_err(|e| Error::BadUrl { url: url.to_string(), message: e.to_string() })?;
            let response = self.get(&robots_url)?;
            let status = response.status();
            let robots = if status.is_success() {
                let text = response.text().unwrap_or_default();
                Robots::parse(&text, AGENT_TOKEN)
            } else if status.is_server_error() {
                Robots::disallow_all()
            } else {
                // 4xx: there are no rules. Redirects are not followed for robots.txt.
                Robots::allow_all()
            };
            self.robots.insert(origin.clone(), robots);
        }
        Ok(&self.robots[&origin])
    }

    /// One GET with politeness delay and retries; returns the last response (which may be a
    /// 5xx when retries ran out).
    fn get(&mut self, url: &Url) -> Result<reqwest::blocking::Response> {
        let client = self.client()?.clone();
        let host = url.host_str().unwrap_or("").to_owned()
            + &format!(":{}", url.port_or_known_default().unwrap_or(0));
        let mut attempt = 0u32;
        loop {
            self.wait_turn(&host);
            let result = client.get(url.clone()).send();
            let retry = match &result {
                Ok(r) => r.status().is_server_error(),
                Err(_) => true,
            };
            if !retry || attempt >= self.config.retries {
                return result.map_err(|e| Error::Transport {
                    url: url.to_string(),
                    attempts: attempt + 1,
                    message: error_chain(&e),
                });
            }
            std::thread::sleep(self.config.backoff.saturating_mul(1 << attempt.min(16)));
            attempt += 1;
        }
    }

    /// Sleeps until `delay` has passed since the last request to `host`.
    fn wait_turn(&mut self, host: &str) {
        if let Some(last) = self.last_request.get(host) {
            let elapsed = last.elapsed();
            if elapsed < self.config.delay {
                std::thread::sleep(self.config.delay - elapsed);
            }
        }
        self.last_request.insert(host.to_owned(), Instant::now());
    }

    fn client(&mut self) -> Result<&reqwest::blocking::Client> {
        if self.client.is_none() {
            // reqwest is built without a default TLS crypto provider; install ring's once.
            // An error means another provider is installed already, which is as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = reqwest::blocking::Client::builder()
                .user_agent(self.config.user_agent.clone())
                .timeout(self.config.timeout)
                .connect_timeout(self.config.connect_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| Error::Client(error_chain(&e)))?;
            self.client = Some(client);
        }
        Ok(self.client.as_ref().expect("client was just built"))
    }
}

/// Parses an absolute http(s) URL.
///
/// # Errors
/// [`Error::BadUrl`] for anything else.
pub fn parse_url(url: &str) -> Result<Url> {
    let parsed = Url::parse(url)
        .map_err(|e| Error::BadUrl { url: url.to_owned(), message: e.to_string() })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::BadUrl { url: url.to_owned(), message: "not http or https".into() });
    }
    Ok(parsed)
}

fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// HTML for HTML content types, text for `text/plain`, a sniff when there is none.
fn body_kind(content_type: &str, body: &str) -> Option<BodyKind> {
    let mime = content_type.split(';').next().unwrap_or("").trim().to_lowercase();
    match mime.as_str() {
        "text/html" | "application/xhtml+xml" => Some(BodyKind::Html),
        "text/plain" => Some(BodyKind::Text),
        "" if body.trim_start().starts_with('<') => Some(BodyKind::Html),
        "" => Some(BodyKind::Text),
        _ => None,
    }
}

/// An error and its sources, joined by `: `.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

/// The name a source is reported and recorded under: the last path segment of a URL, or the
/// file name, without extension, lower case (`List_of_auto_parts` → `list_of_auto_parts`).
pub fn source_name(path_or_url: &str) -> String {
    let last = match Url::parse(path_or_url) {
        Ok(u) if u.has_host() => {
            match u.path_segments().and_then(|mut s| s.rfind(|seg| !seg.is_empty())) {
                Some(segment) => segment.to_owned(),
                None => return u.host_str().unwrap_or("page").to_lowercase(),
            }
        }
        _ => Path::new(path_or_url)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let stem = Path::new(&last).file_stem().map(|s| s.to_string_lossy().into_owned());
    stem.unwrap_or(last).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names_agree_for_url_and_file() {
        assert_eq!(source_name("http://127.0.0.1:8080/lists/wiki_parts.html"), "wiki_parts");
        assert_eq!(source_name("../shared/data/lexicon/wiki_parts.html"), "wiki_parts");
        assert_eq!(
            source_name("https://en.wikipedia.org/wiki/List_of_auto_parts"),
            "list_of_auto_parts"
        );
        assert_eq!(source_name("https://example.org/"), "example.org");
    }

    #[test]
    fn body_kinds() {
        assert_eq!(body_kind("text/html; charset=UTF-8", ""), Some(BodyKind::Html));
        assert_eq!(body_kind("text/plain", "a\nb"), Some(BodyKind::Text));
        assert_eq!(body_kind("", "  <html>"), Some(BodyKind::Html));
        assert_eq!(body_kind("application/pdf", "%PDF"), None);
    }
}

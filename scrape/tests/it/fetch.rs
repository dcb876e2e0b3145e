//! Live fetching against the scripted server on 127.0.0.1.

use std::time::Duration;

use scrape::fetch::BodyKind;
use scrape::{build_lexicon, Error, FetchConfig, Fetcher, ScrapeConfig, Source};

use crate::fixture;
use crate::server::{Answer, Server};

/// Fast settings: no politeness delay or backoff, short timeout.
fn quick(cache_dir: Option<&std::path::Path>) -> FetchConfig {
    FetchConfig {
        delay: Duration::ZERO,
        backoff: Duration::ZERO,
        retries: 2,
        timeout: Duration::from_millis(300),
        cache_dir: cache_dir.map(Into::into),
        ..FetchConfig::default()
    }
}

fn html(body: &str) -> Answer {
    Answer::Ok("text/html; charset=UTF-8", body.to_owned())
}

fn page() -> Answer {
    html("<html><body><ul><li>Wheel</li></ul></body></html>")
}

#[test]
fn url_gives_the_same_lexicon_as_the_saved_file() {
    let wiki = fixture("wiki_parts.html");
    let server = Server::start(vec![
        ("/robots.txt", vec![Answer::Ok("text/plain", "User-agent: *\nDisallow: /w/\n".into())]),
        ("/wiki/wiki_parts.html", vec![html(&std::fs::read_to_string(&wiki).unwrap())]),
    ]);
    let from_url = ScrapeConfig {
        sources: vec![Source::Url(server.url("/wiki/wiki_parts.html"))],
        fetch: quick(None),
        ..Default::default()
    };
    let from_file = ScrapeConfig { sources: vec![Source::File(wiki)], ..Default::default() };
    let (a, report) = build_lexicon(&from_url).unwrap();
    let (b, _) = build_lexicon(&from_file).unwrap();
    assert!(a.canonical_count() > 10);
    assert_eq!(a, b);
    assert_eq!(report.sources[0].name, "wiki_parts");
    // Every request, robots.txt included, says who we are.
    let agents = server.user_agents();
    assert_eq!(agents.len(), 2);
    assert!(agents.iter().all(|ua| ua.starts_with("partfinder-scrape/")), "{agents:?}");
}

#[test]
fn not_found_is_not_retried() {
    let server = Server::start(vec![("/gone", vec![Answer::Status(404)])]);
    let err = Fetcher::new(quick(None)).fetch(&server.url("/gone")).unwrap_err();
    assert!(matches!(err, Error::Status { status: 404, .. }), "{err}");
    assert!(err.to_string().ends_with("/gone: http status 404"), "{err}");
    assert_eq!(server.hits("/gone"), 1);
}

#[test]
fn server_error_then_success_is_retried() {
    let server =
        Server::start(vec![("/flaky", vec![Answer::Status(500), Answer::Status(503), page()])]);
    let page = Fetcher::new(quick(None)).fetch(&server.url("/flaky")).unwrap();
    assert_eq!(page.kind, BodyKind::Html);
    assert!(page.body.contains("Wheel"));
    assert_eq!(server.hits("/flaky"), 3);
}

#[test]
fn persistent_server_error_gives_up_after_the_retries() {
    let server = Server::start(vec![("/down", vec![Answer::Status(502)])]);
    let mut config = quick(None);
    config.retries = 1;
    let err = Fetcher::new(config).fetch(&server.url("/down")).unwrap_err();
    assert!(matches!(err, Error::Status { status: 502, .. }), "{err}");
    assert_eq!(server.hits("/down"), 2);
}

#[test]
fn slow_response_times_out_and_is_retried() {
    let server = Server::start(vec![("/slow", vec![Answer::Hang])]);
    let mut config = quick(None);
    config.retries = 1;
    config.timeout = Duration::from_millis(150);
    let err = Fetcher::new(config).fetch(&server.url("/slow")).unwrap_err();
    match &err {
        Error::Transport { attempts, .. } => assert_eq!(*attempts, 2),
        other => panic!("expected a transport error, got {other}"),
    }
    assert!(err.to_string().contains("/slow: request failed after 2 attempt(s)"), "{err}");
    assert_eq!(server.hits("/slow"), 2);
}

#[test]
fn connection_refused_is_a_transport_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = quick(None);
    config.retries = 1;
    let err = Fetcher::new(config).fetch(&format!("http://127.0.0.1:{port}/x")).unwrap_err();
    assert!(matches!(err, Error::Transport { attempts: 2, .. }), "{err}");
}

#[test]
fn redirects_are_followed_and_checked_against_robots() {
    let server = Server::start(vec![
        (
            "/robots.txt",
            vec![Answer::Ok("text/plain", "User-agent: *\nDisallow: /private\n".into())],
        ),
        ("/old", vec![Answer::Redirect(301, "/new".into())]),
        ("/new", vec![page()]),
        ("/sneaky", vec![Answer::Redirect(302, "/private/list".into())]),
        ("/loop", vec![Answer::Redirect(307, "/loop".into())]),
    ]);
    let mut fetcher = Fetcher::new(quick(None));
    let page = fetcher.fetch(&server.url("/old")).unwrap();
    assert_eq!(page.final_url, server.url("/new"));
    assert!(page.body.contains("Wheel"));

    let err = fetcher.fetch(&server.url("/sneaky")).unwrap_err();
    assert!(matches!(err, Error::Disallowed { .. }), "{err}");
    assert_eq!(server.hits("/private/list"), 0);

    let err = fetcher.fetch(&server.url("/loop")).unwrap_err();
    assert!(err.to_string().contains("more than 5 redirects"), "{err}");
    // robots.txt is read once per host.
    assert_eq!(server.hits("/robots.txt"), 1);
}

#[test]
fn robots_disallow_is_honoured_without_a_request() {
    let robots = "User-agent: *\nAllow: /\n\nUser-agent: partfinder-scrape\nDisallow: /lists/\n";
    let server = Server::start(vec![
        ("/robots.txt", vec![Answer::Ok("text/plain", robots.into())]),
        ("/lists/parts.html", vec![page()]),
    ]);
    let err = Fetcher::new(quick(None)).fetch(&server.url("/lists/parts.html")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: disallowed by robots.txt", server.url("/lists/parts.html"))
    );
    assert_eq!(server.hits("/lists/parts.html"), 0);
}

#[test]
fn non_html_body_is_refused_and_plain_text_is_a_list() {
    let server = Server::start(vec![
        ("/logo.png", vec![Answer::Ok("image/png", "\u{89}PNG".into())]),
        ("/parts.txt", vec![Answer::Ok("text/plain", "Brakes\r\nTPMS\r\n".into())]),
    ]);
    let err = Fetcher::new(quick(None)).fetch(&server.url("/logo.png")).unwrap_err();
    assert!(matches!(err, Error::NotHtml { .. }), "{err}");
    assert!(err.to_string().contains("content-type \"image/png\""), "{err}");

    let config = ScrapeConfig {
        sources: vec![Source::Url(server.url("/parts.txt"))],
        fetch: quick(None),
        ..Default::default()
    };
    let (lexicon, _) = build_lexicon(&config).unwrap();
    assert_eq!(lexicon.canonicals().into_iter().collect::<Vec<_>>(), ["TPMS", "brake"]);
}

#[test]
fn cache_makes_a_rerun_offline_and_offline_names_the_missing_url() {
    let cache = tempfile::tempdir().unwrap();
    let server = Server::start(vec![("/parts.html", vec![page()])]);
    let url = server.url("/parts.html");
    let first = Fetcher::new(quick(Some(cache.path()))).fetch(&url).unwrap();
    assert!(!first.from_cache);
    assert_eq!(server.hits("/parts.html"), 1);

    let mut offline = quick(Some(cache.path()));
    offline.offline = true;
    let mut fetcher = Fetcher::new(offline);
    let again = fetcher.fetch(&url).unwrap();
    assert!(again.from_cache);
    assert_eq!((again.body, again.kind), (first.body, first.kind));
    assert_eq!(server.hits("/parts.html"), 1);

    let missing = server.url("/other.html");
    let err = fetcher.fetch(&missing).unwrap_err();
    assert!(err.to_string().starts_with(&format!("{missing}: not in the cache")), "{err}");
    assert_eq!(server.hits("/other.html"), 0);
}

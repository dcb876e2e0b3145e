//! A scripted HTTP/1.1 server on 127.0.0.1 for the fetch tests.
//!
//! Each path has a list of answers served in turn (the last one repeats), so that
//! "500, then 200" is one route. Every request is counted per path and its User-Agent kept.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Answer {
    /// 200 with a content type and body.
    Ok(&'static str, String),
    /// A bare status with a short text body.
    Status(u16),
    /// A redirect status with a `Location`.
    Redirect(u16, String),
    /// Read the request and never answer; the connection ends when the client gives up.
    Hang,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Vec<Answer>>,
    hits: HashMap<String, usize>,
    user_agents: Vec<String>,
}

/// A running server; it stops when dropped.
pub struct Server {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Starts a server answering `routes` (path → answers); unknown paths get 404.
    pub fn start(routes: Vec<(&str, Vec<Answer>)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            routes: routes.into_iter().map(|(p, a)| (p.to_owned(), a)).collect(),
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let st = st.clone();
                thread::spawn(move || handle(stream, &st));
            }
        });
        Self { port, state, stop }
    }

    /// The absolute URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// How many requests `path` received.
    pub fn hits(&self, path: &str) -> usize {
        self.state.lock().unwrap().hits.get(path).copied().unwrap_or(0)
    }

    /// The User-Agent headers received, in order.
    pub fn user_agents(&self) -> Vec<String> {
        self.state.lock().unwrap().user_agents.clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn handle(mut stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut user_agent = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("user-agent") {
                user_agent = v.trim().to_owned();
            }
        }
    }
    let answer = {
        let mut st = state.lock().unwrap();
        st.user_agents.push(user_agent);
        let n = {
            let hits = st.hits.entry(path.clone()).or_insert(0);
            *hits += 1;
            *hits
        };
        match st.routes.get(&path) {
            Some(answers) => answers[(n - 1).min(answers.len() - 1)].clone(),
            None => Answer::Status(404),
        }
    };
    let (status, headers, body) = match answer {
        Answer::Ok(content_type, body) => (200, format!("Content-Type: {content_type}\r\n"), body),
        Answer::Status(code) => {
            (code, "Content-Type: text/plain\r\n".into(), format!("status {code}"))
        }
        Answer::Redirect(code, location) => {
            (code, format!("Location: {location}\r\n"), String::new())
        }
        Answer::Hang => {
            // Wait for the client to give up and close the connection.
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
            return;
        }
    };
    let response = format!(
        "HTTP/1.1 {status} Scripted\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

//! Progress and log output on stderr: one shared indicatif style when stderr is a terminal;
//! periodic plain lines when it is not (under nohup, CI, Flyte or a scheduler, where a bar
//! would draw nothing and a 40-minute round would look hung); silenced by `--quiet`.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a progress line is printed when stderr is not a terminal, unless
/// `PARTFINDER_PROGRESS_SECS` says otherwise (the Hugging Face Trainer's logging steps play
/// the same part).
pub const DEFAULT_LINE_INTERVAL: Duration = Duration::from_secs(30);

/// Where a long operation reports progress and log lines.
#[derive(Debug, Clone)]
pub struct Reporter {
    bar: ProgressBar,
    quiet: bool,
    /// Plain progress lines instead of the bar (stderr is not a terminal): the interval.
    lines: Option<Duration>,
    state: Arc<Mutex<LineState>>,
}

#[derive(Debug)]
struct LineState {
    prefix: String,
    len: u64,
    started: Instant,
    /// Units already done when the bar started (a resumed run).
    first_pos: u64,
    last_line: Option<Instant>,
}

impl Reporter {
    /// A reporter on stderr: the bar when stderr is a terminal, else a progress line every
    /// [`DEFAULT_LINE_INTERVAL`] (`PARTFINDER_PROGRESS_SECS` seconds when set) and at the end;
    /// nothing but errors when `quiet`.
    pub fn stderr(quiet: bool) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        let terminal = std::io::stderr().is_terminal();
        if !quiet && terminal {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg} (eta {eta})",
            )
            .expect("valid template"),
        );
        let interval = std::env::var("PARTFINDER_PROGRESS_SECS")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .unwrap_or(DEFAULT_LINE_INTERVAL);
        let lines = (!quiet && !terminal).then_some(interval);
        Self { bar, quiet, lines, state: Arc::new(Mutex::new(LineState::new())) }
    }

    /// A reporter that prints nothing (tests, library use).
    pub fn silent() -> Self {
        Self {
            bar: ProgressBar::hidden(),
            quiet: true,
            lines: None,
            state: Arc::new(Mutex::new(LineState::new())),
        }
    }

    /// Starts a bar of `len` units.
    pub fn start(&self, prefix: &str, len: u64) {
        self.start_at(prefix, len, 0);
    }

    /// Starts a bar of `len` units of which `done` are done already (a resumed run): the rate
    /// and the ETA count only the units done from here on.
    pub fn start_at(&self, prefix: &str, len: u64, done: u64) {
        self.bar.set_prefix(prefix.to_owned());
        self.bar.set_length(len);
        self.bar.set_position(done);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *state = LineState { prefix: prefix.to_owned(), len, first_pos: done, ..LineState::new() };
    }

    /// Moves the bar to `pos` with a message; without a terminal, prints a line when the
    /// interval has passed since the last one, and at the last unit.
    pub fn update(&self, pos: u64, msg: String) {
        if let Some(interval) = self.lines {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let due = state.last_line.is_none_or(|t| now.duration_since(t) >= interval);
            if due || pos >= state.len {
                state.last_line = Some(now);
                eprintln!("{}", state.line(pos, &msg, now));
            }
        }
        self.bar.set_position(pos);
        self.bar.set_message(msg);
    }

    /// Prints a log line to stderr (above the bar), unless quiet.
    pub fn log(&self, msg: &str) {
        if !self.quiet {
            self.bar.suspend(|| eprintln!("{msg}"));
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl LineState {
    fn new() -> Self {
        Self {
            prefix: String::new(),
            len: 0,
            started: Instant::now(),
            first_pos: 0,
            last_line: None,
        }
    }

    /// `train: step 120/500 (24%) loss 1.2345 acc 0.812 1830 tok/s, elapsed 4m10s, eta 13m12s`
    fn line(&self, pos: u64, msg: &str, now: Instant) -> String {
        let elapsed = now.duration_since(self.started);
        let done_here = pos.saturating_sub(self.first_pos);
        let pct = if self.len == 0 { 100.0 } else { 100.0 * pos as f64 / self.len as f64 };
        let eta = (done_here > 0 && pos < self.len)
            .then(|| elapsed.mul_f64((self.len - pos) as f64 / done_here as f64));
        let mut line = format!("{}: {pos}/{} ({pct:.0}%)", self.prefix, self.len);
        if !msg.is_empty() {
            line.push(' ');
            line.push_str(msg);
        }
        line.push_str(&format!(", elapsed {}", clock(elapsed)));
        match eta {
            Some(eta) => line.push_str(&format!(", eta {}", clock(eta))),
            None if pos >= self.len => line.push_str(", done"),
            None => {}
        }
        line
    }
}

/// `42s`, `4m10s`, `2h03m`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_line_has_step_rate_and_eta() {
        let t0 = Instant::now();
        let state = LineState {
            prefix: "train".into(),
            len: 500,
            started: t0,
            first_pos: 100,
            last_line: None,
        };
        // Resumed at step 100; 20 steps done here in 40 s: 2 s a step, 380 steps left.
        let line = state.line(120, "loss 1.2345", t0 + Duration::from_secs(40));
        assert_eq!(line, "train: 120/500 (24%) loss 1.2345, elapsed 40s, eta 12m40s");
        // Units counted in batches: 16 of 340 in 66 s, from zero.
        let batched =
            LineState { prefix: "predict".into(), len: 340, first_pos: 0, ..LineState::new() };
        let line = batched.line(16, "", batched.started + Duration::from_secs(66));
        assert_eq!(line, "predict: 16/340 (5%), elapsed 1m06s, eta 22m16s");
        let end = state.line(500, "", t0 + Duration::from_secs(7300));
        assert_eq!(end, "train: 500/500 (100%), elapsed 2h01m, done");
    }
}

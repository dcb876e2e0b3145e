//! Progress and log output on stderr: one shared indicatif style, hidden when stderr is not a
//! terminal, silenced by `--quiet`.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where a long operation reports progress and log lines.
#[derive(Debug, Clone)]
pub struct Reporter {
    bar: ProgressBar,
    quiet: bool,
}

impl Reporter {
    /// A reporter on stderr; the bar shows only when stderr is a terminal and `quiet` is false.
    pub fn stderr(quiet: bool) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        if !quiet && std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg} (eta {eta})",
            )
            .expect("valid template"),
        );
        Self { bar, quiet }
    }

    /// A reporter that prints nothing (tests, library use).
    pub fn silent() -> Self {
        Self { bar: ProgressBar::hidden(), quiet: true }
    }

    /// Starts a bar of `len` units.
    pub fn start(&self, prefix: &str, len: u64) {
        self.bar.set_prefix(prefix.to_owned());
        self.bar.set_length(len);
        self.bar.set_position(0);
    }

    /// Moves the bar to `pos` with a message.
    pub fn update(&self, pos: u64, msg: String) {
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

//! A progress bar on stderr, shown only when stderr is a terminal and the
//! run has lasted a second: short runs and piped runs print nothing.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A hidden bar that appears after a second if the run is still going.
    pub fn new() -> Progress {
        let bar = ProgressBar::hidden();
        if std::io::stderr().is_terminal() {
            // A timer, not a check in `inc`: the selection is one library
            // call that reports nothing until it returns.
            let late = bar.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(1));
                if !late.is_finished() {
                    late.set_draw_target(ProgressDrawTarget::stderr());
                    late.enable_steady_tick(Duration::from_millis(200));
                }
            });
        }
        Progress { bar }
    }

    /// A stage without a measurable size: a spinner and the elapsed time.
    pub fn spin(&self, message: String) {
        self.bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("template"),
        );
        self.bar.set_message(message);
    }

    /// A stage over `total` bytes of input; what was counted before (bytes
    /// copied during the previous stage) stays counted.
    pub fn bytes(&self, message: &'static str, total: u64) {
        self.bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("template"),
        );
        self.bar.set_message(message);
        self.bar.set_length(total);
    }

    pub fn inc(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    /// Clears the bar; it will not appear again.
    pub fn done(&self) {
        self.bar.finish_and_clear();
    }
}

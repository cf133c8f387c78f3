//! Training progress on stderr: a progress bar on a terminal, plain lines in logs and CI.

use ebm_arch::EpochRecord;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// How a run reports its epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal and `CI` is not set, plain lines otherwise.
    #[default]
    Auto,
    /// An indicatif progress bar.
    Bar,
    /// One plain line per epoch (for long runs, about 20 lines: every k-th epoch, the first
    /// and the last).
    Lines,
    /// Nothing.
    Quiet,
}

impl ProgressMode {
    /// `Auto` decided for this process.
    pub fn resolve(self) -> ProgressMode {
        match self {
            ProgressMode::Auto => {
                if std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() {
                    ProgressMode::Bar
                } else {
                    ProgressMode::Lines
                }
            }
            other => other,
        }
    }
}

/// Reports the epochs of one run.
#[derive(Debug)]
pub struct Progress {
    mode: ProgressMode,
    bar: Option<ProgressBar>,
    label: String,
    epochs: usize,
    every: usize,
}

/// At most about this many plain lines per run.
const MAX_LINES: usize = 20;

impl Progress {
    /// Starts reporting `epochs` epochs of the run `label`.
    pub fn new(mode: ProgressMode, label: &str, epochs: usize) -> Progress {
        let mode = mode.resolve();
        let bar = (mode == ProgressMode::Bar).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(epochs as u64), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{prefix} [{bar:24.cyan/blue}] {pos}/{len} {msg} {elapsed}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(label.to_string());
            bar
        });
        Progress {
            mode,
            bar,
            label: label.to_string(),
            epochs,
            every: epochs.div_ceil(MAX_LINES).max(1),
        }
    }

    /// Reports one finished epoch.
    pub fn epoch(&self, r: &EpochRecord) {
        let summary = format!(
            "loss {:.4} gap {:.3} spread {:.2e}",
            r.loss, r.gap, r.spread_std
        );
        match self.mode {
            ProgressMode::Bar => {
                if let Some(bar) = &self.bar {
                    bar.set_message(summary);
                    bar.set_position(r.epoch as u64);
                }
            }
            ProgressMode::Lines => {
                if r.epoch == 1 || r.epoch == self.epochs || r.epoch.is_multiple_of(self.every) {
                    eprintln!(
                        "{}: epoch {}/{} {summary}",
                        self.label, r.epoch, self.epochs
                    );
                }
            }
            ProgressMode::Auto | ProgressMode::Quiet => {}
        }
    }

    /// Ends the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}

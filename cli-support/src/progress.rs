//! A progress line on stderr while a tree is hashed, on a terminal only.

use mcpsig::digest::tree::Progress;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Runs `work` with a progress counter to update; on a terminal, a line on stderr shows the
/// counter twice a second until `work` returns, then is erased. Elsewhere `work` gets `None`.
pub fn with_progress<T>(work: impl FnOnce(Option<&Progress>) -> T) -> T {
    if !std::io::stderr().is_terminal() {
        return work(None);
    }
    let progress = Progress::default();
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| show(&progress, &done));
        let result = work(Some(&progress));
        done.store(true, Ordering::Relaxed);
        result
    })
}

/// Bounded: ends when `done` is set; looks twice a second.
fn show(progress: &Progress, done: &AtomicBool) {
    let mut shown = false;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(500));
        let found = progress.files_total.load(Ordering::Relaxed);
        if found == 0 || done.load(Ordering::Relaxed) {
            continue;
        }
        let bytes = progress.bytes_done.load(Ordering::Relaxed);
        // Numbers only: nothing from outside is on this line.
        eprint!(
            "\rhashing: {}/{} files found so far, {:.0} MB ",
            progress.files_done.load(Ordering::Relaxed),
            found,
            bytes as f64 / 1e6,
        );
        shown = true;
    }
    if shown {
        eprint!("\r\x1b[K");
    }
}

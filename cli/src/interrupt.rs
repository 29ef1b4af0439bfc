//! Ctrl-C and SIGTERM: the temporaries being written are deleted before the
//! process exits (status 130), so an interrupted run leaves no `.tmp`
//! behind. The handler runs on a thread of its own (`ctrlc`), so it may
//! take the lock that [`hold`] takes while outputs are renamed into place:
//! an interrupt then waits for the renames, and finds nothing left to
//! delete.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

static TEMPORARIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Set once the outputs are renamed into place: an interrupt after that
/// keeps them and says so.
static WRITTEN: AtomicBool = AtomicBool::new(false);

fn temporaries() -> MutexGuard<'static, Vec<PathBuf>> {
    // A thread that panicked holding the lock left a valid list.
    TEMPORARIES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Installs the handler (once, at start).
pub fn install() {
    // Without a handler (another one already installed, by a test
    // harness), an interrupt kills the process as it would anyway.
    let _ = ctrlc::set_handler(|| {
        let list = temporaries();
        for path in list.iter() {
            let _ = std::fs::remove_dir_all(path).or_else(|_| std::fs::remove_file(path));
        }
        if WRITTEN.load(Ordering::SeqCst) {
            eprintln!("interrupted after the outputs were complete: they are kept");
        } else {
            eprintln!("interrupted: nothing written");
        }
        std::process::exit(130);
    });
}

/// A temporary to delete on an interrupt.
pub fn register(path: &Path) {
    temporaries().push(path.to_path_buf());
}

/// Records that the outputs are in place (called holding [`hold`]).
pub fn written() {
    WRITTEN.store(true, Ordering::SeqCst);
}

/// Holds off interrupts while the outputs are renamed into place; the
/// caller removes from the list the temporaries it renamed.
pub fn hold() -> MutexGuard<'static, Vec<PathBuf>> {
    temporaries()
}

//! Verifying a catalog of bundles (`mcp-verify catalog`, spec/cli.md): every bundle found in
//! files, directories and JSON-lines lists, checked in parallel against one trust (or policy)
//! parsed once, each result handed to the caller in input order as soon as the bundles before
//! it are done. Memory stays bounded whatever the count: paths are streamed from the inputs
//! through a bounded queue, and results wait for an earlier one within a bounded window only.
//!
//! A catalog checks what a registry holds about each release: the signature, the signer
//! (trust or policy, revocation included), the statement and the validity window. Artifacts
//! are never re-hashed (there is no local copy to compare with); every report says so
//! (`signatureOnly`).

mod inputs;

use crate::policy::{LoadedRevocation, Policy, PolicyRequest, RevocationOptions};
use crate::reason::Reason;
use crate::sigstore::trust::TrustedRoot;
use crate::verify::{Checks, Report, Request, Trust};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use inputs::{BUNDLE_SUFFIX, LIST_SUFFIX, MAX_DEPTH, MAX_LIST_LINE_BYTES};

/// How many results may wait for an earlier, slower one before no more bundles are started:
/// the bound on what is held in memory for output order.
pub const REORDER_WINDOW: usize = 1024;

/// Bundles handed to a worker at once, their results sent back at once: fewer wake-ups
/// between the threads than one message per bundle.
const BATCH: usize = 16;

/// Batches queued for the workers, per worker.
const QUEUE_PER_WORKER: usize = 2;

/// Where bundles are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A bundle file, or a directory walked for `*.sigstore.json` files.
    Path(PathBuf),
    /// A JSON-lines file, each line naming a bundle file.
    List(PathBuf),
    /// A JSON-lines list on standard input (`-`).
    Stdin,
}

impl Input {
    /// A command-line PATH: `-` is standard input, a name ending in `.jsonl` a list, anything
    /// else a bundle file or a directory.
    pub fn parse(arg: &Path) -> Input {
        if arg.as_os_str() == "-" {
            Input::Stdin
        } else if arg
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(LIST_SUFFIX))
        {
            Input::List(arg.to_path_buf())
        } else {
            Input::Path(arg.to_path_buf())
        }
    }
}

/// What every bundle is checked against, parsed once and shared by the workers.
#[derive(Debug, Clone)]
pub enum CatalogTrust {
    /// A key or a keyless identity, as `mcp-verify BUNDLE TRUST` takes it.
    Trust(Trust),
    /// A trust policy (spec/policy.md); its revocation list is loaded once, at the start.
    Policy {
        policy: Policy,
        trusted_root: TrustedRoot,
        revocation: RevocationOptions,
    },
}

/// One catalog run.
#[derive(Debug, Clone)]
pub struct CatalogRequest {
    pub inputs: Vec<Input>,
    pub trust: CatalogTrust,
    /// Worker threads verifying bundles.
    pub jobs: NonZeroUsize,
    /// The one time every bundle (and the revocation list) is judged at.
    pub now: DateTime<Utc>,
}

/// What happened to one thing found.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The bundle was read and decided: `report.verified` says whether it held.
    Checked(Box<Report>),
    /// It could not be decided (unreadable file, malformed list line, directory too deep).
    Undecided { reason: Reason, message: String },
    /// Found but deliberately not read (a symbolic link in a walked directory, a special file).
    Skipped { why: String },
}

/// One result, for the bundle at `path` (as found: the input joined with the walked names, or
/// a list's entry resolved against the list's folder).
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    pub outcome: Outcome,
}

/// Counts of a finished run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Bundles decided or not (`verified + rejected + undecided`); skipped entries excluded.
    pub bundles: u64,
    pub verified: u64,
    pub rejected: u64,
    pub undecided: u64,
    pub skipped: u64,
    pub elapsed: Duration,
}

impl Summary {
    pub fn per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.bundles as f64 / secs
        } else {
            0.0
        }
    }

    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Checked(r) if r.verified => self.verified += 1,
            Outcome::Checked(_) => self.rejected += 1,
            Outcome::Undecided { .. } => self.undecided += 1,
            Outcome::Skipped { .. } => {
                self.skipped += 1;
                return;
            }
        }
        self.bundles += 1;
    }
}

/// The run could not go on (exit 2): an input named on the command line cannot be used, or the
/// results could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    #[error("cannot read `{}`", path.display())]
    Input {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("standard input (`-`) is given more than once")]
    StdinTwice,
    #[error("cannot start the catalog's threads")]
    Thread(#[source] std::io::Error),
    #[error("cannot write the results")]
    Output(#[source] std::io::Error),
}

/// A bundle to read and verify, numbered in input order.
struct Job {
    seq: u64,
    path: String,
    open: inputs::Open,
}

/// The trust of a run, ready for the workers: a policy's revocation list already loaded.
enum Prepared<'a> {
    Trust(&'a Trust),
    Policy {
        policy: &'a Policy,
        trusted_root: &'a TrustedRoot,
        options: &'a RevocationOptions,
        list: LoadedRevocation,
    },
}

/// Verifies every bundle the inputs name, `req.jobs` at a time, and hands each result to
/// `sink` in input order. Inputs named on the command line are checked before any work starts;
/// what goes wrong later with one bundle (or one list line, or one directory) is that entry's
/// outcome, and the run goes on. A `sink` error stops the run.
pub fn run(
    req: &CatalogRequest,
    mut sink: impl FnMut(&Entry) -> std::io::Result<()>,
) -> Result<Summary, CatalogError> {
    inputs::check(&req.inputs)?;
    let start = Instant::now();
    let prepared = match &req.trust {
        CatalogTrust::Trust(trust) => Prepared::Trust(trust),
        CatalogTrust::Policy {
            policy,
            trusted_root,
            revocation,
        } => Prepared::Policy {
            policy,
            trusted_root,
            options: revocation,
            list: LoadedRevocation::load(policy, trusted_root, req.now, revocation),
        },
    };
    let workers = req.jobs.get();
    let (job_tx, job_rx) = sync_channel::<Vec<Job>>(workers * QUEUE_PER_WORKER);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (result_tx, result_rx) = std::sync::mpsc::channel::<Vec<(u64, Entry)>>();
    // Tokens for the reorder window: the producer takes one per entry, the printer gives it
    // back once the entry is written, so at most REORDER_WINDOW entries are in flight.
    let (token_tx, token_rx) = sync_channel::<()>(REORDER_WINDOW);
    for _ in 0..REORDER_WINDOW {
        let _ = token_tx.try_send(());
    }
    std::thread::scope(|scope| {
        let producer = inputs::Producer {
            jobs: job_tx,
            direct: result_tx.clone(),
            tokens: token_rx,
            seq: 0,
            pending: Vec::with_capacity(BATCH),
        };
        std::thread::Builder::new()
            .name("catalog-inputs".into())
            .spawn_scoped(scope, move || producer.run(&req.inputs))
            .map_err(CatalogError::Thread)?;
        for i in 0..workers {
            let rx = Arc::clone(&job_rx);
            let tx = result_tx.clone();
            let prepared = &prepared;
            std::thread::Builder::new()
                .name(format!("catalog-{i}"))
                .spawn_scoped(scope, move || worker(prepared, req.now, &rx, &tx))
                .map_err(CatalogError::Thread)?;
        }
        // The workers hold the only receivers of the queue and senders of results: when they
        // are gone the producer's sends fail, and when all are gone the printer's loop ends.
        drop(job_rx);
        drop(result_tx);
        print_in_order(result_rx, token_tx, &mut sink).map(|mut summary| {
            summary.elapsed = start.elapsed();
            summary
        })
    })
}

/// Takes batches of jobs until the queue is closed (or the printer is gone) and sends each
/// batch's results.
fn worker(
    prepared: &Prepared,
    now: DateTime<Utc>,
    jobs: &Mutex<Receiver<Vec<Job>>>,
    results: &std::sync::mpsc::Sender<Vec<(u64, Entry)>>,
) {
    loop {
        // The lock is held only while waiting for the next batch, never while verifying.
        let batch = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(batch) = batch else { return };
        let done = batch
            .into_iter()
            .map(|job| {
                let outcome = verify_one(prepared, now, &job);
                let entry = Entry {
                    path: job.path,
                    outcome,
                };
                (job.seq, entry)
            })
            .collect();
        if results.send(done).is_err() {
            return;
        }
    }
}

/// Reads one bundle (bounded as `verify::read_bundle_file` bounds it) and verifies its
/// signature, statement and validity window against the run's trust or policy.
fn verify_one(prepared: &Prepared, now: DateTime<Utc>, job: &Job) -> Outcome {
    let bytes = match job.open.read(&job.path) {
        Ok(b) => b,
        Err(e) => {
            return Outcome::Undecided {
                reason: Reason::Io,
                message: crate::error_chain(&e),
            };
        }
    };
    let checks = Checks {
        signature_only: true,
        offline: true,
        ..Checks::default()
    };
    let decided = match prepared {
        Prepared::Trust(trust) => crate::verify::verify(&Request {
            bundle: &bytes,
            trust,
            now,
            checks,
        }),
        Prepared::Policy {
            policy,
            trusted_root,
            options,
            list,
        } => crate::policy::verify_with_list(
            &PolicyRequest {
                policy,
                bundle: &bytes,
                trusted_root,
                checks,
                now,
                revocation: options,
            },
            list,
        )
        .map(|o| o.report),
    };
    match decided {
        Ok(report) => Outcome::Checked(Box::new(report)),
        Err(e) => Outcome::Undecided {
            reason: Reason::Error,
            message: crate::error_chain(&e),
        },
    }
}

/// Hands entries to `sink` by sequence number, holding those that arrive early.
fn print_in_order(
    results: Receiver<Vec<(u64, Entry)>>,
    tokens: SyncSender<()>,
    sink: &mut impl FnMut(&Entry) -> std::io::Result<()>,
) -> Result<Summary, CatalogError> {
    let mut summary = Summary::default();
    let mut waiting: BTreeMap<u64, Entry> = BTreeMap::new();
    let mut next = 0u64;
    for batch in results.iter() {
        waiting.extend(batch);
        while let Some(entry) = waiting.remove(&next) {
            // Returning drops `results` and `tokens`: the workers and the producer then stop.
            sink(&entry).map_err(CatalogError::Output)?;
            summary.count(&entry.outcome);
            next += 1;
            // Never blocks: at most REORDER_WINDOW tokens exist.
            let _ = tokens.try_send(());
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_told_apart_by_name() {
        assert_eq!(Input::parse(Path::new("-")), Input::Stdin);
        assert_eq!(
            Input::parse(Path::new("a/list.jsonl")),
            Input::List(PathBuf::from("a/list.jsonl"))
        );
        assert_eq!(
            Input::parse(Path::new("a/b.sigstore.json")),
            Input::Path(PathBuf::from("a/b.sigstore.json"))
        );
        assert_eq!(
            Input::parse(Path::new("dir")),
            Input::Path(PathBuf::from("dir"))
        );
    }

    #[test]
    fn skipped_entries_are_not_bundles() {
        let mut s = Summary::default();
        s.count(&Outcome::Skipped { why: "x".into() });
        s.count(&Outcome::Undecided {
            reason: Reason::Io,
            message: "x".into(),
        });
        assert_eq!((s.bundles, s.skipped, s.undecided), (1, 1, 1));
    }
}

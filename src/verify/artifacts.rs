//! Re-checking the artifacts a verified statement pins against local copies: which artifact a
//! `--dir` or `--file` names, and the re-hash of a file or a directory tree, each change named.

use super::{Problem, VerifyError};
use crate::digest::Algorithm;
use crate::digest::tree::{self, TreeError};
use crate::manifest::{Artifact, Manifest};
use crate::reason::Reason;
use crate::store::{Outcome, Store, StoreError};
use std::path::{Path, PathBuf};

/// The artifact a `--dir` or `--file` argument names (`kind` is `dir` or `file`).
pub(super) fn find_artifact<'m>(
    m: &'m Manifest,
    kind: &'static str,
    name: Option<&str>,
) -> Result<(usize, &'m Artifact), VerifyError> {
    let of_kind: Vec<(usize, &Artifact)> = m
        .artifacts
        .iter()
        .enumerate()
        .filter(|(_, a)| match a {
            Artifact::Directory { .. } => kind == "dir",
            // An MCP bundle is a file: its digest pins the contents too.
            Artifact::File { .. } | Artifact::Mcpb { .. } => kind == "file",
            Artifact::Npm { .. } | Artifact::Pypi { .. } | Artifact::Oci { .. } => false,
        })
        .collect();
    // Every artifact with its kind (`directory srv`), so that a name of another kind is seen
    // as such; and the names of this kind, the ones the option can take.
    let pinned = m
        .artifacts
        .iter()
        .map(|a| format!("{} `{}`", a.kind(), a.name()))
        .collect::<Vec<_>>()
        .join(", ");
    let candidates = of_kind
        .iter()
        .map(|(_, a)| a.name())
        .collect::<Vec<_>>()
        .join(", ");
    let noun = if kind == "dir" { "directory" } else { "file" };
    let missing = |name: String| VerifyError::NoSuchArtifact {
        name,
        kind: noun,
        pinned: if pinned.is_empty() {
            "no artifact".to_owned()
        } else {
            pinned.clone()
        },
        candidates: candidates.clone(),
    };
    match name {
        Some(n) => of_kind
            .iter()
            .copied()
            .find(|(_, a)| a.name() == n)
            .ok_or_else(|| missing(n.to_owned())),
        None if of_kind.len() == 1 => Ok(of_kind[0]),
        None if of_kind.is_empty() => Err(missing(format!("--{kind}"))),
        None => Err(VerifyError::AmbiguousArtifact {
            count: of_kind.len(),
            kind,
        }),
    }
}

/// Re-hashes a single file and compares its size and digest with the pin.
pub(super) fn check_file(
    artifact: &Artifact,
    path: &Path,
    problems: &mut Vec<Problem>,
) -> Result<(), VerifyError> {
    let (Artifact::File {
        name, digest, size, ..
    }
    | Artifact::Mcpb {
        name, digest, size, ..
    }) = artifact
    else {
        return Ok(());
    };
    let (actual, actual_size) = match crate::digest::hash_file(digest.algorithm(), path) {
        Ok(x) => x,
        // A symlink, fifo or device where a pinned file should be is a rejection, not an error.
        Err(e @ crate::digest::HashError::NotAFile { .. }) => {
            problems.push(Problem {
                reason: Reason::ArtifactMismatch,
                message: format!("{} artifact `{name}`: {e}", artifact.kind()),
                path: Some(name.to_string()),
            });
            return Ok(());
        }
        Err(source) => {
            return Err(VerifyError::File {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if &actual != digest || actual_size != *size {
        problems.push(Problem {
            reason: Reason::ArtifactMismatch,
            message: format!(
                "{} artifact `{name}` ({}) differs: expected {} ({size} bytes), got {} ({actual_size} bytes)",
                artifact.kind(),
                path.display(),
                digest.short(),
                actual.short()
            ),
            path: Some(name.to_string()),
        });
    }
    Ok(())
}

/// Re-hashes a directory under the artifact's signed exclude rules and names every change. With
/// a `store`, the tree is hashed while it is copied into a snapshot there (made only when it
/// matches), and the snapshot's path is returned.
pub(super) fn check_dir(
    artifact: &Artifact,
    path: &Path,
    store: Option<&Store>,
    problems: &mut Vec<Problem>,
) -> Result<Option<PathBuf>, VerifyError> {
    let Artifact::Directory {
        exclude,
        entries,
        digest,
        ..
    } = artifact
    else {
        return Ok(None);
    };
    let alg = entries
        .iter()
        .find_map(|e| match &e.kind {
            tree::EntryKind::File { digest, .. } => Some(digest.algorithm()),
            tree::EntryKind::Symlink { .. } => None,
        })
        .unwrap_or(Algorithm::Sha256);
    let dir_err = |source| VerifyError::Dir {
        path: path.to_path_buf(),
        source,
    };
    let actual = match store {
        None => match tree::hash_tree_against(path, exclude, alg, entries) {
            Ok(a) => a,
            Err(e) => return tree_problem(e, problems).map_err(dir_err).map(|()| None),
        },
        Some(store) => match store.snapshot(path, exclude, alg, digest, Some(entries)) {
            Ok(Outcome::Ready(s)) => return Ok(Some(s.path)),
            Ok(Outcome::Mismatch { entries, .. }) => entries,
            Err(StoreError::Tree { source, .. }) => {
                return tree_problem(source, problems)
                    .map_err(dir_err)
                    .map(|()| None);
            }
            Err(source) => {
                return Err(VerifyError::Store {
                    path: path.to_path_buf(),
                    source: Box::new(source),
                });
            }
        },
    };
    let before = problems.len();
    for change in tree::compare(entries, &actual) {
        problems.push(Problem {
            reason: Reason::ArtifactMismatch,
            message: change.to_string(),
            path: Some(change.path().to_string()),
        });
    }
    // The store said the digest differs: that is a mismatch even if no entry shows it.
    if store.is_some() && problems.len() == before {
        problems.push(Problem::new(
            Reason::ArtifactMismatch,
            format!(
                "directory artifact `{}` ({}) does not have the pinned tree digest",
                artifact.name(),
                path.display()
            ),
        ));
    }
    Ok(None)
}

/// What the directory holds is itself a reason to reject (the pinned tree cannot hold it): the
/// problem is added. Any other error means the tree could not be read, and is returned.
fn tree_problem(e: TreeError, problems: &mut Vec<Problem>) -> Result<(), TreeError> {
    let reason = match e {
        TreeError::SymlinkEscapes { .. } => Reason::UnsafeSymlink,
        TreeError::SpecialFile { .. } => Reason::SpecialFile,
        TreeError::TooManyEntries => Reason::TooManyEntries,
        TreeError::NonUtf8Name { .. }
        | TreeError::UnsafePath(_)
        | TreeError::PathTooLong { .. } => Reason::UnsafePath,
        e => return Err(e),
    };
    problems.push(Problem::new(reason, e.to_string()));
    Ok(())
}

//! Symlink resolution inside a tree's entry list. Each link is followed the way the kernel would
//! follow it, through the other links of the same list (directories are implied by entry paths),
//! and refused when it climbs above the root, lands on the root, loops, passes through a regular
//! file or through a path the list does not pin, or points at an excluded path.
//!
//! Links are resolved once each and remembered, so a hostile list costs time linear in its size.

use super::glob::Pattern;
use super::tree::{Entry, EntryKind, TreeError};
use std::collections::HashMap;

/// How many links one chain may hold, the first included: a link whose target passes through a
/// link whose target passes through a link... (Linux follows at most 40 links in one lookup).
pub const MAX_LINK_DEPTH: usize = 40;

/// Why a symlink was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkProblem {
    #[error("an empty or absolute target points outside the tree")]
    NotRelative,
    #[error("`..` climbs above the tree's root, outside the tree")]
    AboveRoot,
    #[error("it resolves to the tree's root itself")]
    Root,
    #[error("it leads back to itself through other links (a loop)")]
    Loop,
    #[error("more than {MAX_LINK_DEPTH} links must be followed to resolve it")]
    TooDeep,
    #[error("it passes through `{0}`, a regular file")]
    ThroughFile(String),
    #[error("it passes through `{0}`, which the tree does not pin")]
    ThroughUnpinned(String),
    #[error("it points to `{0}`, which the exclude rules leave unpinned")]
    Excluded(String),
}

/// Checks every symlink of `entries` (sorted by path, no duplicates) against the other entries,
/// and that no entry lies beneath a file or a symlink. `excludes` are the tree's exclude rules.
pub fn check_links(entries: &[Entry], excludes: &[Pattern]) -> Result<(), TreeError> {
    let tree = Tree::build(entries)?;
    let mut resolver = Resolver {
        tree: &tree,
        entries,
        excludes,
        state: vec![State::Todo; tree.nodes.len()],
    };
    for id in 0..tree.nodes.len() {
        if let Kind::Link(_) = tree.nodes[id].kind {
            resolver.resolve(id, 0).map_err(|e| match e {
                // The chain is too long for the link it started from, wherever it was noticed.
                TreeError::SymlinkEscapes {
                    why: LinkProblem::TooDeep,
                    ..
                } => resolver.refuse(id, LinkProblem::TooDeep),
                e => e,
            })?;
        }
    }
    Ok(())
}

const ROOT: usize = 0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    /// Index of the symlink's entry.
    Link(usize),
}

struct Node<'e> {
    parent: usize,
    kind: Kind,
    /// The node's path from the root (`""` for the root), borrowed from an entry's path.
    path: &'e str,
}

/// The entries as a tree of nodes, with the directories their paths imply.
struct Tree<'e> {
    nodes: Vec<Node<'e>>,
    children: HashMap<(usize, &'e str), usize>,
}

impl<'e> Tree<'e> {
    fn build(entries: &'e [Entry]) -> Result<Tree<'e>, TreeError> {
        let mut tree = Tree {
            nodes: vec![Node {
                parent: ROOT,
                kind: Kind::Dir,
                path: "",
            }],
            children: HashMap::new(),
        };
        for (index, entry) in entries.iter().enumerate() {
            let full = entry.path.as_str();
            let mut cur = ROOT;
            let mut start = 0;
            loop {
                let end = full[start..].find('/').map_or(full.len(), |i| start + i);
                let last = end == full.len();
                let name = &full[start..end];
                let node = match tree.children.get(&(cur, name)) {
                    Some(&n) if !last && tree.nodes[n].kind == Kind::Dir => n,
                    Some(&n) => {
                        return Err(TreeError::NotBeneathDirectory {
                            path: full.to_owned(),
                            parent: tree.nodes[n].path.to_owned(),
                        });
                    }
                    None => {
                        let kind = match (&entry.kind, last) {
                            (_, false) => Kind::Dir,
                            (EntryKind::File { .. }, true) => Kind::File,
                            (EntryKind::Symlink { .. }, true) => Kind::Link(index),
                        };
                        tree.nodes.push(Node {
                            parent: cur,
                            kind,
                            path: &full[..end],
                        });
                        let n = tree.nodes.len() - 1;
                        tree.children.insert((cur, name), n);
                        n
                    }
                };
                if last {
                    break;
                }
                cur = node;
                start = end + 1;
            }
        }
        Ok(tree)
    }
}

/// Where a resolution ends: a node of the tree, or a name the tree does not pin in a directory
/// it does (a dangling link).
#[derive(Debug, Clone, Copy)]
enum Pos<'e> {
    Node(usize),
    Absent { parent: usize, name: &'e str },
}

#[derive(Debug, Clone, Copy)]
enum State<'e> {
    Todo,
    Busy,
    /// Where the link resolves, and how many other links its chain holds below it.
    Done(Pos<'e>, usize),
}

struct Resolver<'t, 'e> {
    tree: &'t Tree<'e>,
    entries: &'e [Entry],
    excludes: &'t [Pattern],
    state: Vec<State<'e>>,
}

impl<'e> Resolver<'_, 'e> {
    /// Resolves the link at node `id`; `nesting` is how many links are being followed already.
    fn resolve(&mut self, id: usize, nesting: usize) -> Result<(Pos<'e>, usize), TreeError> {
        match self.state[id] {
            State::Done(pos, height) => return Ok((pos, height)),
            State::Busy => return Err(self.refuse(id, LinkProblem::Loop)),
            State::Todo => {}
        }
        // This link is the `nesting + 1`th being followed.
        if nesting >= MAX_LINK_DEPTH {
            return Err(self.refuse(id, LinkProblem::TooDeep));
        }
        self.state[id] = State::Busy;
        let (pos, height) = self.follow(id, nesting)?;
        self.state[id] = State::Done(pos, height);
        Ok((pos, height))
    }

    /// Walks the target of the link at node `id` component by component from its directory.
    fn follow(&mut self, id: usize, nesting: usize) -> Result<(Pos<'e>, usize), TreeError> {
        let target = self.target(id);
        if target.is_empty() || target.starts_with('/') || target.contains('\0') {
            return Err(self.refuse(id, LinkProblem::NotRelative));
        }
        let comps: Vec<&'e str> = target.split('/').collect();
        let mut pos = Pos::Node(self.tree.nodes[id].parent);
        let mut height = 0;
        for (i, &comp) in comps.iter().enumerate() {
            let more = i + 1 < comps.len();
            // A resolution only ever stands on an unpinned name as its very last step.
            let cur = match pos {
                Pos::Node(n) => n,
                Pos::Absent { parent, name } => {
                    let path = self.join(parent, name);
                    return Err(self.refuse(id, LinkProblem::ThroughUnpinned(path)));
                }
            };
            match comp {
                "" | "." => {}
                ".." => {
                    if cur == ROOT {
                        return Err(self.refuse(id, LinkProblem::AboveRoot));
                    }
                    pos = Pos::Node(self.tree.nodes[cur].parent);
                }
                name => {
                    let next = match self.tree.children.get(&(cur, name)) {
                        None => {
                            let path = self.join(cur, name);
                            if more {
                                return Err(self.refuse(id, LinkProblem::ThroughUnpinned(path)));
                            }
                            let comps: Vec<&str> = path.split('/').collect();
                            if self.excludes.iter().any(|p| p.matches(&comps)) {
                                return Err(self.refuse(id, LinkProblem::Excluded(path)));
                            }
                            Pos::Absent { parent: cur, name }
                        }
                        Some(&child) => match self.tree.nodes[child].kind {
                            Kind::Dir | Kind::File => Pos::Node(child),
                            Kind::Link(_) => {
                                let (to, h) = self.resolve(child, nesting + 1)?;
                                height = height.max(h + 1);
                                if height >= MAX_LINK_DEPTH {
                                    return Err(self.refuse(id, LinkProblem::TooDeep));
                                }
                                to
                            }
                        },
                    };
                    if let Pos::Node(n) = next
                        && more
                        && self.tree.nodes[n].kind == Kind::File
                    {
                        let path = self.tree.nodes[n].path.to_owned();
                        return Err(self.refuse(id, LinkProblem::ThroughFile(path)));
                    }
                    pos = next;
                }
            }
        }
        // A link to the root would let `link/..` reach the tree's parent.
        if let Pos::Node(ROOT) = pos {
            return Err(self.refuse(id, LinkProblem::Root));
        }
        Ok((pos, height))
    }

    fn target(&self, id: usize) -> &'e str {
        match self.tree.nodes[id].kind {
            Kind::Link(index) => match &self.entries[index].kind {
                EntryKind::Symlink { target } => target,
                EntryKind::File { .. } => "",
            },
            Kind::Dir | Kind::File => "",
        }
    }

    fn join(&self, dir: usize, name: &str) -> String {
        match self.tree.nodes[dir].path {
            "" => name.to_owned(),
            p => format!("{p}/{name}"),
        }
    }

    fn refuse(&self, id: usize, why: LinkProblem) -> TreeError {
        TreeError::SymlinkEscapes {
            path: self.tree.nodes[id].path.to_owned(),
            target: self.target(id).to_owned(),
            why,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use crate::relpath::RelPath;

    fn link(path: &str, target: &str) -> Entry {
        Entry {
            path: RelPath::parse(path).unwrap(),
            kind: EntryKind::Symlink {
                target: target.into(),
            },
        }
    }

    fn file(path: &str) -> Entry {
        Entry {
            path: RelPath::parse(path).unwrap(),
            kind: EntryKind::File {
                digest: Digest::sha256_of(path.as_bytes()),
                size: 1,
                executable: false,
            },
        }
    }

    fn check(mut entries: Vec<Entry>) -> Result<(), TreeError> {
        entries.sort_by(|a, b| a.path.as_str().as_bytes().cmp(b.path.as_str().as_bytes()));
        check_links(&entries, &[Pattern::parse(".git").unwrap()])
    }

    fn refused(entries: Vec<Entry>) -> (String, LinkProblem) {
        match check(entries) {
            Err(TreeError::SymlinkEscapes { path, why, .. }) => (path, why),
            other => panic!("expected a refused link, got {other:?}"),
        }
    }

    #[test]
    fn a_link_through_another_link_cannot_climb_out() {
        // Lexically `a/b/m/../..` is `a`; physically `m` is `x`, so `..` twice leaves the tree.
        let (path, why) = refused(vec![
            link("a/b/m", "../../x"),
            link("a/b/l", "m/../.."),
            file("x/f"),
        ]);
        assert_eq!((path.as_str(), why), ("a/b/l", LinkProblem::AboveRoot));
    }

    #[test]
    fn a_chain_of_links_cannot_climb_out() {
        let (_, why) = refused(vec![
            file("a/b/c/f"),
            link("a/b/c/up", ".."),
            link("a/b/up2", "c/up/.."),
            link("a/esc", "b/up2/../.."),
            link("a/first", "esc"),
        ]);
        assert_eq!(why, LinkProblem::AboveRoot);
    }

    #[test]
    fn loops_and_deep_chains_are_refused() {
        assert_eq!(refused(vec![link("a", "a")]).1, LinkProblem::Loop);
        assert_eq!(
            refused(vec![link("d/a", "b"), link("d/b", "../d/a")]).1,
            LinkProblem::Loop
        );
        assert_eq!(
            refused(vec![link("d/a", "b/x"), link("d/b", "a/..")]).1,
            LinkProblem::Loop
        );
        // A chain of MAX_LINK_DEPTH links resolves; one more does not, whichever end is seen first.
        let chain = |n: usize, prefix: &str| -> Vec<Entry> {
            let mut v: Vec<Entry> = (0..n)
                .map(|i| link(&format!("{prefix}{i:03}"), &format!("{prefix}{:03}", i + 1)))
                .collect();
            v.push(file(&format!("{prefix}{n:03}")));
            v
        };
        assert!(check(chain(MAX_LINK_DEPTH, "l")).is_ok());
        assert_eq!(
            refused(chain(MAX_LINK_DEPTH + 1, "l")),
            ("l000".to_owned(), LinkProblem::TooDeep)
        );
        // Sorted the other way round: the tail resolves first and is remembered.
        let reversed: Vec<Entry> = (0..=MAX_LINK_DEPTH)
            .map(|i| link(&format!("l{:03}", 100 - i), &format!("l{:03}", 99 - i)))
            .chain([file(&format!("l{:03}", 99 - MAX_LINK_DEPTH))])
            .collect();
        assert_eq!(refused(reversed).1, LinkProblem::TooDeep);
    }

    #[test]
    fn files_unpinned_paths_excludes_and_the_root_stop_a_link() {
        assert_eq!(
            refused(vec![file("f"), link("l", "f/x")]).1,
            LinkProblem::ThroughFile("f".into())
        );
        assert_eq!(
            refused(vec![file("f"), link("m", "f"), link("l", "m/")]).1,
            LinkProblem::ThroughFile("f".into())
        );
        assert_eq!(
            refused(vec![link("l", "nowhere/../f"), file("f")]).1,
            LinkProblem::ThroughUnpinned("nowhere".into())
        );
        assert_eq!(
            refused(vec![link("d/m", "gone"), link("d/l", "m/x")]).1,
            LinkProblem::ThroughUnpinned("d/gone".into())
        );
        assert_eq!(
            refused(vec![link("l", ".git")]).1,
            LinkProblem::Excluded(".git".into())
        );
        assert_eq!(
            refused(vec![file("d/f"), link("d/up", ".."), link("l", "d/up")]).1,
            LinkProblem::Root
        );
        assert_eq!(refused(vec![link("l", "/etc")]).1, LinkProblem::NotRelative);
    }

    #[test]
    fn links_that_stay_inside_are_accepted() {
        check(vec![
            file("lib/util.py"),
            file("server.py"),
            link("lib/x", "util.py"),
            link("lib/y", "x"),
            link("lib/here", "."),
            link("lib/z", "here/here/y"),
            link("docs", "lib/here/../lib"),
            link("top", "lib/here/../server.py"),
            // Dangling but inside: nothing it could reach is outside the tree.
            link("lib/later", "not-yet.py"),
            link("lib/later2", "later"),
        ])
        .unwrap();
        check(vec![]).unwrap();
    }

    #[test]
    fn an_entry_beneath_a_file_or_link_is_refused() {
        for entries in [
            vec![file("a"), file("a/b")],
            vec![link("a", "b"), file("a/c"), file("b/c")],
        ] {
            assert!(matches!(
                check(entries),
                Err(TreeError::NotBeneathDirectory { .. })
            ));
        }
    }
}

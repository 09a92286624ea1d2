//! What exclude rules leave out of a pinned tree that a runtime would still load as code
//! (`__pycache__/*.pyc`, `node_modules/**/*.js`, `*.pth`, native modules): excluded bytes are
//! never verified, so code among them could run unseen. `mcp-sign init` warns about them, and
//! refuses under `--strict`. This is a lint over the author's own tree, not a security
//! boundary: launches also keep interpreter caches out of the tree (spec/tools.md).

use super::glob::Pattern;
use std::path::Path;

/// File name endings that Python, Node or the dynamic loader execute or import.
pub const CODE_SUFFIXES: &[&str] = &[
    ".py", ".pyc", ".pyo", ".pyd", ".pth", ".so", ".dylib", ".dll", ".node", ".js", ".mjs", ".cjs",
    ".ts", ".mts", ".cts", ".jsx", ".tsx", ".wasm", ".jar", ".class", ".sh", ".bash", ".rb", ".pl",
    ".php", ".lua", ".pyw", ".pyz", ".egg", ".whl", ".bat", ".cmd", ".ps1",
];

/// How many excluded code files are listed at most (the count goes on).
const MAX_LISTED: usize = 20;

/// Excluded code files found under `root`: up to 20 paths, and how many there are in all.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ExcludedCode {
    pub examples: Vec<String>,
    pub count: usize,
}

/// Whether a file name ends like code a runtime loads.
pub fn is_code(name: &str) -> bool {
    CODE_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Files named after what they are, which a runtime reads to find the code it loads (Node's
/// `package.json` names a package's entry point and its `bin` scripts).
pub const CODE_MANIFESTS: &[&str] = &["package.json"];

/// Whether an excluded file whose name does not say it is code is code all the same: a
/// package's manifest, or a file with an execute bit (a script with a `#!` line and no suffix,
/// such as the `bin` scripts of a package).
fn loads_code(item: &std::fs::DirEntry) -> std::io::Result<bool> {
    use std::os::unix::fs::PermissionsExt as _;
    let name = item.file_name();
    if CODE_MANIFESTS.iter().any(|m| name == *m) {
        return Ok(true);
    }
    Ok(item.metadata()?.permissions().mode() & 0o111 != 0)
}

/// Walks `root` without following symlinks (at most `limit` entries) and lists the files that
/// an exclude rule drops and that look like code.
pub fn excluded_code(
    root: &Path,
    excludes: &[Pattern],
    limit: usize,
) -> std::io::Result<ExcludedCode> {
    let mut found = ExcludedCode::default();
    let mut seen = 0usize;
    // (directory on disk, its relative components, whether an exclude already covers it)
    let mut stack: Vec<(std::path::PathBuf, Vec<String>, bool)> =
        vec![(root.to_path_buf(), Vec::new(), false)];
    while let Some((dir, rel, excluded)) = stack.pop() {
        for item in std::fs::read_dir(&dir)? {
            let item = item?;
            seen += 1;
            if seen > limit {
                return Ok(found);
            }
            let Some(name) = item.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let mut path = rel.clone();
            path.push(name.clone());
            let comps: Vec<&str> = path.iter().map(String::as_str).collect();
            let now_excluded = excluded || excludes.iter().any(|p| p.matches(&comps));
            let ft = item.file_type()?;
            if ft.is_dir() {
                // Git's own folder holds executable hooks that no server loads. A tree deeper
                // than a path can be long is refused when it is hashed: not looked into here,
                // where each level copies its parent's path.
                if (rel.is_empty() && name == ".git")
                    || path.len() > super::tree::MAX_PATH_BYTES / 2
                {
                    continue;
                }
                stack.push((item.path(), path, now_excluded));
            } else if ft.is_file() && now_excluded && (is_code(&name) || loads_code(&item)?) {
                found.count += 1;
                if found.examples.len() < MAX_LISTED {
                    found.examples.push(path.join("/"));
                }
            }
        }
    }
    found.examples.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_code_under_excluded_directories_only() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path();
        std::fs::create_dir_all(p.join("pkg/__pycache__")).unwrap();
        std::fs::write(p.join("pkg/__pycache__/m.cpython-311.pyc"), b"x").unwrap();
        std::fs::write(p.join("pkg/__pycache__/notes.txt"), b"x").unwrap();
        std::fs::write(p.join("pkg/m.py"), b"x").unwrap();
        std::fs::create_dir_all(p.join("node_modules/a")).unwrap();
        std::fs::write(p.join("node_modules/a/index.js"), b"x").unwrap();
        let ex = |s: &str| Pattern::parse(s).unwrap();
        let found = excluded_code(p, &[ex("**/__pycache__"), ex("node_modules")], 1000).unwrap();
        assert_eq!(
            found.examples,
            [
                "node_modules/a/index.js",
                "pkg/__pycache__/m.cpython-311.pyc"
            ]
        );
        assert_eq!(found.count, 2);
        let none = excluded_code(p, &[ex("**/*.txt")], 1000).unwrap();
        assert_eq!(none.count, 0);
    }

    #[test]
    fn finds_scripts_without_a_suffix_and_package_manifests() {
        use std::os::unix::fs::PermissionsExt as _;
        let t = tempfile::tempdir().unwrap();
        let p = t.path();
        std::fs::create_dir_all(p.join("vendor/tool/bin")).unwrap();
        std::fs::write(p.join("vendor/tool/bin/run"), b"#!/usr/bin/env node\n").unwrap();
        std::fs::set_permissions(
            p.join("vendor/tool/bin/run"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::fs::write(p.join("vendor/tool/package.json"), b"{}").unwrap();
        std::fs::write(p.join("vendor/tool/README"), b"x").unwrap();
        // Git's hooks are executable, and .git is excluded by default: not code a server loads.
        std::fs::create_dir_all(p.join(".git/hooks")).unwrap();
        std::fs::write(p.join(".git/hooks/pre-commit.sample"), b"#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            p.join(".git/hooks/pre-commit.sample"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let ex = |s: &str| Pattern::parse(s).unwrap();
        let found = excluded_code(p, &[ex(".git"), ex("vendor")], 1000).unwrap();
        assert_eq!(
            found.examples,
            ["vendor/tool/bin/run", "vendor/tool/package.json"]
        );
        assert_eq!(found.count, 2);
    }
}

//! A Python package index: the whole set of wheels a project needs, as pip itself resolves it
//! (`pip install --dry-run --report`, wheels only, so no build code ever runs), and where a
//! pinned wheel file is (the PEP 691 JSON "simple" API).

use super::npm::{ResolveError, run_resolver};
use super::{RegistryError, get_json};
use crate::digest::Digest;
use std::process::Command;
use std::time::Duration;

const RESOLVE_TIMEOUT: Duration = Duration::from_secs(600);
const MAX_REPORT: u64 = 64 * 1024 * 1024;
/// The JSON form of the simple API (PEP 691).
const SIMPLE_JSON: &str = "application/vnd.pypi.simple.v1+json";

/// One wheel of a resolved set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedWheel {
    pub name: String,
    pub version: String,
    pub file: String,
    /// What the resolver listed (a local file may come without).
    pub sha256: Option<Digest>,
    pub url: String,
}

/// The wheels pip installs for `name==version` from the index at `index` (ending with `/`),
/// for the Python that `$MCPSIG_PYTHON` (default `python3`) names: the project's own first.
pub fn resolve_set(
    index: &str,
    name: &str,
    version: &str,
) -> Result<(ResolvedWheel, Vec<ResolvedWheel>), ResolveError> {
    resolve_set_of(index, &format!("{name}=={version}"), name)
}

/// [`resolve_set`] of what pip's requirement `spec` names (`NAME==VERSION`, or a local wheel's
/// absolute path), which must install project `name`.
pub fn resolve_set_of(
    index: &str,
    spec: &str,
    name: &str,
) -> Result<(ResolvedWheel, Vec<ResolvedWheel>), ResolveError> {
    let dir = tempfile::tempdir().map_err(ResolveError::Temp)?;
    let report = dir.path().join("report.json");
    let python = std::env::var("MCPSIG_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let mut cmd = Command::new(&python);
    cmd.current_dir(dir.path())
        .args([
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--only-binary=:all:",
            "--quiet",
            "--index-url",
            index,
            "--report",
        ])
        .arg(&report)
        .arg(spec)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1");
    let shown = format!(
        "{python} -m pip install --dry-run --only-binary=:all: --index-url {index} --report - {spec}"
    );
    run_resolver(cmd, shown, RESOLVE_TIMEOUT)?;
    read_report(&report, name)
}

/// Reads pip's installation report (format version 1).
pub fn read_report(
    path: &std::path::Path,
    name: &str,
) -> Result<(ResolvedWheel, Vec<ResolvedWheel>), ResolveError> {
    let bytes = crate::fsutil::read_limited(path, MAX_REPORT).map_err(ResolveError::Report)?;
    let report = crate::json::parse_value(&bytes).map_err(ResolveError::ReportJson)?;
    let install =
        report
            .get("install")
            .and_then(|i| i.as_array())
            .ok_or(ResolveError::ReportEntry {
                index: 0,
                what: "no `install` list",
            })?;
    let wanted = crate::manifest::packages::normalize_pypi_name(name);
    let mut main = None;
    let mut deps = Vec::new();
    for (index, item) in install.iter().enumerate() {
        let bad = |what| ResolveError::ReportEntry { index, what };
        let s = |v: Option<&serde_json::Value>| v.and_then(|x| x.as_str()).map(str::to_owned);
        let url = s(item.pointer("/download_info/url")).ok_or_else(|| bad("no download URL"))?;
        let sha256: Option<Digest> =
            match s(item.pointer("/download_info/archive_info/hashes/sha256")) {
                Some(sha) => Some(
                    format!("sha256:{sha}")
                        .parse()
                        .map_err(|_| bad("a malformed sha256"))?,
                ),
                None if url.starts_with("file:") => None,
                None => return Err(bad("no sha256 of its file")),
            };
        let pname = s(item.pointer("/metadata/name")).ok_or_else(|| bad("no name"))?;
        let pversion = s(item.pointer("/metadata/version")).ok_or_else(|| bad("no version"))?;
        let file = url_file_name(&url).ok_or_else(|| bad("a URL naming no file"))?;
        let w = ResolvedWheel {
            name: pname,
            version: pversion,
            file,
            sha256,
            url,
        };
        if crate::manifest::packages::normalize_pypi_name(&w.name) == wanted {
            main = Some(w);
        } else {
            deps.push(w);
        }
    }
    let main = main.ok_or(ResolveError::ReportEntry {
        index: 0,
        what: "the requested project is not in the report",
    })?;
    deps.sort_by_key(|w| crate::manifest::packages::normalize_pypi_name(&w.name));
    Ok((main, deps))
}

/// The last path segment of a URL, percent-decoded.
fn url_file_name(url: &str) -> Option<String> {
    let path = url.split(['#', '?']).next()?;
    let last = path.rsplit('/').next()?;
    let decoded: String =
        form_urlencoded::parse(format!("x={}", last.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())?;
    (!decoded.is_empty()).then_some(decoded)
}

/// Where the index at `index` serves wheel `file` of project `name`, and the sha256 it lists
/// for it. `Ok(None)` when the index does not list that file.
pub fn find_file(
    agent: &ureq::Agent,
    index: &str,
    name: &str,
    file: &str,
) -> Result<Option<(String, Option<Digest>)>, RegistryError> {
    let page = format!(
        "{index}{}/",
        crate::manifest::packages::normalize_pypi_name(name)
    );
    let Some(doc) = get_json(agent, &page, SIMPLE_JSON)? else {
        return Ok(None);
    };
    let files =
        doc.get("files")
            .and_then(|f| f.as_array())
            .ok_or_else(|| RegistryError::Missing {
                url: page.clone(),
                what: "a `files` list (PEP 691)",
            })?;
    for f in files {
        if f.get("filename").and_then(|n| n.as_str()) != Some(file) {
            continue;
        }
        let Some(url) = f.get("url").and_then(|u| u.as_str()) else {
            continue;
        };
        let listed = f
            .pointer("/hashes/sha256")
            .and_then(|h| h.as_str())
            .and_then(|h| format!("sha256:{h}").parse().ok());
        return Ok(Some((join_url(&page, url), listed)));
    }
    Ok(None)
}

/// `href` resolved against `page` (absolute URLs as they are; `/path` on the page's origin;
/// anything else relative to the page's folder, `..` applied).
pub(crate) fn join_url(page: &str, href: &str) -> String {
    if href.starts_with("https://") || href.starts_with("http://") {
        return href.to_owned();
    }
    let scheme_end = page.find("://").map_or(0, |i| i + 3);
    let origin_end = page[scheme_end..]
        .find('/')
        .map_or(page.len(), |i| scheme_end + i);
    if let Some(abs) = href.strip_prefix('/') {
        return format!("{}/{abs}", &page[..origin_end]);
    }
    let dir = &page[origin_end..page.rfind('/').map_or(origin_end, |i| i.max(origin_end))];
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for seg in href.split('/') {
        match seg {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("{}/{}", &page[..origin_end], parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_join_and_name_files() {
        let page = "http://127.0.0.1:8/simple/anyio/";
        assert_eq!(
            join_url(page, "../../files/a-1-py3-none-any.whl#sha256=00"),
            "http://127.0.0.1:8/files/a-1-py3-none-any.whl#sha256=00"
        );
        assert_eq!(join_url(page, "/f/x.whl"), "http://127.0.0.1:8/f/x.whl");
        assert_eq!(
            join_url(page, "https://files.example/x.whl"),
            "https://files.example/x.whl"
        );
        assert_eq!(
            url_file_name("https://h/p/a%2Bb-1.0-py3-none-any.whl#sha256=1").as_deref(),
            Some("a+b-1.0-py3-none-any.whl")
        );
    }
}

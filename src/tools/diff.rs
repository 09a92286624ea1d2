//! Comparison of pinned and live definitions, with an explanation a reviewer
//! can read: description line diffs, JSON-pointer paths of changed schema
//! values, annotation flips, other fields, and profile differences.
//!
//! Drift is decided by digests; the field-level detail only explains it.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ItemKind, Pinned, ToolPins};
use crate::digest::Digest;

/// Most value changes listed for one difference; the rest are counted.
const MAX_CHANGES: usize = 100;
/// Largest line-diff table (lines x lines) computed exactly; beyond it the
/// whole text is shown as replaced.
const MAX_LCS_CELLS: usize = 4_000_000;

/// Sub-codes of the `tool-drift` reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiffCode {
    Added,
    Removed,
    DescriptionChanged,
    InstructionsChanged,
    SchemaChanged,
    AnnotationChanged,
    FieldChanged,
    ProfileChanged,
}

impl DiffCode {
    pub fn as_str(self) -> &'static str {
        match self {
            DiffCode::Added => "added",
            DiffCode::Removed => "removed",
            DiffCode::DescriptionChanged => "description-changed",
            DiffCode::InstructionsChanged => "instructions-changed",
            DiffCode::SchemaChanged => "schema-changed",
            DiffCode::AnnotationChanged => "annotation-changed",
            DiffCode::FieldChanged => "field-changed",
            DiffCode::ProfileChanged => "profile-changed",
        }
    }
}

/// One difference. A changed definition gives one entry per kind of change
/// (its description, each schema, its annotations, its other fields).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolDiff {
    pub kind: ItemKind,
    pub name: String,
    pub code: DiffCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned_digest: Option<Digest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_digest: Option<Digest>,
    /// For a description: the line diff, each line prefixed `-`, `+` or ` `.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
    /// For structured fields: every changed value by JSON pointer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ValueChange>,
    /// Changes not listed because of the size bound.
    #[serde(skip_serializing_if = "is_zero")]
    pub omitted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A value that differs at a JSON pointer inside the definition (or profile).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValueChange {
    pub pointer: String,
    /// Absent when the live side added the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<Value>,
    /// Absent when the live side removed the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<Value>,
}

impl ToolDiff {
    fn new(kind: ItemKind, name: &str, code: DiffCode) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            code,
            pinned_digest: None,
            live_digest: None,
            lines: Vec::new(),
            changes: Vec::new(),
            omitted: 0,
        }
    }
}

/// Every difference between pinned and live, in a stable order: profile
/// first, then tools, prompts and resource templates, each in pinned order
/// followed by additions in live order.
pub fn diff(pinned: &ToolPins, live: &ToolPins) -> Vec<ToolDiff> {
    let mut out = profile_diff(pinned, live);
    for ((kind, old), (_, new)) in pinned.sections().into_iter().zip(live.sections()) {
        diff_section(kind, old, new, &mut out);
    }
    let (a, b) = (&pinned.instructions, &live.instructions);
    if a.as_ref().map(|i| &i.digest) != b.as_ref().map(|i| &i.digest) {
        let mut d = ToolDiff::new(
            ItemKind::Instructions,
            "instructions",
            DiffCode::InstructionsChanged,
        );
        d.pinned_digest = a.as_ref().map(|i| i.digest.clone());
        d.live_digest = b.as_ref().map(|i| i.digest.clone());
        match (a, b) {
            (Some(x), Some(y)) => d.lines = line_diff(&x.text, &y.text),
            _ => d.changes.push(ValueChange {
                pointer: "/instructions".into(),
                pinned: a.as_ref().map(|i| Value::String(i.text.clone())),
                live: b.as_ref().map(|i| Value::String(i.text.clone())),
            }),
        }
        out.push(d);
    }
    out
}

fn profile_diff(pinned: &ToolPins, live: &ToolPins) -> Vec<ToolDiff> {
    let (Ok(a), Ok(b)) = (
        serde_json::to_value(&pinned.profile),
        serde_json::to_value(&live.profile),
    ) else {
        // Serializing these plain structs cannot fail; if it ever did, say so as drift.
        let mut d = ToolDiff::new(ItemKind::Profile, "profile", DiffCode::ProfileChanged);
        d.lines
            .push("the capture profiles could not be compared".into());
        return vec![d];
    };
    let mut out = Vec::new();
    let keys = union_keys(a.as_object(), b.as_object());
    for key in keys {
        let (x, y) = (a.get(&key), b.get(&key));
        if x != y {
            let mut d = ToolDiff::new(ItemKind::Profile, &key, DiffCode::ProfileChanged);
            d.changes.push(ValueChange {
                pointer: format!("/{}", escape(&key)),
                pinned: x.cloned(),
                live: y.cloned(),
            });
            out.push(d);
        }
    }
    out
}

fn diff_section(kind: ItemKind, old: &[Pinned], new: &[Pinned], out: &mut Vec<ToolDiff>) {
    for p in old {
        match new.iter().find(|l| l.name == p.name) {
            None => {
                let mut d = ToolDiff::new(kind, &p.name, DiffCode::Removed);
                d.pinned_digest = Some(p.digest.clone());
                out.push(d);
            }
            Some(l) if l.digest != p.digest => diff_definition(kind, p, l, out),
            Some(_) => {}
        }
    }
    for l in new {
        if !old.iter().any(|p| p.name == l.name) {
            let mut d = ToolDiff::new(kind, &l.name, DiffCode::Added);
            d.live_digest = Some(l.digest.clone());
            d.changes.push(ValueChange {
                pointer: String::new(),
                pinned: None,
                live: Some(Value::Object(l.definition.clone())),
            });
            out.push(d);
        }
    }
}

fn diff_definition(kind: ItemKind, p: &Pinned, l: &Pinned, out: &mut Vec<ToolDiff>) {
    let start = out.len();
    let with_digests = |mut d: ToolDiff| {
        d.pinned_digest = Some(p.digest.clone());
        d.live_digest = Some(l.digest.clone());
        d
    };
    let mut other = with_digests(ToolDiff::new(kind, &p.name, DiffCode::FieldChanged));
    for key in union_keys(Some(&p.definition), Some(&l.definition)) {
        let (a, b) = (p.definition.get(&key), l.definition.get(&key));
        if a == b {
            continue;
        }
        let pointer = format!("/{}", escape(&key));
        match key.as_str() {
            "description" => {
                let mut d =
                    with_digests(ToolDiff::new(kind, &p.name, DiffCode::DescriptionChanged));
                match (a.and_then(Value::as_str), b.and_then(Value::as_str)) {
                    (Some(x), Some(y)) => d.lines = line_diff(x, y),
                    _ => value_changes(a, b, pointer, &mut d),
                }
                out.push(d);
            }
            "inputSchema" | "outputSchema" | "arguments" => {
                let mut d = with_digests(ToolDiff::new(kind, &p.name, DiffCode::SchemaChanged));
                value_changes(a, b, pointer, &mut d);
                out.push(d);
            }
            "annotations" => {
                let mut d = with_digests(ToolDiff::new(kind, &p.name, DiffCode::AnnotationChanged));
                value_changes(a, b, pointer, &mut d);
                out.push(d);
            }
            _ => value_changes(a, b, pointer, &mut other),
        }
    }
    if !other.changes.is_empty() || other.omitted > 0 || out.len() == start {
        // Also reached when the digests differ but no field does (e.g. `1` vs
        // `1.0`, equal as values but not as bytes): still drift, never silent.
        out.push(other);
    }
}

/// Keys of `a` in order, then keys only in `b` in order.
fn union_keys(a: Option<&Map<String, Value>>, b: Option<&Map<String, Value>>) -> Vec<String> {
    let mut keys: Vec<String> = a.map(|m| m.keys().cloned().collect()).unwrap_or_default();
    if let Some(b) = b {
        for k in b.keys() {
            if a.is_none_or(|a| !a.contains_key(k)) {
                keys.push(k.clone());
            }
        }
    }
    keys
}

/// RFC 6901 escaping of one reference token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn push_change(d: &mut ToolDiff, change: ValueChange) {
    if d.changes.len() < MAX_CHANGES {
        d.changes.push(change);
    } else {
        d.omitted += 1;
    }
}

/// Records every leaf where `a` and `b` differ, by JSON pointer. Recursion
/// depth follows the input, which was bounded when it was parsed.
fn value_changes(a: Option<&Value>, b: Option<&Value>, pointer: String, d: &mut ToolDiff) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            for key in union_keys(Some(x), Some(y)) {
                let (p, q) = (x.get(&key), y.get(&key));
                if p != q {
                    value_changes(p, q, format!("{pointer}/{}", escape(&key)), d);
                }
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for i in 0..x.len().max(y.len()) {
                let (p, q) = (x.get(i), y.get(i));
                if p != q {
                    value_changes(p, q, format!("{pointer}/{i}"), d);
                }
            }
        }
        _ if a != b => push_change(
            d,
            ValueChange {
                pointer,
                pinned: a.cloned(),
                live: b.cloned(),
            },
        ),
        _ => {}
    }
}

/// A line diff by longest common subsequence: ` ` kept, `-` pinned only, `+` live only.
pub fn line_diff(old: &str, new: &str) -> Vec<String> {
    let a: Vec<&str> = old.split('\n').collect();
    let b: Vec<&str> = new.split('\n').collect();
    let (n, m) = (a.len(), b.len());
    if n.saturating_mul(m) > MAX_LCS_CELLS {
        return a
            .iter()
            .map(|l| format!("-{l}"))
            .chain(b.iter().map(|l| format!("+{l}")))
            .collect();
    }
    // lcs[i][j] = length of the LCS of a[i..] and b[j..].
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[at(i, j)] = if a[i] == b[j] {
                lcs[at(i + 1, j + 1)] + 1
            } else {
                lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(n + m);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(format!(" {}", a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[at(i + 1, j)] >= lcs[at(i, j + 1)]) {
            out.push(format!("-{}", a[i]));
            i += 1;
        } else {
            out.push(format!("+{}", b[j]));
            j += 1;
        }
    }
    out
}

impl fmt::Display for ToolDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.code {
            DiffCode::Added => "added",
            DiffCode::Removed => "removed",
            DiffCode::DescriptionChanged => "description changed",
            DiffCode::InstructionsChanged => "instructions changed",
            DiffCode::SchemaChanged => "schema changed",
            DiffCode::AnnotationChanged => "annotations changed",
            DiffCode::FieldChanged => "fields changed",
            DiffCode::ProfileChanged => "changed",
        };
        write!(
            f,
            "{} `{}`: {what} [{}]",
            self.kind,
            self.name,
            self.code.as_str()
        )?;
        for line in &self.lines {
            write!(f, "\n    {line}")?;
        }
        if self.code == DiffCode::Added {
            return Ok(());
        }
        for c in &self.changes {
            let show = |v: &Option<Value>| {
                v.as_ref()
                    .map_or_else(|| "(absent)".to_owned(), Value::to_string)
            };
            write!(
                f,
                "\n    {}: {} -> {}",
                c.pointer,
                show(&c.pinned),
                show(&c.live)
            )?;
        }
        if self.omitted > 0 {
            write!(f, "\n    ... and {} more", self.omitted)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_diff_marks_inserted_lines() {
        let d = line_diff("a\nb\nc", "a\nX\nb\nc");
        assert_eq!(d, vec![" a", "+X", " b", " c"]);
        let d = line_diff("a\nb", "a\nc");
        assert_eq!(d, vec![" a", "-b", "+c"]);
    }

    #[test]
    fn pointers_are_escaped() {
        let mut d = ToolDiff::new(ItemKind::Tool, "t", DiffCode::SchemaChanged);
        let a = serde_json::json!({"a/b": {"~c": [1, 2]}});
        let b = serde_json::json!({"a/b": {"~c": [1, 3, 4]}});
        value_changes(Some(&a), Some(&b), "/inputSchema".into(), &mut d);
        let ptrs: Vec<&str> = d.changes.iter().map(|c| c.pointer.as_str()).collect();
        assert_eq!(
            ptrs,
            vec!["/inputSchema/a~1b/~0c/1", "/inputSchema/a~1b/~0c/2"]
        );
        assert_eq!(d.changes[1].pinned, None);
    }
}

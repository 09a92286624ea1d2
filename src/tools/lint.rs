//! Warnings about definitions that try to mislead a reader or a model:
//! invisible and bidirectional-control characters, names that differ only by
//! look-alike characters, and text addressed to the model rather than the
//! user. Heuristics, documented in spec/tools.md; `--strict` makes them errors.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::{ItemKind, ToolPins};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LintCode {
    /// Zero-width, tag, variation-selector, soft-hyphen or control characters.
    InvisibleCharacter,
    /// Characters that reorder displayed text (Trojan Source).
    BidiControl,
    /// A name outside `[A-Za-z0-9_.-]`.
    NonAsciiName,
    /// Two names with the same skeleton (e.g. Latin `o` vs Cyrillic `о`).
    ConfusableName,
    /// Text aimed at the model: override phrases, secrecy, sensitive paths.
    ModelInstruction,
}

impl LintCode {
    pub fn as_str(self) -> &'static str {
        match self {
            LintCode::InvisibleCharacter => "invisible-character",
            LintCode::BidiControl => "bidi-control",
            LintCode::NonAsciiName => "non-ascii-name",
            LintCode::ConfusableName => "confusable-name",
            LintCode::ModelInstruction => "model-instruction",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Lint {
    pub kind: ItemKind,
    pub name: String,
    pub code: LintCode,
    /// Where in the definition (JSON pointer; keys are checked too).
    pub pointer: String,
    pub detail: String,
}

impl fmt::Display for Lint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} `{}` at `{}`: {} [{}]",
            self.kind,
            self.name.escape_debug(),
            self.pointer.escape_debug(),
            self.detail,
            self.code.as_str()
        )
    }
}

/// Phrases (lowercase, whitespace collapsed) that address the model or hide
/// things from the user. Short on purpose: each must be rare in honest text.
pub const INSTRUCTION_PHRASES: &[&str] = &[
    "ignore previous instructions",
    "ignore all previous",
    "ignore the above",
    "disregard previous",
    "disregard all previous",
    "forget your instructions",
    "do not tell the user",
    "don't tell the user",
    "do not inform the user",
    "without telling the user",
    "without informing the user",
    "do not mention this",
    "don't mention this",
    "the user must not know",
    "<important>",
    "</important>",
    "<system>",
    "</system>",
    "<instructions>",
    "~/.ssh",
    ".ssh/id_",
    "id_rsa",
    "id_ed25519",
    "~/.aws",
    ".aws/credentials",
    "~/.cursor/mcp.json",
    "claude_desktop_config.json",
    "/etc/shadow",
];

/// Runs every lint over every definition.
pub fn lint(pins: &ToolPins) -> Vec<Lint> {
    let mut out = Vec::new();
    if let Some(i) = &pins.instructions {
        check_text(
            ItemKind::Instructions,
            "instructions",
            &i.text,
            "/instructions",
            true,
            &mut out,
        );
    }
    for (kind, items) in pins.sections() {
        for p in items {
            let value = Value::Object(p.definition.clone());
            scan(kind, &p.name, &value, String::new(), &mut out);
            if !p
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                out.push(Lint {
                    kind,
                    name: p.name.clone(),
                    code: LintCode::NonAsciiName,
                    pointer: "/name".into(),
                    detail: format!(
                        "name `{}` has characters outside [A-Za-z0-9_.-]",
                        p.name.escape_unicode()
                    ),
                });
            }
        }
        // Names are compared within one list: a tool and a prompt may share a name.
        let mut by_skeleton: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for p in items {
            by_skeleton
                .entry(skeleton(&p.name))
                .or_default()
                .push(&p.name);
        }
        for names in by_skeleton.values().filter(|n| n.len() > 1) {
            for &name in names {
                let others: Vec<String> = names
                    .iter()
                    .filter(|&&n| n != name)
                    .map(|n| n.escape_debug().to_string())
                    .collect();
                out.push(Lint {
                    kind,
                    name: name.to_owned(),
                    code: LintCode::ConfusableName,
                    pointer: "/name".into(),
                    detail: format!("looks like {}", others.join(", ")),
                });
            }
        }
    }
    out
}

fn scan(kind: ItemKind, name: &str, value: &Value, pointer: String, out: &mut Vec<Lint>) {
    match value {
        Value::String(s) => check_text(kind, name, s, &pointer, true, out),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                scan(kind, name, v, format!("{pointer}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let child = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                check_text(kind, name, k, &child, false, out);
                scan(kind, name, v, child, out);
            }
        }
        _ => {}
    }
}

fn check_text(
    kind: ItemKind,
    name: &str,
    text: &str,
    pointer: &str,
    phrases: bool,
    out: &mut Vec<Lint>,
) {
    let mut push = |code, detail: String| {
        out.push(Lint {
            kind,
            name: name.to_owned(),
            code,
            pointer: pointer.to_owned(),
            detail,
        })
    };
    if let Some(c) = text.chars().find(|&c| is_bidi_control(c)) {
        push(
            LintCode::BidiControl,
            format!("contains bidirectional control U+{:04X}", c as u32),
        );
    }
    if let Some(c) = text.chars().find(|&c| is_invisible(c)) {
        push(
            LintCode::InvisibleCharacter,
            format!("contains invisible character U+{:04X}", c as u32),
        );
    }
    if phrases {
        let normal = text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        for phrase in INSTRUCTION_PHRASES {
            if normal.contains(phrase) {
                push(LintCode::ModelInstruction, format!("contains `{phrase}`"));
            }
        }
    }
}

pub use crate::text::{is_bidi_control, is_invisible};

/// A small confusable skeleton: look-alikes folded to one Latin letter,
/// case folded, `-` folded to `_`, invisible characters dropped.
pub fn skeleton(name: &str) -> String {
    name.chars()
        .filter(|&c| !is_invisible(c) && !is_bidi_control(c))
        .map(|c| {
            // Fullwidth ASCII (U+FF01..U+FF5E) is ASCII shifted by 0xFEE0.
            let c = match c {
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                _ => c,
            };
            match c {
                'I' | '1' | '|' | 'ǀ' | 'Ι' | 'І' | 'ӏ' => 'l',
                '0' | 'O' | 'о' | 'ο' | 'О' | 'Ο' | '০' => 'o',
                'а' | 'α' | 'А' | 'Α' => 'a',
                'В' | 'Β' | 'ь' => 'b',
                'с' | 'С' | 'ϲ' => 'c',
                'ԁ' => 'd',
                'е' | 'Е' | 'Ε' | 'ε' => 'e',
                'ɡ' => 'g',
                'Н' | 'Η' | 'һ' => 'h',
                'і' | 'ι' => 'i',
                'ј' | 'Ј' => 'j',
                'К' | 'Κ' | 'κ' => 'k',
                'М' | 'Μ' => 'm',
                'Ν' | 'ո' => 'n',
                'р' | 'ρ' | 'Р' | 'Ρ' => 'p',
                'ԛ' => 'q',
                'ѕ' | 'Ѕ' => 's',
                'Т' | 'Τ' => 't',
                'υ' | 'ս' => 'u',
                'ν' | 'ѵ' => 'v',
                'ԝ' | 'ѡ' => 'w',
                'х' | 'Х' | 'Χ' | 'χ' => 'x',
                'у' | 'У' | 'Υ' => 'y',
                'Ζ' => 'z',
                '-' | '‐' | '‑' | '–' | '—' => '_',
                other => other.to_ascii_lowercase(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skeleton_folds_lookalikes() {
        assert_eq!(skeleton("read_file"), skeleton("rеad_file")); // Cyrillic е
        assert_eq!(skeleton("read_file"), skeleton("read-fi1e"));
        assert_eq!(skeleton("get\u{200B}env"), skeleton("getenv"));
        assert_ne!(skeleton("read_file"), skeleton("read_files"));
    }

    #[test]
    fn classes() {
        assert!(is_bidi_control('\u{202E}'));
        assert!(is_invisible('\u{200B}'));
        assert!(is_invisible('\u{E0041}'));
        assert!(!is_invisible('\n'));
        assert!(!is_invisible('é'));
    }
}

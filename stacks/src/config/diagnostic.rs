//! Diagnostics that point into the YAML a person edits, rendered the way `just`
//! and rustc do (`--> file:line:col`, the source line, a caret underline, a hint).
//!
//! Rendering is plain text on purpose: no colour codes, so golden files stay
//! byte-for-byte stable and CI logs stay readable.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

/// One problem in one file.
///
/// `line` and `column` are 1-based (columns count characters, not bytes).
/// `line == 0` means the problem has no single position in the file, e.g. a
/// required key that is missing at the top level, or a file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// Dotted path of the setting, e.g. `capacity.read.min`, `sale_hours.monday`;
    /// empty when the problem is about the whole file.
    pub key_path: String,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic about a whole file (or directory) with no position in it.
    pub fn file_level(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: 0,
            column: 0,
            key_path: String::new(),
            message: message.into(),
            hint: None,
        }
    }

    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Every problem found while loading one or more county files.
///
/// Diagnostics are kept sorted by file, line and column, and duplicates are
/// dropped (a mistake in `defaults.yaml` is seen once per county by
/// [`Environments::load_all`](super::Environments::load_all), but reported once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    diagnostics: Vec<Diagnostic>,
    /// Text of the files the diagnostics point into, to print the offending line.
    sources: BTreeMap<PathBuf, String>,
}

impl ConfigErrors {
    /// Builds the error from diagnostics and the texts they point into.
    pub fn new(
        diagnostics: Vec<Diagnostic>,
        sources: impl IntoIterator<Item = (PathBuf, String)>,
    ) -> Self {
        let mut errors = Self {
            diagnostics,
            sources: sources.into_iter().collect(),
        };
        errors.normalize();
        errors
    }

    /// One diagnostic with no source text to show.
    pub fn single(diagnostic: Diagnostic) -> Self {
        Self::new(vec![diagnostic], [])
    }

    /// The diagnostics, sorted by file, line and column.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    pub fn len(&self) -> usize {
        self.diagnostics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// Adds another set of errors (e.g. from the next county file).
    pub fn extend(&mut self, other: ConfigErrors) {
        self.diagnostics.extend(other.diagnostics);
        for (path, text) in other.sources {
            self.sources.entry(path).or_insert(text);
        }
        self.normalize();
    }

    fn normalize(&mut self) {
        // `Diagnostic`'s derived order is (file, line, column, key path, message,
        // hint): deterministic, and it puts identical diagnostics next to each
        // other so `dedup` removes them.
        self.diagnostics.sort();
        self.diagnostics.dedup();
    }

    fn source_line(&self, file: &Path, line: usize) -> Option<&str> {
        let text = self.sources.get(file)?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let raw = text.split('\n').nth(line.checked_sub(1)?)?;
        Some(raw.strip_suffix('\r').unwrap_or(raw))
    }

    fn render_one(&self, out: &mut String, d: &Diagnostic) -> fmt::Result {
        let gutter = if d.line == 0 {
            1
        } else {
            d.line.to_string().len()
        };
        let pad = " ".repeat(gutter);
        writeln!(out, "error: {}", d.message)?;
        if d.line == 0 {
            writeln!(out, "{pad}--> {}", d.file.display())?;
        } else {
            writeln!(out, "{pad}--> {}:{}:{}", d.file.display(), d.line, d.column)?;
            if let Some(text) = self.source_line(&d.file, d.line) {
                let col = d.column.max(1);
                // Keep tabs in the indentation so the caret lines up under them.
                let indent: String = text
                    .chars()
                    .chain(std::iter::repeat(' '))
                    .take(col - 1)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                let width = token_width(text, col);
                writeln!(out, "{pad} |")?;
                writeln!(out, "{} | {}", d.line, text.trim_end())?;
                writeln!(out, "{pad} | {indent}{}", "^".repeat(width))?;
            }
        }
        if let Some(hint) = &d.hint {
            writeln!(out, "{pad} = hint: {hint}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        for d in &self.diagnostics {
            self.render_one(&mut out, d)?;
            out.push('\n');
        }
        // One summary line per file, in file order, so a CI log that is cut
        // short still ends with what went wrong where.
        let mut per_file: Vec<(&Path, usize)> = Vec::new();
        for d in &self.diagnostics {
            match per_file.last_mut() {
                Some((file, n)) if *file == d.file.as_path() => *n += 1,
                _ => per_file.push((&d.file, 1)),
            }
        }
        let summary: Vec<String> = per_file
            .iter()
            .map(|(file, n)| {
                let noun = if *n == 1 { "error" } else { "errors" };
                format!("error: {}: {n} {noun}", file.display())
            })
            .collect();
        out.push_str(&summary.join("\n"));
        f.write_str(&out)
    }
}

impl std::error::Error for ConfigErrors {}

/// How many characters to underline for the YAML token starting at 1-based
/// `col` in `line`: a quoted string up to its closing quote, a plain scalar up
/// to the end of the value (`: `, ` #`, or in flow style `,`/`]`/`}`), or one
/// character for anything else. Heuristic, but only the underline depends on it.
fn token_width(line: &str, col: usize) -> usize {
    let chars: Vec<char> = line.chars().collect();
    let start = col - 1;
    let Some(&first) = chars.get(start) else {
        return 1;
    };
    match first {
        '"' | '\'' => {
            let mut i = start + 1;
            while i < chars.len() {
                let c = chars[i];
                if first == '"' && c == '\\' {
                    i += 2;
                    continue;
                }
                if c == first {
                    // `''` is an escaped quote inside a single-quoted scalar.
                    if first == '\'' && chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    return i - start + 1;
                }
                i += 1;
            }
            chars.len() - start
        }
        '[' | ']' | '{' | '}' | ',' | '-' | '|' | '>' | '#' | '?' | ':' => 1,
        _ => {
            let flow = in_flow(&chars[..start]);
            let mut end = start;
            while end < chars.len() {
                let c = chars[end];
                let next = chars.get(end + 1).copied();
                let ends_key = c == ':' && next.is_none_or(char::is_whitespace);
                let comment = c == '#' && end > start && chars[end - 1].is_whitespace();
                if ends_key || comment || (flow && matches!(c, ',' | ']' | '}')) {
                    break;
                }
                end += 1;
            }
            while end > start && chars[end - 1].is_whitespace() {
                end -= 1;
            }
            (end - start).max(1)
        }
    }
}

/// Whether a position follows an unclosed `[` or `{` on its line.
fn in_flow(before: &[char]) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for &c in before {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            _ => {}
        }
    }
    depth > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_widths() {
        assert_eq!(token_width("      memroy_mb: 512", 7), 9);
        assert_eq!(token_width("      memroy_mb: 512", 18), 3);
        assert_eq!(token_width("name: Travis, County # c", 7), 14);
        assert_eq!(token_width("read: { min: 5, max: 200 }", 14), 1);
        assert_eq!(token_width("read: { min: 5, max: 200 }", 22), 3);
        assert_eq!(token_width(r#"a: "x\"y" # c"#, 4), 6);
        assert_eq!(token_width("a: 'it''s'", 4), 7);
        assert_eq!(token_width("tz: America/Chicago", 5), 15);
        assert_eq!(token_width("short", 40), 1);
    }

    #[test]
    fn renders_like_rustc() {
        let text = "functions:\n  api:\n    memroy_mb: 512\n".to_string();
        let d = Diagnostic {
            file: "environments/travis-tx.yaml".into(),
            line: 3,
            column: 5,
            key_path: "functions.api.memroy_mb".into(),
            message: "unknown key `memroy_mb` at functions.api".into(),
            hint: Some("did you mean `memory_mb`?".into()),
        };
        let errors = ConfigErrors::new(vec![d], [("environments/travis-tx.yaml".into(), text)]);
        assert_eq!(
            errors.to_string(),
            "error: unknown key `memroy_mb` at functions.api\n \
             --> environments/travis-tx.yaml:3:5\n  |\n3 |     memroy_mb: 512\n  |     ^^^^^^^^^\n  \
             = hint: did you mean `memory_mb`?\n\n\
             error: environments/travis-tx.yaml: 1 error"
        );
    }

    #[test]
    fn sorts_and_dedups() {
        let at = |line| Diagnostic {
            line,
            column: 1,
            ..Diagnostic::file_level("a.yaml", "m")
        };
        let errors = ConfigErrors::new(vec![at(3), at(1), at(3)], []);
        let lines: Vec<usize> = errors.diagnostics().iter().map(|d| d.line).collect();
        assert_eq!(lines, [1, 3]);
    }
}

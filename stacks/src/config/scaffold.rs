//! Scaffolding a new county file from `templates/county.yaml.j2`.
//!
//! The rendered text is parsed back with [`parse_county`] against the real
//! defaults before anything is written, so a bad `--account` is reported with
//! the same diagnostics as a hand-edited file, pointing into the would-be file.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior, Value, context};
use serde::Serialize;

use super::{ConfigErrors, DEFAULTS_FILE, SourceFile, parse_county, rules};

const TEMPLATE_NAME: &str = "county.yaml.j2";
const TEMPLATE: &str = include_str!("../../../templates/county.yaml.j2");

/// The identity of a county to add; everything else comes from the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewCounty {
    pub id: String,
    pub name: String,
    pub state: String,
    pub account: String,
    pub region: String,
    /// IANA zone; `None` picks the state's primary zone (see [`super::state_timezone`]).
    pub timezone: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AddCountyError {
    #[error("{} already exists; edit it instead of adding the county again", path.display())]
    AlreadyExists { path: PathBuf },
    /// The rendered file (or the defaults) did not validate.
    #[error(transparent)]
    Invalid(#[from] ConfigErrors),
    #[error("cannot render {TEMPLATE_NAME}: {0:#}")]
    Render(#[from] minijinja::Error),
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Renders the county file for `p`. Values are emitted as YAML double-quoted
/// strings, so no name or id can change the file's structure.
pub fn render_new_county(p: &NewCounty) -> Result<String, minijinja::Error> {
    let mut env = Environment::new();
    // A misspelt variable in the template must fail, not render as "".
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()?,
    );
    env.add_filter("yaml_str", |s: String| {
        Value::from_safe_string(yaml_double_quoted(&s))
    });
    env.add_filter("yaml_comment", |s: String| {
        Value::from_safe_string(comment_text(&s))
    });
    env.add_template(TEMPLATE_NAME, TEMPLATE)?;

    let (timezone, timezone_defaulted) = match &p.timezone {
        Some(tz) => (Some(tz.clone()), false),
        None => (rules::state_timezone(&p.state).map(str::to_owned), true),
    };
    env.get_template(TEMPLATE_NAME)?.render(context! {
        id => &p.id,
        name => &p.name,
        state => &p.state,
        account => &p.account,
        region => &p.region,
        timezone => timezone,
        timezone_defaulted => timezone_defaulted,
    })
}

/// Renders, validates against `envs_dir/defaults.yaml`, and writes
/// `envs_dir/<id>.yaml`, refusing to replace an existing file. The write is
/// atomic: a temporary file in the same directory is linked into place only
/// if the target does not exist, so a crash or a concurrent `add` never
/// leaves a half-written or clobbered county file.
pub fn add_county(envs_dir: &Path, p: &NewCounty) -> Result<PathBuf, AddCountyError> {
    let text = render_new_county(p)?;
    let path = envs_dir.join(format!("{}.yaml", p.id));
    let defaults = SourceFile::read(envs_dir.join(DEFAULTS_FILE))?;
    parse_county(&defaults, &SourceFile::new(&path, text.clone()))?;
    if path.exists() {
        return Err(AddCountyError::AlreadyExists { path });
    }

    let io = |source| AddCountyError::Io {
        path: path.clone(),
        source,
    };
    // A leading dot keeps `Environments` from listing the temporary file.
    let mut temp = tempfile::Builder::new()
        .prefix(".new-county-")
        .suffix(".tmp")
        .tempfile_in(envs_dir)
        .map_err(io)?;
    temp.write_all(text.as_bytes()).map_err(io)?;
    temp.as_file().sync_all().map_err(io)?;
    #[cfg(unix)]
    {
        // tempfile creates 0600; a config file checked into git is 0644.
        use std::os::unix::fs::PermissionsExt as _;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io)?;
    }
    match temp.persist_noclobber(&path) {
        Ok(_) => Ok(path),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(AddCountyError::AlreadyExists { path })
        }
        Err(e) => Err(io(e.error)),
    }
}

/// A YAML double-quoted scalar holding exactly `s`. Escapes `\` and `"`, and
/// every character YAML would fold, strip or treat as a line break (C0/C1
/// controls, DEL, U+2028/U+2029, the BOM); everything else is literal.
pub(crate) fn yaml_double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text for inside a `#` comment: a line break there would end the comment
/// and turn the rest of the value into YAML.
fn comment_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tree::{self, Kind};

    #[test]
    fn quoted_strings_read_back_exactly() {
        let nasty = [
            "O'Brien: \"X\"",
            "a\\b",
            "# not a comment",
            "- [x]: {y}",
            "line\nbreak\ttab\r",
            "nul\0 del\u{7f} nel\u{85} ls\u{2028} bom\u{feff}",
            "  padded  ",
            "",
            "&anchor *alias !tag %dir @at `tick`",
        ];
        for s in nasty {
            let doc = format!("k: {}\n", yaml_double_quoted(s));
            let node = tree::parse(0, &doc).unwrap_or_else(|e| panic!("{s:?}: {e:?}"));
            let value = &node.entries().unwrap_or_default()[0].value;
            assert_eq!(
                value.kind,
                Kind::Scalar {
                    text: s.to_owned(),
                    plain: false
                },
                "{doc}"
            );
        }
    }
}

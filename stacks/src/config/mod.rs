//! County configuration: `environments/defaults.yaml` merged under
//! `environments/<county>.yaml`, validated strictly.
//!
//! * [`parse_county`] is the pure core: two texts in, a [`CountyConfig`] or
//!   every problem in both files out.
//! * [`Environments`] reads the `environments/` directory.
//! * [`render_new_county`] and [`add_county`] scaffold a new county file from
//!   `templates/county.yaml.j2`.
//!
//! Merge rule: a mapping in the county file is merged key by key into the same
//! mapping from the defaults, at any depth; a scalar, a list or `null` replaces
//! the default outright. The identity keys (`id`, `name`, `state`, `account`,
//! `region`) must be in the county file and must not be in `defaults.yaml`.
//!
//! Errors are [`ConfigErrors`]: a sorted list of [`Diagnostic`]s, each naming
//! the file (defaults or county) of the node it is about, with line, column,
//! the dotted key path and usually a hint. Their `Display` is the text the CLI
//! prints.

mod cross;
mod decode;
mod diagnostic;
mod model;
pub(crate) mod rules;
mod scaffold;
mod schema;
mod tree;

use std::fs;
use std::path::{Path, PathBuf};

pub use diagnostic::{ConfigErrors, Diagnostic};
pub use model::*;
pub use rules::state_timezone;
pub use scaffold::{AddCountyError, NewCounty, add_county, render_new_county};

use decode::Decoder;
use schema::{COUNTY_ONLY_KEYS, IDENTITY_KEYS};
use tree::{Kind, Node};

/// The name of the file holding every county's defaults.
pub const DEFAULTS_FILE: &str = "defaults.yaml";

/// A configuration file's path (as it should appear in messages) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
        }
    }

    /// Reads a file; failure is a diagnostic naming the path.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, ConfigErrors> {
        let path = path.as_ref().to_path_buf();
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Self { path, text }),
            Err(e) => Err(ConfigErrors::single(Diagnostic::file_level(
                &path,
                format!("cannot read {}: {e}", path.display()),
            ))),
        }
    }
}

/// Index of each file in a [`Decoder`]'s file table (and in tree positions).
const DEFAULTS: usize = 0;
const COUNTY: usize = 1;

/// Merges `defaults` under `county` and validates the result. Pure: the
/// county's expected id is taken from `county.path`'s file stem.
pub fn parse_county(
    defaults: &SourceFile,
    county: &SourceFile,
) -> Result<CountyConfig, ConfigErrors> {
    let files = [defaults, county];
    let mut d = Decoder::new(&files);
    let base = parse_defaults(&mut d, defaults);
    let over = parse_reporting(&mut d, COUNTY, &county.text);
    let config = match (base, over) {
        (Some(base), Some(over)) => {
            let merged = tree::merge(base, over);
            let stem = county.path.file_stem().and_then(|s| s.to_str());
            let config = schema::county(&mut d, &merged, stem);
            d.diagnostics.extend(defaults_alone(defaults, &county.path));
            config
        }
        // A file that does not parse has no tree to merge; its syntax error
        // (and the other file's, if any) is what there is to report.
        _ => None,
    };
    match config {
        Some(config) if d.diagnostics.is_empty() => Ok(config),
        _ => {
            if d.diagnostics.is_empty() {
                // Decoding returns `None` only after reporting; keep that
                // promise visible rather than return an empty error.
                d.error(
                    tree::Pos::file(COUNTY),
                    "",
                    "internal error: configuration rejected without a diagnostic",
                    None,
                );
            }
            Err(ConfigErrors::new(
                d.diagnostics,
                files.map(|f| (f.path.clone(), f.text.clone())),
            ))
        }
    }
}

fn parse_reporting(d: &mut Decoder<'_>, source: usize, text: &str) -> Option<Node> {
    match tree::parse_past_duplicates(source, text) {
        Ok((node, duplicate)) => {
            if let Some(e) = duplicate {
                d.error(e.pos, "", e.message, e.hint);
            }
            Some(node)
        }
        Err(e) => {
            d.error(e.pos, "", e.message, e.hint);
            None
        }
    }
}

/// What a county file always sets itself (the identity keys and its
/// `timezone`, which has no default), standing in for one while
/// `defaults.yaml` is checked on its own.
const STAND_IN_COUNTY: &str = "id: stand-in
name: Stand-in County
state: TX
account: \"123456789012\"
region: us-east-2
timezone: America/Chicago
";

/// The problems `defaults.yaml` has on its own, under a county file that
/// sets nothing but its identity. A default every existing county overrides
/// is still what the next county gets (`county add` writes few overrides),
/// so it must be valid by itself; merged under a county that overrides it,
/// it is never looked at. Only diagnostics inside `defaults.yaml` are kept:
/// the merged check reports the county file's own (duplicates of a defaults
/// problem both checks see are dropped by [`ConfigErrors`]).
fn defaults_alone(defaults: &SourceFile, county_path: &Path) -> Vec<Diagnostic> {
    let stand_in = SourceFile::new(county_path, STAND_IN_COUNTY);
    let files = [defaults, &stand_in];
    let mut d = Decoder::new(&files);
    let (Some(base), Ok(over)) = (
        parse_defaults(&mut d, defaults),
        tree::parse(COUNTY, STAND_IN_COUNTY),
    ) else {
        return Vec::new();
    };
    schema::county(&mut d, &tree::merge(base, over), None);
    d.diagnostics
        .into_iter()
        .filter(|diagnostic| diagnostic.file == defaults.path)
        .collect()
}

/// Parses `defaults.yaml`, reporting (and dropping) identity keys and the
/// other keys only a county's own file may set.
fn parse_defaults(d: &mut Decoder<'_>, defaults: &SourceFile) -> Option<Node> {
    let mut node = parse_reporting(d, DEFAULTS, &defaults.text)?;
    if let Kind::Map(entries) = &mut node.kind {
        entries.retain(|entry| {
            let key = entry.key.as_str();
            let hint = if IDENTITY_KEYS.contains(&key) {
                "id, name, state, account and region identify one county: set them in its own file"
            } else if let Some((_, hint)) = COUNTY_ONLY_KEYS.iter().find(|(k, _)| *k == key) {
                hint
            } else {
                return true;
            };
            d.error(
                entry.key_pos,
                &entry.key,
                format!("`{}` must not be set in {DEFAULTS_FILE}", entry.key),
                Some(hint.to_owned()),
            );
            false
        });
    }
    Some(node)
}

/// The `environments/` directory: `defaults.yaml` plus one `<id>.yaml` per county.
#[derive(Debug, Clone)]
pub struct Environments {
    pub dir: PathBuf,
    defaults: SourceFile,
    /// County ids found when the directory was opened, sorted.
    ids: Vec<String>,
}

impl Environments {
    /// Reads `defaults.yaml` (once) and lists the county files. Fails if the
    /// directory or the defaults cannot be read, if the defaults are not valid
    /// YAML or hold identity keys, or if a county file is misnamed `.yml`
    /// (it would otherwise be skipped without a word).
    pub fn open(dir: &Path) -> Result<Self, ConfigErrors> {
        let dir = dir.to_path_buf();
        let mut diagnostics = Vec::new();
        let mut ids = Vec::new();
        match fs::read_dir(&dir) {
            Ok(entries) => {
                for entry in entries {
                    let path = match entry {
                        Ok(entry) => entry.path(),
                        Err(e) => {
                            diagnostics.push(Diagnostic::file_level(
                                &dir,
                                format!("cannot list {}: {e}", dir.display()),
                            ));
                            continue;
                        }
                    };
                    match classify_entry(&path) {
                        DirEntry::County(id) => ids.push(id),
                        DirEntry::Ignored => {}
                        DirEntry::Misnamed(d) => diagnostics.push(d),
                    }
                }
            }
            Err(e) => {
                return Err(ConfigErrors::single(Diagnostic::file_level(
                    &dir,
                    format!(
                        "cannot read the environments directory {}: {e}",
                        dir.display()
                    ),
                )));
            }
        }
        ids.sort();

        let defaults = SourceFile::read(dir.join(DEFAULTS_FILE))?;
        let files = [&defaults];
        let mut d = Decoder::new(&files);
        parse_defaults(&mut d, &defaults);
        diagnostics.extend(d.diagnostics);
        if !diagnostics.is_empty() {
            return Err(ConfigErrors::new(
                diagnostics,
                [(defaults.path.clone(), defaults.text.clone())],
            ));
        }
        Ok(Self { dir, defaults, ids })
    }

    /// The defaults every county file is merged over.
    pub fn defaults(&self) -> &SourceFile {
        &self.defaults
    }

    /// Every county id (`<id>.yaml` in the directory, except `defaults.yaml`), sorted.
    pub fn county_ids(&self) -> Vec<String> {
        self.ids.clone()
    }

    /// Where county `id`'s file is (or would be).
    pub fn county_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.yaml"))
    }

    /// Loads one county; an unknown id is an error listing the known ones.
    pub fn load(&self, id: &str) -> Result<CountyConfig, ConfigErrors> {
        if !self.ids.iter().any(|known| known == id) {
            return Err(ConfigErrors::single(self.unknown_county(id)));
        }
        let county = SourceFile::read(self.county_path(id))?;
        parse_county(&self.defaults, &county)
    }

    /// Loads every county, reporting the errors of all files together.
    pub fn load_all(&self) -> Result<Vec<CountyConfig>, ConfigErrors> {
        let mut configs = Vec::with_capacity(self.ids.len());
        let mut errors: Option<ConfigErrors> = None;
        for id in &self.ids {
            match self.load(id) {
                Ok(config) => configs.push(config),
                Err(e) => match &mut errors {
                    Some(all) => all.extend(e),
                    None => errors = Some(e),
                },
            }
        }
        match errors {
            Some(errors) => Err(errors),
            None => Ok(configs),
        }
    }

    fn unknown_county(&self, id: &str) -> Diagnostic {
        let known = if self.ids.is_empty() {
            "there are no county files yet".to_owned()
        } else {
            format!("known counties: {}", self.ids.join(", "))
        };
        let hint = match decode::did_you_mean(id, self.ids.iter().map(String::as_str)) {
            Some(close) => format!("did you mean `{close}`? {known}"),
            None => known,
        };
        Diagnostic::file_level(&self.dir, format!("unknown county `{id}`")).with_hint(hint)
    }
}

/// What a file in the environments directory is.
enum DirEntry {
    County(String),
    Ignored,
    Misnamed(Diagnostic),
}

fn classify_entry(path: &Path) -> DirEntry {
    let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
        return DirEntry::Ignored;
    };
    // Editor backups, lock files and add_county's temporary file start with a dot.
    if file_name.starts_with('.') || file_name == DEFAULTS_FILE || !path.is_file() {
        return DirEntry::Ignored;
    }
    if let Some(stem) = file_name.strip_suffix(".yaml") {
        return DirEntry::County(stem.to_owned());
    }
    if let Some(stem) = file_name.strip_suffix(".yml") {
        return DirEntry::Misnamed(
            Diagnostic::file_level(path, "county files must end in `.yaml`, not `.yml`")
                .with_hint(format!("rename it to {stem}.yaml")),
        );
    }
    DirEntry::Ignored
}

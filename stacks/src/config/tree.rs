//! A YAML tree in which every key and value remembers which file it came from
//! and where, so that errors found after merging `defaults.yaml` under a county
//! file still point into the right file.
//!
//! Parsing is done by `marked-yaml`, which keeps a start position for every
//! node. We copy its output into our own small tree because we need three
//! things it does not give directly: whether a scalar was quoted (so `"48"` is
//! a string and `48` an integer, as in YAML 1.2), a sensible position for empty
//! values (it reports the position of the *next* token), and a merge that keeps
//! per-node origins. It is also strict in ways we want for configuration:
//! anchors, aliases, tags and duplicate keys are errors. One gap: it silently
//! ignores every document after the first, so we check for a second document
//! ourselves rather than drop half a file.

use marked_yaml::{LoaderOptions, Node as MNode};

/// Where a node is: `source` indexes the files being decoded together
/// (0 = defaults, 1 = county); `line`/`column` are 1-based, `line == 0` means
/// "the file as a whole".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub source: usize,
    pub line: usize,
    pub column: usize,
}

impl Pos {
    pub fn file(source: usize) -> Self {
        Self {
            source,
            line: 0,
            column: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// `plain` is false for quoted and block (`|`, `>`) scalars: those are
    /// always strings, never numbers, booleans or null.
    Scalar {
        text: String,
        plain: bool,
    },
    Map(Vec<Entry>),
    Seq(Vec<Node>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

impl Node {
    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.kind {
            Kind::Map(entries) => Some(entries),
            _ => None,
        }
    }
}

/// A YAML syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
    /// A duplicate key: the file still parses if later values win.
    pub duplicate: bool,
}

/// Parses one YAML file whose top level must be a mapping (an empty file is an
/// empty mapping).
pub(crate) fn parse(source: usize, text: &str) -> Result<Node, SyntaxError> {
    // Windows editors may save a byte order mark; the parser would read it as
    // part of the first key. (The diagnostic renderer drops it too, so
    // columns on line 1 still line up.)
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    check_single_document(source, text)?;
    let options = LoaderOptions::default()
        .error_on_duplicate_keys(true)
        // Marks quoted scalars as non-coercible: that is how we learn they were quoted.
        .prevent_coercion(true);
    let root = marked_yaml::parse_yaml_with_options(source, text, options)
        .map_err(|e| load_error(source, e))?;
    Ok(convert(&root, Pos::file(source)))
}

/// [`parse`], except that a duplicate key does not hide the rest of the
/// file: it comes back beside the tree (read again with the later value
/// kept), so the file's other problems are reported with it.
pub(crate) fn parse_past_duplicates(
    source: usize,
    text: &str,
) -> Result<(Node, Option<SyntaxError>), SyntaxError> {
    let duplicate = match parse(source, text) {
        Ok(node) => return Ok((node, None)),
        Err(e) if e.duplicate => e,
        Err(e) => return Err(e),
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let options = LoaderOptions::default()
        .error_on_duplicate_keys(false)
        .prevent_coercion(true);
    let root = marked_yaml::parse_yaml_with_options(source, text, options)
        .map_err(|e| load_error(source, e))?;
    Ok((convert(&root, Pos::file(source)), Some(duplicate)))
}

fn convert(node: &MNode, fallback: Pos) -> Node {
    match node {
        MNode::Scalar(s) => {
            let plain = s.may_coerce();
            // An empty plain scalar (`key:` with nothing after it) is reported
            // at the following token, often on the next line; point at the key.
            let pos = if plain && s.as_str().is_empty() {
                fallback
            } else {
                start(s.span(), fallback)
            };
            Node {
                pos,
                kind: Kind::Scalar {
                    text: s.as_str().to_owned(),
                    plain,
                },
            }
        }
        MNode::Mapping(m) => {
            let entries = m
                .iter()
                .map(|(k, v)| {
                    let key_pos = start(k.span(), fallback);
                    let value = match v {
                        // A nested mapping has no token of its own in block
                        // style; its key is the natural place to point at.
                        MNode::Mapping(_) => Node {
                            pos: key_pos,
                            ..convert(v, key_pos)
                        },
                        _ => convert(v, key_pos),
                    };
                    Entry {
                        key: k.as_str().to_owned(),
                        key_pos,
                        value,
                    }
                })
                .collect();
            Node {
                pos: fallback,
                kind: Kind::Map(entries),
            }
        }
        MNode::Sequence(items) => {
            let pos = start(items.span(), fallback);
            Node {
                pos,
                kind: Kind::Seq(items.iter().map(|v| convert(v, pos)).collect()),
            }
        }
    }
}

fn start(span: &marked_yaml::Span, fallback: Pos) -> Pos {
    span.start().map_or(fallback, |m| Pos {
        source: fallback.source,
        line: m.line(),
        column: m.column(),
    })
}

fn load_error(source: usize, e: marked_yaml::LoadError) -> SyntaxError {
    use marked_yaml::LoadError as E;
    let at = |m: &marked_yaml::Marker| Pos {
        source,
        line: m.line(),
        column: m.column(),
    };
    let (pos, message, hint) = match &e {
        E::TopLevelMustBeMapping(m) => (
            at(m),
            "the top level of the file must be a mapping of `key: value` lines".to_owned(),
            None,
        ),
        E::TopLevelMustBeSequence(m) => (at(m), "unexpected top-level mapping".to_owned(), None),
        E::UnexpectedAnchor(m) => (
            at(m),
            "YAML anchors and aliases (`&name`, `*name`) are not supported".to_owned(),
            Some("write the value out; defaults.yaml is the place for shared values".to_owned()),
        ),
        E::MappingKeyMustBeScalar(m) => (
            at(m),
            "mapping keys must be plain names, not lists or mappings".to_owned(),
            None,
        ),
        E::UnexpectedTag(m) => (
            at(m),
            "YAML tags (`!!str`, `!name`) are not supported".to_owned(),
            Some("quote the value to make it a string".to_owned()),
        ),
        E::ScanError(m, scan) => {
            let info = scan.info();
            let hint = if info.contains("did not find expected key") {
                Some("check the indentation: the keys of one mapping must line up".to_owned())
            } else if info.contains("mapping values are not allowed") {
                Some("quote a value that contains `: `, or check the indentation".to_owned())
            } else if info.contains("tab") {
                Some("YAML does not allow tabs for indentation; use spaces".to_owned())
            } else {
                None
            };
            (at(m), format!("invalid YAML: {info}"), hint)
        }
        E::DuplicateKey(dup) => {
            let first = dup.prev_key.span().start().map(|m| m.line());
            (
                start(dup.key.span(), Pos::file(source)),
                format!("duplicate key `{}`", dup.key.as_str()),
                first.map(|line| format!("it is already set on line {line}; keep one")),
            )
        }
    };
    let duplicate = matches!(e, E::DuplicateKey(_));
    SyntaxError {
        pos,
        message,
        hint,
        duplicate,
    }
}

/// `marked-yaml` reads only the first document of a stream and drops the rest
/// without a word; a county file split by `---` would lose settings silently.
fn check_single_document(source: usize, text: &str) -> Result<(), SyntaxError> {
    let mut seen_content = false;
    let mut ended = false;
    for (i, line) in text.lines().enumerate() {
        let is_marker = |m: &str| {
            line.strip_prefix(m)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        };
        let pos = Pos {
            source,
            line: i + 1,
            column: 1,
        };
        let error = SyntaxError {
            pos,
            message: "a county file must hold exactly one YAML document".to_owned(),
            hint: Some("remove the `---` / `...` document markers".to_owned()),
            duplicate: false,
        };
        if is_marker("---") {
            if seen_content || ended {
                return Err(error);
            }
            // `--- key: value` starts the document with content on the marker line.
            seen_content =
                !line[3..].trim_start().is_empty() && !line[3..].trim_start().starts_with('#');
            continue;
        }
        if is_marker("...") {
            ended = true;
            continue;
        }
        let trimmed = line.trim_start();
        let is_content = !trimmed.is_empty() && !trimmed.starts_with('#') && !line.starts_with('%');
        if is_content {
            if ended {
                return Err(error);
            }
            seen_content = true;
        }
    }
    Ok(())
}

/// Deep merge: a mapping in `over` is merged key by key into the same mapping
/// in `base`; anything else in `over` (scalar, list, null) replaces the base
/// value. Every node keeps the position (and so the file) it came from.
pub(crate) fn merge(base: Node, over: Node) -> Node {
    match (base.kind, over.kind) {
        (Kind::Map(mut merged), Kind::Map(overrides)) => {
            for entry in overrides {
                match merged.iter_mut().find(|e| e.key == entry.key) {
                    Some(existing) => {
                        let base_value = std::mem::replace(
                            &mut existing.value,
                            Node {
                                pos: entry.value.pos,
                                kind: Kind::Seq(Vec::new()),
                            },
                        );
                        existing.value = merge(base_value, entry.value);
                        existing.key_pos = entry.key_pos;
                    }
                    None => merged.push(entry),
                }
            }
            Node {
                pos: over.pos,
                kind: Kind::Map(merged),
            }
        }
        (_, kind) => Node {
            pos: over.pos,
            kind,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(node: &Node, path: &[&str]) -> (String, Pos) {
        let mut node = node;
        for key in path {
            node = &node
                .entries()
                .and_then(|es| es.iter().find(|e| e.key == *key))
                .unwrap_or_else(|| panic!("no key {key}"))
                .value;
        }
        match &node.kind {
            Kind::Scalar { text, .. } => (text.clone(), node.pos),
            other => panic!("not a scalar: {other:?}"),
        }
    }

    fn keys(node: &Node) -> Vec<&str> {
        node.entries()
            .unwrap_or_default()
            .iter()
            .map(|e| e.key.as_str())
            .collect()
    }

    #[test]
    fn positions_and_quoting() {
        let node = parse(1, "a: 1\nb: \"2\"\nc:\nd:\n  e: x\n").expect("parses");
        let Kind::Scalar { plain, .. } = &node.entries().unwrap_or_default()[1].value.kind else {
            panic!("b is a scalar")
        };
        assert!(!plain);
        assert_eq!(
            scalar(&node, &["a"]).1,
            Pos {
                source: 1,
                line: 1,
                column: 4
            }
        );
        // The empty value of `c` points at `c`, not at `d` on the next line.
        assert_eq!(scalar(&node, &["c"]).1.line, 3);
        assert_eq!(
            scalar(&node, &["d", "e"]).1,
            Pos {
                source: 1,
                line: 5,
                column: 6
            }
        );
    }

    #[test]
    fn merge_is_deep_for_mappings_and_replaces_the_rest() {
        let base = parse(
            0,
            "a: 1\nm:\n  x: 1\n  y: 2\n  n: {p: 1, q: 2}\nlist: [1, 2]\nd: {k: v}\n",
        )
        .expect("base");
        let over =
            parse(1, "m:\n  y: 20\n  n: {q: 3}\nlist: [9]\nd: null\nnew: z\n").expect("over");
        let merged = merge(base, over);
        assert_eq!(keys(&merged), ["a", "m", "list", "d", "new"]);
        assert_eq!(scalar(&merged, &["a"]).1.source, 0);
        assert_eq!(
            scalar(&merged, &["m", "x"]),
            (
                "1".into(),
                Pos {
                    source: 0,
                    line: 3,
                    column: 6
                }
            )
        );
        assert_eq!(
            scalar(&merged, &["m", "y"]),
            (
                "20".into(),
                Pos {
                    source: 1,
                    line: 2,
                    column: 6
                }
            )
        );
        assert_eq!(scalar(&merged, &["m", "n", "p"]).1.source, 0);
        assert_eq!(scalar(&merged, &["m", "n", "q"]).0, "3");
        assert_eq!(scalar(&merged, &["d"]).0, "null");
        let list = &merged.entries().unwrap_or_default()[2].value;
        assert!(matches!(&list.kind, Kind::Seq(items) if items.len() == 1));
        // The merged mapping's key points at the file that overrode part of it.
        assert_eq!(merged.entries().unwrap_or_default()[1].key_pos.source, 1);
    }

    #[test]
    fn mapping_replaces_scalar_and_scalar_replaces_mapping() {
        let merged = merge(
            parse(0, "cache: null\nwaf: {rate_limit: 1}\n").expect("base"),
            parse(1, "cache: {node_count: 3}\nwaf: 5\n").expect("over"),
        );
        assert_eq!(scalar(&merged, &["cache", "node_count"]).0, "3");
        assert_eq!(scalar(&merged, &["waf"]).0, "5");
    }

    #[test]
    fn rejects_second_document() {
        let err = parse(1, "a: 1\n---\nb: 2\n").expect_err("two documents");
        assert_eq!(err.pos.line, 2);
        assert!(parse(1, "# c\n---\na: 1\n...\n").is_ok());
        assert!(parse(1, "a: 1\n...\nb: 2\n").is_err());
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse(1, "a:\n  b: 1\n c: 2\n").expect_err("bad indent");
        assert_eq!((err.pos.line, err.pos.column), (3, 3));
        let err = parse(1, "a: 1\na: 2\n").expect_err("duplicate");
        assert_eq!(err.pos.line, 2);
        assert_eq!(err.message, "duplicate key `a`");
        assert!(parse(1, "- a\n").is_err());
        assert!(parse(1, "a: *x\n").is_err());
        assert!(parse(1, "").is_ok_and(|n| n.entries().is_some_and(<[Entry]>::is_empty)));
    }
}

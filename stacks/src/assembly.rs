//! The cloud assembly: the AWS CDK's on-disk format (`manifest.json` per the
//! published cloud-assembly schema, one template file per stack), so the CDK CLI
//! can read what `acme-infra synth` writes (`cdk ls --app cdk.out`).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::synth::SynthesizedStack;

/// Cloud-assembly schema version written to the manifest. CDK CLIs read every
/// version up to their own, so an older version keeps the widest compatibility;
/// nothing newer than this version's features is used.
pub const SCHEMA_VERSION: &str = "36.0.0";

#[derive(Serialize)]
struct Manifest<'a> {
    version: &'static str,
    artifacts: BTreeMap<&'a str, Artifact<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Artifact<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    environment: String,
    properties: StackProperties<'a>,
    display_name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StackProperties<'a> {
    template_file: String,
    stack_name: &'a str,
    tags: &'a BTreeMap<String, String>,
    termination_protection: bool,
    validate_on_synth: bool,
}

/// Errors writing or reading an assembly.
#[derive(Debug, thiserror::Error)]
pub enum AssemblyError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// One stack of an assembly read back from disk.
#[derive(Debug, Clone)]
pub struct AssembledStack {
    /// From the stack's `county` tag.
    pub county_id: String,
    pub stack_name: String,
    pub account: String,
    pub region: String,
    pub tags: BTreeMap<String, String>,
    /// The template file.
    pub template_path: PathBuf,
    /// Its text.
    pub body: String,
}

#[derive(serde::Deserialize)]
struct ManifestIn {
    version: String,
    #[serde(default)]
    artifacts: BTreeMap<String, ArtifactIn>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactIn {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    properties: Option<PropertiesIn>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PropertiesIn {
    template_file: String,
    stack_name: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// Reads an assembly written by [`write`]: every CloudFormation stack in its
/// manifest, with the template text. Errors name the file and what is wrong;
/// a template that is not JSON is refused (the deployer needs JSON).
pub fn read(dir: &Path) -> Result<Vec<AssembledStack>, AssemblyError> {
    let manifest_path = dir.join("manifest.json");
    let invalid = |path: &Path, message: String| AssemblyError::Invalid {
        path: path.to_owned(),
        message,
    };
    let text = fs::read_to_string(&manifest_path).map_err(|source| AssemblyError::Read {
        path: manifest_path.clone(),
        source,
    })?;
    let manifest: ManifestIn = serde_json::from_str(&text).map_err(|e| {
        invalid(
            &manifest_path,
            format!(
                "not a cloud-assembly manifest (line {}, column {}): {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    let major = |v: &str| v.split('.').next().and_then(|m| m.parse::<u32>().ok());
    if major(&manifest.version) > major(SCHEMA_VERSION) {
        return Err(invalid(
            &manifest_path,
            format!(
                "schema version {} is newer than this acme-infra reads ({SCHEMA_VERSION})",
                manifest.version
            ),
        ));
    }
    let mut out = Vec::new();
    for (name, a) in manifest.artifacts {
        if a.kind != "aws:cloudformation:stack" {
            continue;
        }
        let what = |m: &str| invalid(&manifest_path, format!("artifact {name}: {m}"));
        let props = a.properties.ok_or_else(|| what("no properties"))?;
        let (account, region) = a
            .environment
            .strip_prefix("aws://")
            .and_then(|e| e.split_once('/'))
            .filter(|(acct, region)| !acct.is_empty() && !region.is_empty())
            .ok_or_else(|| {
                what(&format!(
                    "environment {:?} is not aws://<account>/<region>",
                    a.environment
                ))
            })?;
        let county_id = props
            .tags
            .get("county")
            .cloned()
            .ok_or_else(|| what("no `county` tag: not a stack acme-infra synthesized"))?;
        if props.template_file.contains('/') || props.template_file.contains('\\') {
            return Err(what(&format!(
                "templateFile {:?} must be a file name inside the assembly",
                props.template_file
            )));
        }
        let template_path = dir.join(&props.template_file);
        let body = fs::read_to_string(&template_path).map_err(|source| AssemblyError::Read {
            path: template_path.clone(),
            source,
        })?;
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&body) {
            return Err(invalid(
                &template_path,
                format!(
                    "not a JSON template (line {}, column {}): {e}; deploy reads JSON, so synth without `--format yaml`",
                    e.line(),
                    e.column()
                ),
            ));
        }
        out.push(AssembledStack {
            county_id,
            stack_name: props.stack_name.unwrap_or_else(|| name.clone()),
            account: account.to_owned(),
            region: region.to_owned(),
            tags: props.tags,
            template_path,
            body,
        });
    }
    Ok(out)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AssemblyError + '_ {
    move |source| AssemblyError::Io {
        path: path.to_owned(),
        source,
    }
}

/// File name of a stack's template in the assembly.
pub fn template_file(stack: &SynthesizedStack) -> String {
    format!("{}.template.{}", stack.stack_name, stack.format.extension())
}

/// Writes the assembly for `stacks` into `dir` (created if missing): each
/// template, then `manifest.json` and `cdk.out`. Templates of stacks from an
/// earlier synth that are not in this one are removed, so the directory
/// describes exactly this synth. Every file is written to a temporary name and
/// renamed, so a reader never sees half a file. Returns the files written.
pub fn write(dir: &Path, stacks: &[SynthesizedStack]) -> Result<Vec<PathBuf>, AssemblyError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = Vec::with_capacity(stacks.len() + 2);
    let mut artifacts = BTreeMap::new();
    for s in stacks {
        let file = template_file(s);
        let path = dir.join(&file);
        write_atomic(&path, s.body.as_bytes())?;
        written.push(path);
        artifacts.insert(
            s.stack_name.as_str(),
            Artifact {
                kind: "aws:cloudformation:stack",
                environment: format!("aws://{}/{}", s.account, s.region),
                properties: StackProperties {
                    template_file: file,
                    stack_name: &s.stack_name,
                    tags: &s.tags,
                    termination_protection: true,
                    validate_on_synth: false,
                },
                display_name: &s.stack_name,
            },
        );
    }
    let manifest = Manifest {
        version: SCHEMA_VERSION,
        artifacts,
    };
    let mut text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    text.push('\n');
    let manifest_path = dir.join("manifest.json");
    write_atomic(&manifest_path, text.as_bytes())?;
    written.push(manifest_path);
    let marker = dir.join("cdk.out");
    write_atomic(
        &marker,
        format!("{{\"version\":\"{SCHEMA_VERSION}\"}}\n").as_bytes(),
    )?;
    written.push(marker);

    // Remove templates left by an earlier synth of other counties.
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with("acme-")
            && (name.ends_with(".template.json") || name.ends_with(".template.yaml"));
        if ours && !written.contains(&path) {
            fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    Ok(written)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AssemblyError> {
    // Skip unchanged files: keeps mtimes stable for tools that watch cdk.out.
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    let tmp = path.with_extension("tmp-write");
    let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

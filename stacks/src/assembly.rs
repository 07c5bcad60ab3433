//! The cloud assembly: the AWS CDK's on-disk format (`manifest.json` per the
//! published cloud-assembly schema, one template file per stack), so the CDK CLI
//! can read what `acme-infra synth` writes (`cdk ls --app cdk.out`).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::AccountAccess;
use crate::synth::SynthesizedStack;

/// Cloud-assembly schema version written to the manifest. CDK CLIs read every
/// version up to their own, so an older version keeps the widest compatibility;
/// nothing newer than this version's features is used.
pub const SCHEMA_VERSION: &str = "36.0.0";

/// `manifest.json`: the cloud-assembly manifest, written by [`write()`] and
/// read back by [`read`] through these same types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssemblyManifest {
    pub version: String,
    #[serde(default)]
    pub artifacts: BTreeMap<String, StackArtifactManifest>,
}

/// One artifact of the manifest; acme-infra writes only CloudFormation stacks
/// ([`STACK_ARTIFACT_TYPE`]) and skips other kinds when reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StackArtifactManifest {
    #[serde(rename = "type")]
    pub kind: String,
    /// `aws://<account>/<region>`.
    #[serde(default)]
    pub environment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<StackProperties>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Metadata entries by construct path; acme-infra writes one, the
    /// [`PROFILE_METADATA`] of a county reached through a named profile
    /// (the schema has no property for a profile).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, Vec<MetadataEntry>>,
}

/// One metadata entry of an artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataEntry {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub data: serde_json::Value,
}

/// The metadata entry naming the AWS profile a stack is deployed with
/// (`access: { profile }` of its county file).
pub const PROFILE_METADATA: &str = "acme:access-profile";

/// A stack artifact's properties, as the CDK CLI reads them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StackProperties {
    /// A file name inside the assembly.
    pub template_file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_name: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub termination_protection: bool,
    #[serde(default)]
    pub validate_on_synth: bool,
    /// The role a deploy assumes (`access: { role_arn }` of the county file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assume_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assume_role_external_id: Option<String>,
}

/// The manifest's artifact type for a CloudFormation stack.
pub const STACK_ARTIFACT_TYPE: &str = "aws:cloudformation:stack";

/// The template's `AcmeAssets` metadata: for each code-key parameter, the
/// function bundle it wants. The generator writes it and the deploying binary
/// reads it back through this one type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AssetMetadata(pub BTreeMap<String, FunctionBundle>);

/// One bundle a code-key parameter wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionBundle {
    /// The function crate under `functions/`, which is also the bundle name.
    pub function: String,
    /// `arm64` or `x86_64`, as Lambda names it.
    pub architecture: String,
}

/// A template whose `AcmeAssets` metadata cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("template metadata {key}: {message}")]
pub struct AssetMetadataError {
    /// `AcmeAssets`, or `AcmeAssets.<parameter>` for one bad entry.
    pub key: String,
    pub message: String,
}

impl AssetMetadata {
    /// Reads `Metadata.AcmeAssets` from a JSON template; a template without
    /// it wants no bundles. Errors name the entry that is malformed.
    pub fn from_template(body: &str) -> Result<Self, AssetMetadataError> {
        #[derive(Deserialize)]
        struct Template {
            #[serde(rename = "Metadata", default)]
            metadata: Metadata,
        }
        #[derive(Deserialize, Default)]
        struct Metadata {
            #[serde(rename = "AcmeAssets", default)]
            assets: BTreeMap<String, serde_json::Value>,
        }
        let key = crate::county::functions::ASSETS_METADATA_KEY;
        let t: Template = serde_json::from_str(body).map_err(|e| AssetMetadataError {
            key: key.to_owned(),
            message: format!("the template is not JSON with an object here: {e}"),
        })?;
        let mut out = BTreeMap::new();
        for (parameter, spec) in t.metadata.assets {
            let bundle = serde_json::from_value(spec).map_err(|e| AssetMetadataError {
                key: format!("{key}.{parameter}"),
                message: e.to_string(),
            })?;
            out.insert(parameter, bundle);
        }
        Ok(AssetMetadata(out))
    }
}

/// One stack as a deployer takes it, synthesized now ([`SynthesizedStack`])
/// or read back from an assembly ([`read`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackTemplate {
    /// From the stack's `county` tag when read from an assembly.
    pub county_id: String,
    pub stack_name: String,
    pub account: String,
    pub region: String,
    pub tags: BTreeMap<String, String>,
    /// How a deploy reaches the stack's account.
    pub access: Option<AccountAccess>,
    /// The template text (JSON).
    pub body: String,
}

impl From<SynthesizedStack> for StackTemplate {
    fn from(s: SynthesizedStack) -> Self {
        StackTemplate {
            county_id: s.county_id,
            stack_name: s.stack_name,
            account: s.account,
            region: s.region,
            tags: s.tags,
            access: s.access,
            body: s.body,
        }
    }
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

/// Reads an assembly written by [`write()`]: every CloudFormation stack in its
/// manifest, with the template text. Errors name the file and what is wrong;
/// a template that is not JSON is refused (the deployer needs JSON).
pub fn read(dir: &Path) -> Result<Vec<StackTemplate>, AssemblyError> {
    let manifest_path = dir.join("manifest.json");
    let invalid = |path: &Path, message: String| AssemblyError::Invalid {
        path: path.to_owned(),
        message,
    };
    let text = fs::read_to_string(&manifest_path).map_err(|source| AssemblyError::Read {
        path: manifest_path.clone(),
        source,
    })?;
    let manifest: AssemblyManifest = serde_json::from_str(&text).map_err(|e| {
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
        if a.kind != STACK_ARTIFACT_TYPE {
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
        let access = match (props.assume_role_arn, profile_of(&a.metadata)) {
            (Some(arn), _) => Some(AccountAccess::Role {
                arn,
                external_id: props.assume_role_external_id,
            }),
            (None, Some(profile)) => Some(AccountAccess::Profile(profile)),
            (None, None) => None,
        };
        out.push(StackTemplate {
            county_id,
            stack_name: props.stack_name.unwrap_or_else(|| name.clone()),
            account: account.to_owned(),
            region: region.to_owned(),
            tags: props.tags,
            access,
            body,
        });
    }
    Ok(out)
}

/// The profile a [`PROFILE_METADATA`] entry names, if any.
fn profile_of(metadata: &BTreeMap<String, Vec<MetadataEntry>>) -> Option<String> {
    metadata
        .values()
        .flatten()
        .find(|e| e.kind == PROFILE_METADATA)
        .and_then(|e| e.data.as_str())
        .map(str::to_owned)
}

/// A stack's manifest entry.
fn artifact_manifest(s: &SynthesizedStack, file: String) -> StackArtifactManifest {
    let (role, external_id, profile) = match &s.access {
        Some(AccountAccess::Role { arn, external_id }) => {
            (Some(arn.clone()), external_id.clone(), None)
        }
        Some(AccountAccess::Profile(p)) => (None, None, Some(p.clone())),
        None => (None, None, None),
    };
    let metadata = profile
        .map(|p| {
            let entry = MetadataEntry {
                kind: PROFILE_METADATA.to_owned(),
                data: serde_json::Value::String(p),
            };
            BTreeMap::from([(format!("/{}", s.stack_name), vec![entry])])
        })
        .unwrap_or_default();
    StackArtifactManifest {
        kind: STACK_ARTIFACT_TYPE.to_owned(),
        environment: format!("aws://{}/{}", s.account, s.region),
        properties: Some(StackProperties {
            template_file: file,
            stack_name: Some(s.stack_name.clone()),
            tags: s.tags.clone(),
            termination_protection: true,
            validate_on_synth: false,
            assume_role_arn: role,
            assume_role_external_id: external_id,
        }),
        display_name: Some(s.stack_name.clone()),
        metadata,
    }
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
        artifacts.insert(s.stack_name.clone(), artifact_manifest(s, file));
    }
    let manifest = AssemblyManifest {
        version: SCHEMA_VERSION.to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_asset_metadata_is_an_error_naming_the_entry() {
        let t = r#"{"Metadata":{"AcmeAssets":{"OrderApiCodeKey":{"function":"order-api"}}}}"#;
        let e = AssetMetadata::from_template(t).expect_err("no architecture");
        assert!(e.to_string().contains("OrderApiCodeKey"), "{e}");
        assert!(
            AssetMetadata::from_template(r#"{"Resources":{}}"#)
                .expect("none")
                .0
                .is_empty()
        );
    }

    #[test]
    fn asset_metadata_reads_back_what_it_writes() {
        let m = AssetMetadata(BTreeMap::from([(
            "OrderApiCodeKey".to_owned(),
            FunctionBundle {
                function: "order-api".into(),
                architecture: "arm64".into(),
            },
        )]));
        let t = serde_json::json!({"Metadata": {"AcmeAssets": m}}).to_string();
        assert_eq!(AssetMetadata::from_template(&t).expect("reads"), m);
    }
}

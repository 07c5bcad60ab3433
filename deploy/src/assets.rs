//! Content-addressed uploads to the assets bucket: `HeadObject` first, upload
//! only what is missing. Keys are SHA-256 of the content, so an object never
//! changes once written and a re-deploy of the same bundle costs one HEAD.

use std::path::Path;
use std::sync::atomic::Ordering;

use aws_sdk_s3::primitives::ByteStream;

use crate::artifact::{
    HashedAsset, StackArtifact, TEMPLATE_BODY_LIMIT, not_bootstrapped, sha256_hex,
};
use crate::aws::{aws_error, call, is_throttling};
use crate::deployer::Deployer;
use crate::error::{DeployError, RefusalKind};

/// What to upload.
pub(crate) enum Body<'a> {
    File(&'a Path),
    Bytes(&'a [u8]),
}

impl Body<'_> {
    /// A fresh stream per attempt: a retried upload must resend from byte 0.
    async fn stream(&self) -> Result<ByteStream, DeployError> {
        match self {
            Body::File(p) => ByteStream::from_path(p).await.map_err(|e| DeployError::Io {
                path: p.to_path_buf(),
                source: std::io::Error::other(e),
            }),
            Body::Bytes(b) => Ok(ByteStream::from(b.to_vec())),
        }
    }
}

/// The `TemplateURL` for an object (virtual-hosted style, regional endpoint).
pub(crate) fn object_url(bucket: &str, region: &str, key: &str) -> String {
    format!("https://{bucket}.s3.{region}.amazonaws.com/{key}")
}

impl Deployer {
    /// Uploads a stack's function bundles, and its template when it is over
    /// CloudFormation's `TemplateBody` limit. Returns the `TemplateURL` to
    /// use instead of the body, if any. `bucket` is `None` only for the
    /// bootstrap stack, which has neither.
    pub(crate) async fn upload_stack_assets(
        &self,
        artifact: &StackArtifact,
        assets: &[HashedAsset],
        bucket: Option<&str>,
    ) -> Result<Option<String>, DeployError> {
        for a in assets {
            let b = bucket.ok_or_else(|| {
                not_bootstrapped(
                    &artifact.account,
                    &artifact.region,
                    "it has no assets bucket",
                )
            })?;
            let body = Body::File(&a.zip_path);
            self.upload_if_missing(b, &a.key, body, "application/zip")
                .await?;
        }
        let body = artifact.template_body.as_bytes();
        if body.len() <= TEMPLATE_BODY_LIMIT {
            return Ok(None);
        }
        let b = bucket.ok_or_else(|| template_too_big(artifact))?;
        let key = format!("templates/{}.json", sha256_hex(body));
        self.upload_if_missing(b, &key, Body::Bytes(body), "application/json")
            .await?;
        Ok(Some(object_url(b, artifact.region.as_str(), &key)))
    }

    /// Uploads `body` to `bucket/key` unless an object is already there.
    /// Returns true when it uploaded.
    pub(crate) async fn upload_if_missing(
        &self,
        bucket: &str,
        key: &str,
        body: Body<'_>,
        content_type: &str,
    ) -> Result<bool, DeployError> {
        if self.object_exists(bucket, key).await? {
            return Ok(false);
        }
        self.put_object(bucket, key, &body, content_type).await?;
        self.stats_ref().uploads.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    async fn object_exists(&self, bucket: &str, key: &str) -> Result<bool, DeployError> {
        let s3 = &self.clients().s3;
        match call(self.pacing(), || {
            s3.head_object().bucket(bucket).key(key).send()
        })
        .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
            Err(e) => Err(aws_error("HeadObject", &e)),
        }
    }

    /// `PutObject`, retrying throttling. No explicit server-side encryption:
    /// the bucket's default (its own KMS key) applies. Naming `aws:kms` here
    /// without a key id would pick the AWS-managed `aws/s3` key instead.
    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: &Body<'_>,
        content_type: &str,
    ) -> Result<(), DeployError> {
        let s3 = &self.clients().s3;
        let mut attempt = 1;
        loop {
            let sent = s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type(content_type)
                .body(body.stream().await?)
                .send()
                .await;
            match sent {
                Ok(_) => return Ok(()),
                Err(e)
                    if attempt < self.pacing().retry_attempts
                        && is_throttling(
                            aws_sdk_s3::error::ProvideErrorMetadata::code(&e),
                            None,
                        ) =>
                {
                    tokio::time::sleep(self.pacing().retry_base * 2u32.pow(attempt.min(5))).await;
                    attempt += 1;
                }
                Err(e) => return Err(aws_error("PutObject", &e)),
            }
        }
    }
}

fn template_too_big(artifact: &StackArtifact) -> DeployError {
    let size = artifact.template_body.len();
    DeployError::refused(
        &artifact.stack_name,
        RefusalKind::Template,
        format!(
            "the template is {size} bytes (CloudFormation's TemplateBody limit is \
             {TEMPLATE_BODY_LIMIT}) and there is no assets bucket to upload it to"
        ),
        "split the stack",
    )
}

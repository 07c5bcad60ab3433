//! Content-addressed uploads to the assets bucket: `HeadObject` first, upload
//! only what is missing. Keys are SHA-256 of the content, so an object never
//! changes once written and a re-deploy of the same bundle costs one HEAD.

use std::path::Path;
use std::sync::atomic::Ordering;

use aws_sdk_s3::primitives::ByteStream;

use crate::aws::{aws_error, call};
use crate::deploy::Deployer;
use crate::error::DeployError;

/// What to upload.
pub(crate) enum Body<'a> {
    File(&'a Path),
    Bytes(&'a [u8]),
}

/// The `TemplateURL` for an object (virtual-hosted style, regional endpoint).
pub(crate) fn object_url(bucket: &str, region: &str, key: &str) -> String {
    format!("https://{bucket}.s3.{region}.amazonaws.com/{key}")
}

impl Deployer {
    /// Uploads `body` to `bucket/key` unless an object is already there.
    /// Returns true when it uploaded.
    pub(crate) async fn upload_if_missing(
        &self,
        bucket: &str,
        key: &str,
        body: Body<'_>,
        content_type: &str,
    ) -> Result<bool, DeployError> {
        let s3 = &self.clients().s3;
        match call(self.pacing(), || {
            s3.head_object().bucket(bucket).key(key).send()
        })
        .await
        {
            Ok(_) => return Ok(false),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
            Err(e) => return Err(aws_error("HeadObject", &e)),
        }
        // No explicit server-side encryption: the bucket's default (its own
        // KMS key) applies. Naming `aws:kms` here without a key id would pick
        // the AWS-managed `aws/s3` key instead.
        let put = || async {
            // A fresh stream per attempt: a retried upload must resend from byte 0.
            let stream = match &body {
                Body::File(p) => ByteStream::from_path(p)
                    .await
                    .map_err(|e| DeployError::Io {
                        path: p.to_path_buf(),
                        source: std::io::Error::other(e),
                    })?,
                Body::Bytes(b) => ByteStream::from(b.to_vec()),
            };
            Ok::<_, DeployError>(
                s3.put_object()
                    .bucket(bucket)
                    .key(key)
                    .content_type(content_type)
                    .body(stream)
                    .send()
                    .await,
            )
        };
        let mut attempt = 1;
        loop {
            match put().await? {
                Ok(_) => break,
                Err(e)
                    if attempt < self.pacing().retry_attempts
                        && crate::aws::is_throttling(
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
        self.stats_ref().uploads.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }
}

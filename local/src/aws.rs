//! SDK configuration: one `SdkConfig` for every client, pointed at the
//! emulator when there is one.

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Where AWS calls go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The local emulator at this URL (moto). Dummy credentials are used when
    /// none are set: moto accepts any.
    Emulator(String),
    /// Real AWS, with the default credential chain.
    Aws,
}

/// Loads the SDK configuration for `target`. `default_region` (the county's)
/// is used when neither `AWS_REGION` nor a profile names one.
pub async fn sdk_config(target: &Target, default_region: &str) -> SdkConfig {
    match target {
        Target::Emulator(url) => {
            // `AWS_REGION` or the county's; never the provider chain, whose
            // IMDS probe only times out on a laptop.
            let region = std::env::var("AWS_REGION")
                .ok()
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| default_region.to_owned());
            let mut loader = aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new(region))
                .endpoint_url(url.clone());
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "testing",
                    "testing",
                    None,
                    None,
                    "acme-local",
                ));
            }
            loader.load().await
        }
        Target::Aws => {
            let region = aws_config::meta::region::RegionProviderChain::default_provider()
                .or_else(Region::new(default_region.to_owned()));
            aws_config::defaults(BehaviorVersion::latest())
                .region(region)
                .load()
                .await
        }
    }
}

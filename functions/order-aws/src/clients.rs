//! SDK clients, built once per process from the default provider chain.

use aws_config::{BehaviorVersion, SdkConfig};

use crate::bus::AwsEventSink;
use crate::config::Config;
use crate::dynamo::DynamoStore;
use crate::sqs::SqsEnqueuer;

/// Loads region, credentials and endpoint the standard way. Honours
/// `AWS_ENDPOINT_URL` (how tests and the local runner reach moto): the same
/// code path as production.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// Every adapter a function may need, sharing one [`SdkConfig`]. Building a
/// client does no I/O; each keeps its own connection pool.
#[derive(Debug, Clone)]
pub struct Adapters {
    pub store: DynamoStore,
    pub enqueuer: SqsEnqueuer,
    pub sink: AwsEventSink,
}

impl Adapters {
    pub fn new(sdk: &SdkConfig, config: &Config) -> Self {
        Self {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), config.tables.clone()),
            enqueuer: SqsEnqueuer::new(aws_sdk_sqs::Client::new(sdk), &config.order_queue_url),
            sink: AwsEventSink::new(
                aws_sdk_eventbridge::Client::new(sdk),
                aws_sdk_sns::Client::new(sdk),
                &config.event_bus_name,
                &config.notifications_topic_arn,
            ),
        }
    }
}

/// What a function that moves money reads once at start-up: logs on, the
/// county's configuration, the payment provider the county file chose and
/// its gateway (for `card_api`, with the API key read from Secrets Manager,
/// once per cold start), and the SDK configuration. Each failure is logged
/// and returned, so the function refuses to start and its first log line
/// says why.
pub struct Startup {
    pub config: crate::Config,
    pub payment: crate::Payment,
    pub gateway: crate::CountyGateway,
    pub sdk: SdkConfig,
}

impl Startup {
    pub async fn read() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        crate::init_json_logs();
        let config = crate::Config::from_env()
            .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
        let payment = crate::Payment::from_env()
            .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
        let sdk = load_sdk_config().await;
        let gateway = payment
            .gateway(&sdk)
            .await
            .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
        match &payment.card_api {
            None => {
                tracing::warn!(provider = %payment.provider, "payment gateway: simulated, as the county file chose")
            }
            Some(card) => {
                tracing::info!(provider = %payment.provider, base_url = %card.base_url, "payment gateway: card API")
            }
        }
        Ok(Startup {
            config,
            payment,
            gateway,
            sdk,
        })
    }
}

//! The functions as the runner calls them: one trait per event source,
//! taking and returning the `aws_lambda_events` types Lambda itself would
//! deserialize, so the handler code run here is the code deployed.

use std::future::Future;

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use aws_lambda_events::streams::DynamoDbEventResponse;

/// A function invocation failed as a whole (Lambda's "function error").
pub type FunctionError = Box<dyn std::error::Error + Send + Sync>;

/// The API function (API Gateway REST proxy integration).
pub trait ApiFunction: Send + Sync + 'static {
    fn call(
        &self,
        request: ApiGatewayProxyRequest,
    ) -> impl Future<Output = Result<ApiGatewayProxyResponse, FunctionError>> + Send;
}

/// The worker (SQS event source with `ReportBatchItemFailures`).
pub trait QueueFunction: Send + Sync + 'static {
    fn call(
        &self,
        event: SqsEvent,
    ) -> impl Future<Output = Result<SqsBatchResponse, FunctionError>> + Send;
}

/// The publisher (DynamoDB stream event source with `ReportBatchItemFailures`).
pub trait StreamFunction: Send + Sync + 'static {
    fn call(
        &self,
        event: DynamoDbEvent,
    ) -> impl Future<Output = Result<DynamoDbEventResponse, FunctionError>> + Send;
}

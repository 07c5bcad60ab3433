//! Rules of the AWS Guard Rules Registry (run by `cfn-guard` in the stacks
//! tests) that a resource suppresses, each with its reason. A suppression is
//! attached to its resource with [`Res::guard_suppress`](super::Res::guard_suppress);
//! the reasons that several resources share are here. docs/guard.md lists
//! them all.

/// One rule suppressed on one resource, and why.
#[derive(Debug, Clone, Copy)]
pub struct Suppression {
    /// The name the rule's filter checks in `Metadata.guard.SuppressedRules`.
    pub rule: &'static str,
    pub reason: &'static str,
}

/// Every bucket: ACLs are off, so there is no ACL to check.
pub const S3_NO_ACL: Suppression = Suppression {
    rule: "S3_BUCKET_NO_PUBLIC_RW_ACL",
    reason: "ACLs are disabled on this bucket (ObjectOwnership BucketOwnerEnforced) and every public access is blocked. The rule fails whenever AccessControl is absent; setting it would add an ACL where none is wanted (and cfn-lint W3045 advises against it).",
};

/// Buckets whose content is derived, reproducible or expiring.
pub const S3_NO_REPLICA: Suppression = Suppression {
    rule: "S3_BUCKET_REPLICATION_ENABLED",
    reason: "No cross-region replica: a county stack lives in one region and this bucket's content is derived or reproducible (order events are also in the bus archive; bundles are rebuilt from source; access logs are secondary evidence).",
};

/// Roles whose grants are written inline.
pub const IAM_INLINE_POLICY: Suppression = Suppression {
    rule: "IAM_NO_INLINE_POLICY_CHECK",
    reason: "This role's grants belong to it alone and live and die with it; a customer managed policy would hold the same statements in a second resource. The CIS item the rule maps to (1.15) concerns IAM users, of which the stack has none.",
};

/// Function roles: X-Ray (and, for the publisher, `dynamodb:ListStreams`).
pub const IAM_STAR_FOR_UNSCOPED_ACTIONS: Suppression = Suppression {
    rule: "IAM_POLICYDOCUMENT_NO_WILDCARD_RESOURCE",
    reason: "Resource `*` only on actions that have no resource-level permissions (xray:PutTraceSegments, xray:PutTelemetryRecords, dynamodb:ListStreams): `*` is their only valid form. Every other statement names its resources.",
};

//! The county's customer-managed KMS key: every table, queue and log group of
//! the county is encrypted with it, so revoking it (or auditing its use in
//! CloudTrail) covers the county's whole order data.

use crate::cfn::resources::kms::{Alias, Key};
use crate::cfn::{Expr, LogicalId, PolicyDocument, Principal, Res, Statement};

use super::Ctx;

pub(crate) fn add(cx: &mut Ctx<'_>) -> Result<LogicalId, crate::cfn::TemplateError> {
    let id = LogicalId::new("CountyKey");
    let account_root = Expr::sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root");
    let policy = PolicyDocument::new(vec![
        // The key policy delegates to IAM within the county's own account only: no
        // other account can be granted use of the key by an IAM policy alone.
        Statement::allow(&["kms:*"], vec![Expr::lit("*")])
            .sid("AccountAdministersKeyThroughIam")
            .principal(Principal::aws(vec![account_root])),
        // CloudWatch Logs encrypts the county's log groups with this key; it acts
        // as a service principal, so it needs its own grant, limited to log groups
        // of this account and region.
        Statement::allow(
            &[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            vec![Expr::lit("*")],
        )
        .sid("CloudWatchLogsUseKey")
        .principal(Principal::Typed(std::collections::BTreeMap::from([(
            "Service",
            vec![Expr::sub("logs.${AWS::Region}.amazonaws.com")],
        )])))
        .when(
            "ArnLike",
            "kms:EncryptionContext:aws:logs:arn",
            Expr::sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"),
        ),
        // CloudWatch alarms publish to the encrypted operations topic:
        // without this grant an alarm fires but its notification is silently
        // dropped. Only this county's alarms (`aws:SourceArn`, by their name
        // prefix) in this account: any other alarm in the account would
        // otherwise be able to use the key through the service.
        Statement::allow(
            &["kms:Decrypt", "kms:GenerateDataKey*"],
            vec![Expr::lit("*")],
        )
        .sid("CloudWatchAlarmsUseKey")
        .principal(Principal::service("cloudwatch.amazonaws.com"))
        .when(
            "ArnLike",
            "aws:SourceArn",
            super::alarms::alarm_arn_pattern(&cx.cfg.id),
        )
        .when("StringEquals", "aws:SourceAccount", Expr::account_id()),
        // EventBridge encrypts events on the county bus and decrypts them to
        // match and deliver them for the bus's rules: the bus and its rules
        // only (a rule on a custom bus is `rule/<bus>/<rule>`).
        Statement::allow(
            &["kms:Decrypt", "kms:GenerateDataKey*"],
            vec![Expr::lit("*")],
        )
        .sid("EventBridgeUseKey")
        .principal(Principal::service("events.amazonaws.com"))
        .when(
            "ArnLike",
            "aws:SourceArn",
            super::events::bus_and_rule_arns(&cx.cfg.id),
        )
        .when("StringEquals", "aws:SourceAccount", Expr::account_id()),
        // The county's trail encrypts its log files with this key. CloudTrail
        // checks this grant when the trail is created; it is limited to that
        // one trail (`aws:SourceArn`) and to encryption contexts of this
        // account's trails. Reading the logs stays an IAM decision (above).
        Statement::allow(&["kms:GenerateDataKey*"], vec![Expr::lit("*")])
            .sid("CloudTrailEncryptLogs")
            .principal(Principal::service("cloudtrail.amazonaws.com"))
            .when(
                "StringEquals",
                "aws:SourceArn",
                super::audit::trail_arn(&cx.cfg.id),
            )
            .when("StringEquals", "aws:SourceAccount", Expr::account_id())
            .when(
                "StringLike",
                "kms:EncryptionContext:aws:cloudtrail:arn",
                Expr::sub("arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*"),
            ),
        Statement::allow(&["kms:DescribeKey"], vec![Expr::lit("*")])
            .sid("CloudTrailDescribeKey")
            .principal(Principal::service("cloudtrail.amazonaws.com"))
            .when(
                "StringEquals",
                "aws:SourceArn",
                super::audit::trail_arn(&cx.cfg.id),
            )
            .when("StringEquals", "aws:SourceAccount", Expr::account_id()),
    ]);
    cx.t.add(
        Res::new(
            &id,
            Key {
                description: format!("ACME order data for county {}", cx.cfg.id),
                enable_key_rotation: true,
                pending_window_in_days: 30,
                key_policy: policy,
                // Keys take their tags from the stack's tags, which CloudFormation
                // propagates to every taggable resource: the local emulator cannot
                // create a key with resource-level Tags, and the tags are the same.
                tags: Vec::new(),
            },
        )?
        .retain(),
    )?;
    cx.t.add_resource(
        &LogicalId::new("CountyKeyAlias"),
        Alias {
            alias_name: format!("alias/acme/{}", cx.cfg.id),
            target_key_id: id.r#ref(),
        },
    )?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::config::Environments;

    /// `*` in `pattern` matches any run of characters (IAM's `ArnLike`).
    fn arn_like(pattern: &str, arn: &str) -> bool {
        let parts: Vec<&str> = pattern.split('*').collect();
        let (first, rest) = parts.split_first().expect("split yields one part");
        let Some(mut tail) = arn.strip_prefix(first) else {
            return false;
        };
        for (i, part) in rest.iter().enumerate() {
            if i + 1 == rest.len() {
                return tail.ends_with(part);
            }
            match tail.find(part) {
                Some(at) => tail = &tail[at + part.len()..],
                None => return false,
            }
        }
        tail.is_empty()
    }

    fn subs(v: &Value) -> Vec<String> {
        let one = |v: &Value| v["Fn::Sub"].as_str().expect("Fn::Sub").to_owned();
        match v {
            Value::Array(items) => items.iter().map(one).collect(),
            v => vec![one(v)],
        }
    }

    fn statement<'a>(statements: &'a [Value], service: &str) -> Vec<&'a Value> {
        statements
            .iter()
            .filter(|s| {
                let p = &s["Principal"]["Service"];
                p == service || p.as_array().is_some_and(|a| a.iter().any(|x| x == service))
            })
            .collect()
    }

    #[test]
    fn alarms_and_eventbridge_use_the_key_only_for_this_countys_alarms_bus_and_rules() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
        let envs = Environments::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        let base = "arn:${AWS::Partition}";
        for id in envs.county_ids() {
            let cfg = envs.load(&id).unwrap_or_else(|e| panic!("{e}"));
            let t = super::super::build(&cfg).expect("builds").to_value();
            let resources = t["Resources"].as_object().expect("resources");
            let of_type = |ty: &'static str| {
                resources
                    .values()
                    .filter(move |r| r["Type"] == ty)
                    .map(|r| &r["Properties"])
            };
            let key = resources["CountyKey"]["Properties"]["KeyPolicy"]["Statement"]
                .as_array()
                .expect("statements");

            let alarms = statement(key, "cloudwatch.amazonaws.com");
            assert_eq!(alarms.len(), 1, "{id}");
            assert_eq!(
                alarms[0]["Condition"]["StringEquals"]["aws:SourceAccount"]["Ref"],
                "AWS::AccountId"
            );
            let patterns = subs(&alarms[0]["Condition"]["ArnLike"]["aws:SourceArn"]);
            assert_eq!(patterns.len(), 1, "{id}");
            let names: Vec<&str> = of_type("AWS::CloudWatch::Alarm")
                .map(|p| p["AlarmName"].as_str().expect("alarm name"))
                .collect();
            assert!(names.len() > 10, "{id}: {names:?}");
            for name in &names {
                let arn =
                    format!("{base}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:{name}");
                assert!(
                    arn_like(&patterns[0], &arn),
                    "{id}: {arn} not in {patterns:?}"
                );
            }
            let other = format!(
                "{base}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:someone-elses"
            );
            assert!(!arn_like(&patterns[0], &other), "{id}: {other}");

            let events = statement(key, "events.amazonaws.com");
            assert_eq!(events.len(), 1, "{id}");
            assert_eq!(
                events[0]["Condition"]["StringEquals"]["aws:SourceAccount"]["Ref"],
                "AWS::AccountId"
            );
            let patterns = subs(&events[0]["Condition"]["ArnLike"]["aws:SourceArn"]);
            let allowed = |arn: &str| patterns.iter().any(|p| arn_like(p, arn));
            let events_base = format!("{base}:events:${{AWS::Region}}:${{AWS::AccountId}}");
            for bus in of_type("AWS::Events::EventBus") {
                let arn = format!(
                    "{events_base}:event-bus/{}",
                    bus["Name"].as_str().expect("bus")
                );
                assert!(allowed(&arn), "{id}: {arn} not in {patterns:?}");
            }
            let rules: Vec<_> = of_type("AWS::Events::Rule").collect();
            assert!(!rules.is_empty(), "{id}");
            for rule in rules {
                // A schedule runs on the default bus and carries no county
                // event: it needs nothing of the key.
                if rule.get("EventBusName").is_none() {
                    assert!(rule["ScheduleExpression"].is_string(), "{id}: {rule}");
                    continue;
                }
                let bus = rule["EventBusName"].as_str().expect("rules name their bus");
                let arn = format!("{events_base}:rule/{bus}/GeneratedRuleName");
                assert!(allowed(&arn), "{id}: {arn} not in {patterns:?}");
            }
            for foreign in [
                format!("{events_base}:event-bus/default"),
                format!("{events_base}:rule/default/x"),
            ] {
                assert!(!allowed(&foreign), "{id}: {foreign}");
            }

            // The operations topic takes alarms from the same alarms only.
            let topics = &resources["TopicsPolicy"]["Properties"]["PolicyDocument"]["Statement"];
            let publish = statement(
                topics.as_array().expect("statements"),
                "cloudwatch.amazonaws.com",
            );
            assert_eq!(
                subs(&publish[0]["Condition"]["ArnLike"]["aws:SourceArn"]),
                subs(&alarms[0]["Condition"]["ArnLike"]["aws:SourceArn"]),
                "{id}"
            );
        }
    }
}

//! A county on the card API: the order API and the worker (the functions
//! that refund and charge) get the provider's settings and may read the
//! key's one secret, decrypting it through Secrets Manager only; nothing
//! else gets either, and a county without the provider gets neither.

mod common;

use acme_contract::schema::env;
use serde_json::Value;

fn template(cfg: &acme_stacks::config::CountyConfig) -> Value {
    acme_stacks::county::build(cfg).expect("build").to_value()
}

/// The statements of `role`'s policies that name `action`.
fn statements_with(t: &Value, role: &str, action: &str) -> Vec<Value> {
    let policies = t["Resources"][role]["Properties"]["Policies"]
        .as_array()
        .unwrap_or_else(|| panic!("{role} has no policies"));
    policies
        .iter()
        .flat_map(|p| {
            p["PolicyDocument"]["Statement"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|s| {
            s["Action"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == action))
        })
        .collect()
}

fn env_of<'t>(t: &'t Value, function: &str) -> &'t Value {
    &t["Resources"][function]["Properties"]["Environment"]["Variables"]
}

#[test]
fn the_functions_that_charge_and_refund_read_the_one_secret() {
    let cfg = common::with_card_api(common::sample_counties().remove(0));
    let card = cfg
        .payment
        .clone()
        .and_then(|p| p.card_api)
        .expect("card api");
    let t = template(&cfg);
    for (role, function) in [
        ("OrderApiRole", "OrderApiFunction"),
        ("OrderWorkerRole", "OrderWorkerFunction"),
    ] {
        let read = statements_with(&t, role, "secretsmanager:GetSecretValue");
        assert_eq!(read.len(), 1, "{role}");
        assert_eq!(
            read[0]["Action"],
            serde_json::json!(["secretsmanager:GetSecretValue"])
        );
        assert_eq!(
            read[0]["Resource"],
            serde_json::json!([card.api_key_secret_arn])
        );
        let decrypt: Vec<Value> = statements_with(&t, role, "kms:Decrypt")
            .into_iter()
            .filter(|s| s["Sid"] == "CardApiKeySecretKey")
            .collect();
        assert_eq!(decrypt.len(), 1, "{role}");
        assert_eq!(
            decrypt[0]["Resource"],
            serde_json::json!([card.api_key_kms_key_arn])
        );
        assert_eq!(
            decrypt[0]["Condition"]["StringEquals"]["kms:ViaService"],
            format!("secretsmanager.{}.amazonaws.com", cfg.region)
        );
        let vars = env_of(&t, function);
        assert_eq!(vars[env::PAYMENT_PROVIDER], "card_api");
        assert_eq!(vars[env::PAYMENT_API_URL], card.base_url.as_str());
        assert_eq!(
            vars[env::PAYMENT_API_KEY_SECRET_ARN],
            card.api_key_secret_arn.as_str()
        );
        assert_eq!(vars[env::PAYMENT_CALL_BUDGET_MS], "8000");
    }
    assert!(statements_with(&t, "StreamPublisherRole", "secretsmanager:GetSecretValue").is_empty());
    assert!(env_of(&t, "StreamPublisherFunction")[env::PAYMENT_API_URL].is_null());
    // Nothing in the template holds the key itself: only its secret's ARN.
    assert!(!t.to_string().contains("sk_live"));
}

#[test]
fn counties_without_the_card_api_get_no_secret_and_no_settings() {
    for cfg in common::sample_counties() {
        let t = template(&cfg);
        for role in ["OrderApiRole", "OrderWorkerRole", "StreamPublisherRole"] {
            assert!(
                statements_with(&t, role, "secretsmanager:GetSecretValue").is_empty(),
                "{}: {role}",
                cfg.id
            );
        }
        assert!(env_of(&t, "OrderWorkerFunction")[env::PAYMENT_API_URL].is_null());
        assert!(!t.to_string().contains("ACME_PAYMENT_API"), "{}", cfg.id);
    }
}

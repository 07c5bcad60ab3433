//! The facts the county template shares with other crates, read back from
//! the synthesized sample templates: the API's methods are exactly the route
//! table's routes (`acme_contract::routes`, which the order API function
//! routes by), the tables are exactly their typed layouts (which the local
//! runner creates), and the function code comes from the bootstrap's asset
//! bucket parameter (which the deployer fills).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use acme_contract::routes::ROUTES;
use acme_stacks::bootstrap::ASSET_BUCKET_PARAMETER;
use acme_stacks::county::api::request_parameters;
use acme_stacks::county::tables::table_specs;
use serde_json::{Value, json};

fn templates() -> Vec<(acme_stacks::config::CountyConfig, Value)> {
    common::sample_counties()
        .into_iter()
        .map(|c| {
            let t = acme_stacks::county::build(&c).expect("template").to_value();
            (c, t)
        })
        .collect()
}

fn json(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).expect("serializes")
}

fn of_type<'t>(t: &'t Value, ty: &str) -> Vec<(&'t String, &'t Value)> {
    t["Resources"]
        .as_object()
        .expect("resources")
        .iter()
        .filter(|(_, r)| r["Type"] == ty)
        .map(|(id, r)| (id, &r["Properties"]))
        .collect()
}

/// The path of an `AWS::ApiGateway::Resource` reference, up to the root.
fn path_of<'t>(t: &'t Value, mut resource: &'t Value) -> String {
    let mut parts = Vec::new();
    while let Some(id) = resource.get("Ref").and_then(Value::as_str) {
        let props = &t["Resources"][id]["Properties"];
        parts.push(props["PathPart"].as_str().expect("path part").to_owned());
        resource = &props["ParentId"];
    }
    assert_eq!(
        resource,
        &json!({"Fn::GetAtt": ["OrderApi", "RootResourceId"]})
    );
    parts.reverse();
    format!("/{}", parts.join("/"))
}

#[test]
fn every_api_method_is_exactly_one_route_of_the_table_with_its_parameters() {
    for (cfg, t) in templates() {
        let methods = of_type(&t, "AWS::ApiGateway::Method");
        let mut matched = BTreeSet::new();
        for (id, p) in &methods {
            let path = path_of(&t, &p["ResourceId"]);
            let routes: Vec<_> = ROUTES
                .iter()
                .filter(|r| r.method.as_str() == p["HttpMethod"] && r.path == path)
                .collect();
            assert_eq!(routes.len(), 1, "{} {id}: {path}", cfg.id);
            let route = routes[0];
            assert_eq!(p["OperationName"], route.operation.name(), "{id}");
            let params: BTreeMap<String, bool> =
                serde_json::from_value(p["RequestParameters"].clone()).unwrap_or_default();
            assert_eq!(params, request_parameters(route), "{} {id}", cfg.id);
            assert_eq!(
                p["RequestModels"].is_object(),
                route.body_model,
                "{} {id}",
                cfg.id
            );
            matched.insert(route.operation);
        }
        assert_eq!(matched.len(), ROUTES.len(), "{}: every route", cfg.id);
        assert_eq!(methods.len(), ROUTES.len(), "{}: no other method", cfg.id);
    }
}

#[test]
fn the_tables_are_their_typed_layouts() {
    for (cfg, t) in templates() {
        let specs = table_specs(&cfg);
        let deployed: BTreeSet<String> = of_type(&t, "AWS::DynamoDB::Table")
            .into_iter()
            .map(|(id, _)| id.clone())
            .collect();
        let specified: BTreeSet<String> =
            specs.iter().map(|s| s.logical_id().to_string()).collect();
        assert_eq!(deployed, specified, "{}", cfg.id);
        for spec in &specs {
            let id = spec.logical_id().to_string();
            let p = &t["Resources"][&id]["Properties"];
            assert_eq!(
                p["AttributeDefinitions"],
                json(spec.attribute_definitions()),
                "{id}"
            );
            assert_eq!(p["KeySchema"], json(spec.key_schema()), "{id}");
            assert_eq!(p["BillingMode"], json(spec.billing_mode()), "{id}");
            let gsis = spec.global_secondary_indexes();
            let want = if gsis.is_empty() {
                Value::Null
            } else {
                json(gsis)
            };
            assert_eq!(p["GlobalSecondaryIndexes"], want, "{id}");
            assert_eq!(
                p["StreamSpecification"]["StreamViewType"],
                spec.stream.map_or(Value::Null, json),
                "{id}"
            );
            assert_eq!(
                p["TimeToLiveSpecification"]["AttributeName"],
                spec.ttl.map_or(Value::Null, Value::from),
                "{id}"
            );
        }
    }
}

#[test]
fn function_code_comes_from_the_bootstrap_asset_bucket_parameter() {
    for (cfg, t) in templates() {
        assert!(
            t["Parameters"][ASSET_BUCKET_PARAMETER].is_object(),
            "{}: declares {ASSET_BUCKET_PARAMETER}",
            cfg.id
        );
        let functions = of_type(&t, "AWS::Lambda::Function");
        assert!(!functions.is_empty());
        for (id, p) in functions {
            assert_eq!(
                p["Code"]["S3Bucket"],
                json!({"Ref": ASSET_BUCKET_PARAMETER}),
                "{} {id}",
                cfg.id
            );
        }
    }
}

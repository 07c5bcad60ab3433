//! The county stack's API Gateway methods and this function's router must
//! agree: every method a sample county's template deploys is routed here to
//! the operation of the same name, with the same path parameters, and the
//! router requires exactly the query parameters API Gateway requires. Both
//! sides are built from `acme_contract::routes`; this test reads the
//! synthesized template, not the table, so it fails if either side stops
//! following it.

// Tests may unwrap and expect (the workspace's clippy.toml
// allows inside #[test] functions).
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use acme_contract::routes::ROUTES;
use order_api::{RouteError, resolve};
use serde_json::Value;

/// One API Gateway method as the template deploys it.
#[derive(Debug)]
struct DeployedMethod {
    id: String,
    method: String,
    /// `/orders/{order_id}`.
    path: String,
    operation: String,
    path_params: Vec<String>,
    /// Query parameter → required.
    query: BTreeMap<String, bool>,
}

fn templates() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
    let envs = acme_stacks::config::Environments::open(&dir).unwrap();
    let counties = envs.load_all().unwrap();
    assert!(counties.len() >= 3, "the sample counties");
    counties
        .iter()
        .map(|c| {
            let t = acme_stacks::county::build(c).unwrap().to_value();
            (c.id.clone(), t)
        })
        .collect()
}

fn of_type<'t>(t: &'t Value, ty: &str) -> Vec<(&'t String, &'t Value)> {
    t["Resources"]
        .as_object()
        .unwrap()
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
        parts.push(props["PathPart"].as_str().unwrap().to_owned());
        resource = &props["ParentId"];
    }
    parts.reverse();
    format!("/{}", parts.join("/"))
}

fn deployed_methods(t: &Value) -> Vec<DeployedMethod> {
    of_type(t, "AWS::ApiGateway::Method")
        .into_iter()
        .map(|(id, p)| {
            let mut path_params = Vec::new();
            let mut query = BTreeMap::new();
            for (k, v) in p["RequestParameters"].as_object().into_iter().flatten() {
                let required = v.as_bool().unwrap();
                if let Some(name) = k.strip_prefix("method.request.path.") {
                    assert!(required, "{id}: path parameters are always required");
                    path_params.push(name.to_owned());
                } else if let Some(name) = k.strip_prefix("method.request.querystring.") {
                    query.insert(name.to_owned(), required);
                } else {
                    panic!("{id}: unexpected request parameter {k}");
                }
            }
            DeployedMethod {
                id: id.clone(),
                method: p["HttpMethod"].as_str().unwrap().to_owned(),
                path: path_of(t, &p["ResourceId"]),
                operation: p["OperationName"].as_str().unwrap().to_owned(),
                path_params,
                query,
            }
        })
        .collect()
}

/// A request path for `template`, each `{param}` filled with `v-<param>`.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => format!("v-{name}"),
                None => seg.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// What the router requires of `m`: each query parameter whose absence
/// alone it refuses.
fn router_requires(m: &DeployedMethod, path: &str) -> BTreeSet<String> {
    let all: BTreeSet<&str> = m.query.keys().map(String::as_str).collect();
    let mut required = BTreeSet::new();
    for q in &all {
        match resolve(&m.method, path, |n| n != *q && all.contains(n)) {
            Ok(_) => {}
            Err(RouteError::MissingQuery(p)) => {
                assert_eq!(p.name, *q, "{}: reports the absent parameter", m.id);
                required.insert((*q).to_owned());
            }
            Err(e) => panic!("{}: {e:?}", m.id),
        }
    }
    required
}

#[test]
fn every_deployed_method_is_routed_to_its_operation_with_the_same_required_parameters() {
    for (county, t) in templates() {
        let methods = deployed_methods(&t);
        assert_eq!(
            methods.len(),
            ROUTES.len(),
            "{county}: one method per route"
        );
        for m in &methods {
            let path = concrete(&m.path);
            let required: BTreeSet<String> = m
                .query
                .iter()
                .filter(|(_, r)| **r)
                .map(|(n, _)| n.clone())
                .collect();
            let (operation, params) = resolve(&m.method, &path, |n| required.contains(n))
                .unwrap_or_else(|e| panic!("{county} {}: {} {path}: {e:?}", m.id, m.method));
            assert_eq!(operation.name(), m.operation, "{county} {}", m.id);
            for p in &m.path_params {
                assert_eq!(params.get(p), Some(format!("v-{p}").as_str()), "{}", m.id);
            }
            assert_eq!(
                router_requires(m, &path),
                required,
                "{county} {}: the router and API Gateway require the same query parameters",
                m.id
            );
        }
    }
}

#[test]
fn every_route_the_router_serves_is_deployed() {
    for (county, t) in templates() {
        let deployed: BTreeSet<(String, String)> = deployed_methods(&t)
            .into_iter()
            .map(|m| (m.method, m.path))
            .collect();
        for r in ROUTES {
            let (operation, _) = resolve(r.method.as_str(), &concrete(r.path), |_| true).unwrap();
            assert_eq!(operation, r.operation);
            assert!(
                deployed.contains(&(r.method.as_str().to_owned(), r.path.to_owned())),
                "{county}: {} is routed by the function but not deployed",
                r.describe()
            );
        }
    }
}

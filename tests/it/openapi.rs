//! The OpenAPI document and the router must describe the same API: every
//! route the router serves is documented, and nothing else is; and the
//! document is a valid OpenAPI 3.1 document, as a client generator reads
//! it (the official schema, the JSON Schema meta-schema for every schema
//! object, and the rules no schema can express: unique operationIds,
//! declared path parameters, resolvable references).

use crate::common::{Backend, TestApp, json_body};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The official OpenAPI 3.1 schema, `https://spec.openapis.org/oas/3.1/schema/2022-10-07`
/// (OpenAPI Initiative, Apache-2.0), vendored: the check runs offline.
const OAS_31_SCHEMA: &str = include_str!("../fixtures/openapi-3.1-schema-2022-10-07.json");

/// The HTTP methods an OpenAPI path item may hold (OAS 3.1 §4.8.9).
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every error a validator finds in `document`, as messages (none: valid).
fn openapi_errors(document: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let schema: Value = serde_json::from_str(OAS_31_SCHEMA).expect("the vendored schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the OAS 3.1 schema compiles");
    errors.extend(
        validator
            .iter_errors(document)
            .map(|error| format!("schema: {} at {}", error, error.instance_path())),
    );
    // Schema objects are JSON Schema 2020-12 (the OAS dialect only adds
    // annotations): each one against the meta-schema.
    let mut schemas: Vec<(String, &Value)> = document["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, schema)| (format!("components/schemas/{name}"), schema))
        .collect();
    let mut operation_ids: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        let templated: BTreeSet<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
            .collect();
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let at = format!("{} {path}", method.to_uppercase());
            match operation["operationId"].as_str() {
                Some(id) => operation_ids.entry(id).or_default().push(at.clone()),
                None => errors.push(format!("{at}: no operationId")),
            }
            let parameters = operation["parameters"].as_array().into_iter().flatten();
            let mut in_path = BTreeSet::new();
            for parameter in parameters.chain(item["parameters"].as_array().into_iter().flatten()) {
                if parameter["in"] == "path" {
                    let name = parameter["name"].as_str().unwrap_or_default();
                    in_path.insert(name);
                    if parameter["required"] != true {
                        errors.push(format!("{at}: path parameter {name} is not required"));
                    }
                }
                if let Some(schema) = parameter.get("schema") {
                    schemas.push((format!("{at} parameter {}", parameter["name"]), schema));
                }
            }
            if in_path != templated {
                errors.push(format!(
                    "{at}: path parameters {in_path:?} do not match the template {templated:?}"
                ));
            }
            let bodies = operation["requestBody"]["content"].as_object().into_iter();
            let responses = operation["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(_, response)| response["content"].as_object());
            for content in bodies.chain(responses) {
                for (media, body) in content {
                    if let Some(schema) = body.get("schema") {
                        schemas.push((format!("{at} {media}"), schema));
                    }
                }
            }
        }
    }
    for (id, operations) in operation_ids {
        if operations.len() > 1 {
            errors.push(format!("duplicate operationId {id:?}: {operations:?}"));
        }
    }
    for (at, schema) in schemas {
        if let Err(error) = jsonschema::meta::validate(schema) {
            errors.push(format!("{at}: not a JSON Schema: {error}"));
        }
    }
    dangling_references(document, document, "#", &mut errors);
    errors
}

/// Every local `$ref` in `value` must point at something in `document`.
fn dangling_references(document: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(target)) = object.get("$ref") {
                let resolves = target
                    .strip_prefix('#')
                    .is_some_and(|pointer| document.pointer(pointer).is_some());
                if !resolves {
                    errors.push(format!("{at}: $ref {target} resolves to nothing"));
                }
            }
            for (key, child) in object {
                dangling_references(document, child, &format!("{at}/{key}"), errors);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                dangling_references(document, child, &format!("{at}/{i}"), errors);
            }
        }
        _ => {}
    }
}

async fn served_document(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    json_body(response).await
}

/// What CI relies on: the served document is valid OpenAPI 3.1, every
/// error listed.
#[tokio::test]
async fn the_served_document_is_valid_openapi_3_1() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let document = served_document(&app).await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1."));
    let errors = openapi_errors(&document);
    assert!(
        errors.is_empty(),
        "invalid OpenAPI document:\n{}",
        errors.join("\n")
    );
}

/// The validator is no rubber stamp: the served document with one
/// operationId duplicated, a path parameter lost, a dangling reference or
/// a schema violation is refused, each by name.
#[tokio::test]
async fn the_validator_refuses_what_a_client_generator_would_trip_on() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let valid = served_document(&app).await;

    // One change to the valid document, and what the errors must say.
    let refused = |change: &dyn Fn(&mut Value), says: &str| {
        let mut document = valid.clone();
        change(&mut document);
        let errors = openapi_errors(&document);
        assert!(
            errors.iter().any(|e| e.contains(says)),
            "{says}: {errors:?}"
        );
    };
    refused(
        &|d| d["paths"]["/api/v1/auth/mfa/login"]["post"]["operationId"] = "auth_login".into(),
        "duplicate operationId \"auth_login\"",
    );
    refused(
        &|d| d["paths"]["/api/v1/trades/{id}"]["get"]["parameters"] = Value::Array(vec![]),
        "do not match the template",
    );
    refused(
        &|d| {
            d["paths"]["/api/v1/users/me"]["get"]["responses"]["200"]["content"]["application/json"]
                ["schema"] = serde_json::json!({"$ref": "#/components/schemas/Nope"})
        },
        "resolves to nothing",
    );
    refused(
        &|d| d["paths"]["/api/v1/users/me"]["get"]["responses"] = serde_json::json!({"200": 7}),
        "schema: ",
    );
}

fn document_operations(document: &serde_json::Value) -> BTreeSet<(String, String)> {
    document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|key| METHODS.contains(&key.as_str()))
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect()
}

/// utoipa-axum registers each handler's route and its OpenAPI path in one
/// call, so the document cannot list a route the router lacks by
/// construction; this checks it black-box: every documented operation,
/// requested over HTTP, reaches a handler (no `route not found` fallback,
/// no `405`).
#[tokio::test]
async fn every_documented_route_is_served() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let document = served_document(&app).await;
    let documented = document_operations(&document);
    assert!(documented.len() >= 30, "{documented:?}");
    for (method, path) in &documented {
        // Any id will do: an unknown resource is a handler's 404, not the
        // router's.
        let concrete = path
            .replace("{id}", "0190b5f0-0000-7000-8000-000000000000")
            .replace("{asset}", "index.html");
        let method = http::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app
            .client
            .request(method.clone(), app.url(&concrete))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_ne!(status, 405, "{method} {path}: {body}");
        assert!(
            !(status == 404 && body.contains("route not found")),
            "{method} {path} is documented but not routed: {body}"
        );
    }
}

#[tokio::test]
async fn the_document_is_served_with_both_security_schemes() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let document = served_document(&app).await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearerAuth"]["type"], "http");
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
    assert_eq!(schemes["bearerAuth"]["bearerFormat"], "JWT");
    assert_eq!(schemes["cookieAuth"]["type"], "apiKey");
    assert_eq!(schemes["cookieAuth"]["in"], "cookie");
    assert_eq!(schemes["cookieAuth"]["name"], "auth-token");
    assert_eq!(
        schemes["oauth2"]["flows"]["password"]["tokenUrl"],
        "/api/v1/auth/token"
    );
    // Protected operations name both schemes.
    let me = &document["paths"]["/api/v1/users/me"]["get"]["security"];
    assert!(me.to_string().contains("bearerAuth") && me.to_string().contains("cookieAuth"));
}

#[tokio::test]
async fn the_problem_schema_matches_what_errors_render() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let document = served_document(&app).await;
    let documented: BTreeSet<String> = document["components"]["schemas"]["Problem"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    // A real 422 (the richest problem document) from the running server.
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&serde_json::json!({"email": "nope", "password": "x", "full_name": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let rendered: BTreeSet<String> = json_body(response)
        .await
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(documented, rendered);
}

#[tokio::test]
async fn the_docs_page_and_its_assets_are_served_offline() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("<base href=\"/docs/\">"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external asset: {html}"
    );
    for asset in [
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "swagger-initializer.js",
    ] {
        let response = app
            .client
            .get(app.url(&format!("/docs/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
    }
    let init = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    assert!(init.text().await.unwrap().contains("/openapi.json"));
}

/// The other direction: the router serves nothing on a documented path
/// that the document leaves out. A method the document does not list for
/// a path is `405`, and the `Allow` the router answers with (every method
/// it routes there) is exactly the documented set. Every route is added
/// through utoipa-axum's `routes!` (route and document in one call) except
/// the documentation's own three, which `DocsApi` documents; this catches
/// a route slipped in beside them.
#[tokio::test]
async fn every_served_method_is_documented() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let document = served_document(&app).await;
    let mut documented: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (method, path) in document_operations(&document) {
        documented
            .entry(path)
            .or_default()
            .insert(method.to_uppercase());
    }
    for (path, methods) in &documented {
        let concrete = path
            .replace("{id}", "0190b5f0-0000-7000-8000-000000000000")
            .replace("{asset}", "index.html");
        let probe = ["PUT", "TRACE", "PATCH", "DELETE", "POST", "GET"]
            .into_iter()
            .find(|m| !methods.contains(*m))
            .unwrap();
        let response = app
            .client
            .request(
                http::Method::from_bytes(probe.as_bytes()).unwrap(),
                app.url(&concrete),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{probe} {path}");
        let allow: BTreeSet<String> = response
            .headers()
            .get_all(http::header::ALLOW)
            .iter()
            .flat_map(|value| value.to_str().unwrap().split(','))
            .map(|method| method.trim().to_owned())
            // axum answers HEAD wherever it routes GET.
            .filter(|method| method != "HEAD" || !methods.contains("GET"))
            .collect();
        assert_eq!(&allow, methods, "{path}: the router serves {allow:?}");
    }
}

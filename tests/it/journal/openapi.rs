//! The journal's routes and schemas are in `/openapi.json`, and every
//! schema the document references is defined in it.

use crate::common::{Backend, TestApp, json_body};
use serde_json::Value;

fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => out.push(target.clone()),
                    _ => refs(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn journal_routes_and_schemas_are_documented() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let document = json_body(
        app.client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    for (path, method) in [
        ("/api/v1/round-trips", "get"),
        ("/api/v1/analytics/summary", "get"),
        ("/api/v1/analytics/breakdown", "get"),
        ("/api/v1/analytics/equity-curve", "get"),
        ("/api/v1/imports", "post"),
        ("/api/v1/imports", "get"),
        ("/api/v1/imports/{id}", "delete"),
    ] {
        let operation = &document["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} undocumented");
        assert!(
            operation["security"].is_array(),
            "{method} {path}: no security"
        );
    }
    let mut targets = Vec::new();
    refs(&document, &mut targets);
    for target in &targets {
        let name = target.trim_start_matches("#/components/schemas/");
        assert!(
            document["components"]["schemas"][name].is_object(),
            "{target} is not defined"
        );
    }
    let schemas = &document["components"]["schemas"];
    for (schema, field) in [
        ("Trade", "tags"),
        ("Trade", "import_id"),
        ("User", "timezone"),
        ("RoundTrip", "trade_ids"),
        ("Summary", "max_drawdown"),
        ("ImportRecord", "duplicates"),
        ("CreateTrade", "tags"),
    ] {
        assert!(
            schemas[schema]["properties"][field].is_object(),
            "{schema}.{field}: {}",
            schemas[schema]
        );
    }
    let upload = &document["paths"]["/api/v1/imports"]["post"]["requestBody"]["content"];
    assert!(upload["text/csv"].is_object(), "{upload}");
}

//! The OpenAPI document and the router must describe the same API: every
//! route the router serves is documented, and nothing else is.

use crate::common::{Backend, TestApp, json_body};
use std::collections::BTreeSet;

fn document_operations(document: &serde_json::Value) -> BTreeSet<(String, String)> {
    document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|key| ["get", "post", "put", "patch", "delete"].contains(&key.as_str()))
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
    let document: serde_json::Value = json_body(
        app.client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
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
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let document = json_body(response).await;
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
    let document = json_body(
        app.client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
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

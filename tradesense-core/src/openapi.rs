//! Serving an OpenAPI document: `/openapi.json` and the interactive page at
//! `/docs` (Swagger UI from the assets vendored inside `utoipa-swagger-ui`:
//! no CDN, no download at build time), plus the security schemes of this
//! crate's auth (bearer, the auth cookie, the OAuth2 password flow).
//!
//! The document itself is generated from the real handlers by
//! `utoipa-axum`: every endpoint router of the crate is an
//! [`OpenApiRouter`](utoipa_axum::router::OpenApiRouter), and the composer
//! (the TradeSense server, or an embedder) merges them and calls
//! `split_for_parts`, so routes and document cannot drift apart.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, Uri, header};
use std::sync::Arc;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes,
    SecurityScheme,
};

/// Adds the `bearerAuth` and `cookieAuth` schemes (the cookie named
/// `cookie_name`) and, when `token_url` is given, the OAuth2 password flow
/// that Swagger's "Authorize" button uses.
pub fn add_security_schemes(openapi: &mut OpenApi, cookie_name: &str, token_url: Option<&str>) {
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearerAuth",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    components.add_security_scheme(
        "cookieAuth",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(cookie_name))),
    );
    if let Some(token_url) = token_url {
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
                token_url,
                Scopes::new(),
            ))])),
        );
    }
}

/// What the documentation routes serve.
#[derive(Clone)]
struct Docs {
    json: Bytes,
    title: Arc<str>,
    config: Arc<utoipa_swagger_ui::Config<'static>>,
}

/// `GET /openapi.json` (the document, rendered once) and `GET /docs`, with
/// the Swagger UI assets under `/docs/`. `title` names the page.
///
/// ```
/// use tower::ServiceExt;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let api = utoipa::openapi::OpenApiBuilder::new().build();
/// let app = tradesense_core::openapi::docs_router(&api, "My API");
/// let response = app
///     .oneshot(http::Request::get("/openapi.json").body(axum::body::Body::empty()).unwrap())
///     .await
///     .unwrap();
/// assert_eq!(response.status(), 200);
/// # });
/// ```
pub fn docs_router(openapi: &OpenApi, title: &str) -> axum::Router {
    // The document describes its own routes too.
    let mut openapi = openapi.clone();
    openapi.merge(<DocsApi as utoipa::OpenApi>::openapi());
    // Serialising a utoipa document cannot fail (strings, maps with string
    // keys); an empty object would still serve the page.
    let json = openapi.to_pretty_json().unwrap_or_else(|_| "{}".to_owned());
    let docs = Docs {
        json: Bytes::from(json),
        title: Arc::from(title),
        config: Arc::new(
            utoipa_swagger_ui::Config::from("/openapi.json")
                .persist_authorization(true)
                .with_credentials(true),
        ),
    };
    axum::Router::new()
        .route("/openapi.json", axum::routing::get(openapi_json))
        .route("/docs", axum::routing::get(docs_page))
        .route("/docs/{*asset}", axum::routing::get(docs_asset))
        .with_state(docs)
}

/// The paths of [`docs_router`], for the document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(openapi_json, docs_page, docs_asset))]
struct DocsApi;

/// The OpenAPI document itself.
#[utoipa::path(get, path = "/openapi.json", tag = "documentation",
    responses((status = 200, description = "This document", body = serde_json::Value)))]
async fn openapi_json(State(docs): State<Docs>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        docs.json,
    )
}

/// The interactive documentation page (Swagger UI, served offline).
#[utoipa::path(get, path = "/docs", tag = "documentation",
    responses((status = 200, description = "HTML page", content_type = "text/html")))]
async fn docs_page(state: State<Docs>, uri: Uri) -> Response {
    swagger_file(state, uri)
}

/// The documentation page's static assets.
#[utoipa::path(get, path = "/docs/{asset}", tag = "documentation",
    params(("asset" = String, Path, description = "Asset file name")),
    responses(
        (status = 200, description = "The asset"),
        (status = 404, description = "No such asset", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
async fn docs_asset(state: State<Docs>, uri: Uri) -> Response {
    swagger_file(state, uri)
}

fn swagger_file(State(docs): State<Docs>, uri: Uri) -> Response {
    let tail = uri
        .path()
        .strip_prefix("/docs")
        .unwrap_or("")
        .trim_start_matches('/');
    let tail = if tail.is_empty() { "index.html" } else { tail };
    match utoipa_swagger_ui::serve(tail, docs.config.clone()) {
        Ok(Some(file)) => {
            let mut bytes = file.bytes.into_owned();
            if tail == "index.html" {
                // The page is served at `/docs` (no trailing slash, like every
                // path here); its asset links are relative, so anchor them.
                let html = String::from_utf8_lossy(&bytes)
                    .replacen("<head>", "<head>\n    <base href=\"/docs/\">", 1)
                    .replacen(
                        "<title>Swagger UI</title>",
                        &format!("<title>{}</title>", docs.title),
                        1,
                    );
                bytes = html.into_bytes();
            }
            let content_type = HeaderValue::from_str(&file.content_type)
                .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
            ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
        }
        Ok(None) => crate::error::ApiError::NotFound("asset").into_response(),
        Err(err) => crate::error::ApiError::internal(err.to_string()).into_response(),
    }
}

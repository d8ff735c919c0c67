//! The import endpoints (docs/API.md, "Imports"): `POST /imports` reads a
//! CSV body (`text/csv`, within the router's body limit) record by record,
//! `GET /imports` is the history, `DELETE /imports/{id}` undoes one.

use super::api::{Id, write_error};
use super::{
    Cursor, DateFormat, DecimalMark, FeeSign, ImportRecord, NewImport, ReadOptions,
    RequestedFormat, TradeWriteError, TradingStore, parse_file, parse_timezone,
};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::http::{Json, Path, Query, QueryParams, guard, page, page_cursor, page_limit};
use crate::store::StoreError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request, State};
use axum::response::IntoResponse;
use axum::routing::Route;
use chrono_tz::Tz;
use http::{StatusCode, header};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use tower::{Layer, Service};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

type Store = Arc<dyn TradingStore>;

/// The import routes, each handler wrapped in `layer`.
pub(super) fn routes<L>(layer: L) -> OpenApiRouter<Store>
where
    L: Layer<Route> + Clone + Send + Sync + 'static,
    L::Service: Service<axum::extract::Request, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    <L::Service as Service<axum::extract::Request>>::Response: IntoResponse + 'static,
    <L::Service as Service<axum::extract::Request>>::Future: Send + 'static,
{
    OpenApiRouter::new()
        .routes(guard(routes!(create_import, list_imports), layer.clone()))
        .routes(guard(routes!(delete_import), layer))
}

/// A CSV request body: `text/csv` (also `application/csv`, `text/plain`,
/// or no `Content-Type`), read within the router's `DefaultBodyLimit`.
struct CsvBody(Bytes);

impl<S: Send + Sync> FromRequest<S> for CsvBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let csv = request.headers().get(header::CONTENT_TYPE).is_none_or(|v| {
            v.to_str().is_ok_and(|v| {
                let essence = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                matches!(
                    essence.as_str(),
                    "text/csv" | "application/csv" | "text/plain"
                )
            })
        });
        if !csv {
            return Err(ApiError::UnsupportedMediaType {
                expected: "text/csv",
            });
        }
        Bytes::from_request(request, state)
            .await
            .map(CsvBody)
            .map_err(|rejection| match rejection {
                BytesRejection::FailedToBufferBody(_)
                    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
                {
                    ApiError::PayloadTooLarge
                }
                other => ApiError::MalformedBody(other.body_text()),
            })
    }
}

struct ImportQuery {
    format: RequestedFormat,
    portfolio_id: Option<Uuid>,
    dry_run: bool,
    tz: Option<Tz>,
    decimal: DecimalMark,
    date_format: Option<DateFormat>,
    fee_sign: Option<FeeSign>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ImportQuery {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let Query(map) = Query::<HashMap<String, String>>::from_request_parts(parts, state).await?;
        let mut params = QueryParams::new(map);
        let format = params.get("format", str::parse::<RequestedFormat>);
        let portfolio_id = params.get("portfolio_id", |v| v.parse::<Id>().map(|id| id.0));
        let dry_run = params.get("dry_run", |v| match v {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err("must be `true` or `false`".to_owned()),
        });
        let tz = params.get("tz", parse_timezone);
        let decimal = params.get("decimal", str::parse::<DecimalMark>);
        let date_format = params.get("date_format", str::parse::<DateFormat>);
        let fee_sign = params.get("fee_sign", str::parse::<FeeSign>);
        params.finish()?;
        let Some(format) = format else {
            return Err(ApiError::invalid(
                "format",
                "field required: `generic`, `ibkr`, `schwab`, `thinkorswim`, `etrade`, \
                 `fidelity`, `webull`, `tradovate` or `auto`",
            ));
        };
        Ok(Self {
            format,
            portfolio_id,
            dry_run: dry_run.unwrap_or(false),
            tz,
            decimal: decimal.unwrap_or_default(),
            date_format,
            fee_sign,
        })
    }
}

/// Import a broker CSV file: `generic`, a broker's export (`ibkr`: Interactive
/// Brokers Flex Query trades, `schwab`, `thinkorswim`, `etrade`, `fidelity`,
/// `webull`, `tradovate`), or `auto` to recognise the layout from the header.
/// Rows apply in `executed_at` order in one transaction; re-importing a file
/// into the same portfolio creates nothing. `errors[].row` is the line in the
/// file (the header is line 1); rows that are not fills are counted in
/// `skipped`.
#[utoipa::path(post, path = "/imports", tag = "journal",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(
        ("format" = String, Query, description = "`generic`, `ibkr`, `schwab`, `thinkorswim`, `etrade`, `fidelity`, `webull`, `tradovate`, or `auto` (recognised from the header row; `422` naming `format` when none matches)"),
        ("portfolio_id" = Option<Uuid>, Query, description = "Where the trades go; dedupe keys are per portfolio and layout"),
        ("dry_run" = Option<bool>, Query, description = "Answer the counts and errors, write nothing (200)"),
        ("tz" = Option<String>, Query, description = "IANA zone of times without an offset; default the user's `timezone`"),
        ("decimal" = Option<String>, Query, description = "`point` (default: `1234.5`; a `,` only groups thousands by three, `1,234.50`) or `comma` (`1.234,5`). A number with a decimal comma is a row error unless `comma`"),
        ("date_format" = Option<String>, Query, description = "generic only: `iso` (default, `YYYY-MM-DD HH:MM:SS` or RFC 3339), `us` (`MM/DD/YYYY [HH:MM[:SS]]`) or `eu` (`DD/MM/YYYY ...`)"),
        ("fee_sign" = Option<String>, Query, description = "generic only: `ignore` (default: a fee's sign is ignored) or `signed` (a negative fee is a rebate)"),
    ),
    request_body(content = String, content_type = "text/csv", description = "The file; its first line is a header; `,`, `;` or tab delimited (detected)"),
    responses(
        (status = 201, description = "The import (`format` is the layout read; `skipped` counts rows that are not fills)", body = ImportRecord),
        (status = 200, description = "A dry run: what the import would do", body = ImportRecord),
        (status = 404, description = "`portfolio_id` is not one of your portfolios", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`import_conflict`: a concurrent import of some of the same rows finished first (nothing imported; retry)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file is over the body limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not `text/csv`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown `format` (or `auto` recognising none), a bad parameter, a parameter the layout does not read, or a header without a required column (nothing imported)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_import(
    State(store): State<Store>,
    caller: Principal,
    query: ImportQuery,
    CsvBody(body): CsvBody,
) -> Result<(StatusCode, Json<ImportRecord>), ApiError> {
    let tz = match query.tz {
        Some(tz) => tz,
        None => parse_timezone(&store.user_timezone(caller.user_id).await?).unwrap_or(Tz::UTC),
    };
    let options = ReadOptions {
        decimal: query.decimal,
        date_format: query.date_format,
        fee_sign: query.fee_sign,
        ..ReadOptions::in_zone(tz)
    };
    let parsed = parse_file(&body, query.format, &options).map_err(ApiError::Validation)?;
    let import = NewImport {
        user_id: caller.user_id,
        format: parsed.format,
        portfolio_id: query.portfolio_id,
        rows: parsed.rows,
        skipped: parsed.skipped,
        candidates: parsed.candidates,
        errors: parsed.errors,
        dry_run: query.dry_run,
    };
    let record = store.import_trades(import).await.map_err(|err| match err {
        TradeWriteError::Store(StoreError::NotFound) => ApiError::NotFound("portfolio"),
        // Another import holding some of the same rows committed first:
        // this one rolled back whole, and a retry dedupes against it.
        TradeWriteError::Store(StoreError::Conflict(_)) => ApiError::Conflict {
            code: "import_conflict",
            detail: "Another import of some of the same rows finished first; \
                         nothing was imported: retry to import the rest."
                .to_owned(),
        },
        other => write_error("import")(other),
    })?;
    let status = if query.dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(record)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ImportPage {
    items: Vec<ImportRecord>,
    next_cursor: Option<String>,
}

/// The user's imports, newest first.
#[utoipa::path(get, path = "/imports", tag = "journal",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(
        ("limit" = Option<u32>, Query, description = "1-500, default 50"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page", body = ImportPage),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_imports(
    State(store): State<Store>,
    caller: Principal,
    Query(map): Query<HashMap<String, String>>,
) -> Result<Json<ImportPage>, ApiError> {
    let mut params = QueryParams::new(map);
    let limit = params
        .get("limit", page_limit)
        .unwrap_or(super::DEFAULT_LIMIT);
    let after = params.get("cursor", page_cursor);
    params.finish()?;
    let items = store.list_imports(caller.user_id, limit + 1, after).await?;
    let (items, next_cursor) = page(items, limit as usize, |i| Cursor::new(i.created_at, i.id));
    Ok(Json(ImportPage { items, next_cursor }))
}

/// Undo an import: its trades are deleted as one write.
#[utoipa::path(delete, path = "/imports/{id}", tag = "journal",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = Uuid, Path, description = "Import id")),
    responses(
        (status = 204, description = "Its trades are gone"),
        (status = 404, description = "No such import of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`insufficient_position`: a later sell needs them; nothing deleted", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_import(
    State(store): State<Store>,
    caller: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    store
        .delete_import(caller.user_id, id)
        .await
        .map_err(write_error("import"))?;
    Ok(StatusCode::NO_CONTENT)
}

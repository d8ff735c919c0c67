//! A `utoipa_axum::routes!` triple for a handler generic over the
//! embedder's types (its registration payload, its user record).
//! `#[utoipa::path]` cannot describe a type parameter, so the operation is
//! documented on a concrete stand-in (path, method, operationId, status
//! codes, problem bodies), and the JSON schemas that depend on the
//! embedder's types are put in afterwards, named by those types.

use axum::routing::MethodRouter;
use utoipa::ToSchema;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, RefOr, Response, schema::Schema};
use utoipa_axum::router::UtoipaMethodRouter;

/// Schemas of the document's components, collected as `routes!` does.
pub(crate) type Components = Vec<(String, RefOr<Schema>)>;

/// A reference to `T`'s schema, with `T` (and what it refers to) added to
/// `components`.
pub(crate) fn schema_ref<T: ToSchema>(components: &mut Components) -> RefOr<Schema> {
    let name = T::name().into_owned();
    components.push((name.clone(), T::schema()));
    T::schemas(components);
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(name))
}

/// `documented`'s operation served by `handler`, with `request` as its
/// `application/json` body schema and `response` as the body of its
/// response `status`; `components` join the document's schemas.
pub(crate) fn generic_route<S: Clone + Send + Sync + 'static>(
    documented: UtoipaMethodRouter<S>,
    handler: MethodRouter<S>,
    request: Option<RefOr<Schema>>,
    response: Option<(&str, RefOr<Schema>)>,
    components: Components,
) -> UtoipaMethodRouter<S> {
    let (mut schemas, mut paths, _stand_in) = documented;
    schemas.extend(components);
    for item in paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            set_schemas(operation, request.clone(), response.clone());
        }
    }
    (schemas, paths, handler)
}

fn set_schemas(
    operation: &mut Operation,
    request: Option<RefOr<Schema>>,
    response: Option<(&str, RefOr<Schema>)>,
) {
    if let (Some(schema), Some(RefOr::T(body))) = (request, operation.request_body.as_mut()) {
        body.content.insert(
            "application/json".to_owned(),
            RefOr::T(ContentBuilder::new().schema(Some(schema)).build()),
        );
    }
    if let Some((status, schema)) = response
        && let Some(RefOr::T(Response { content, .. })) =
            operation.responses.responses.get_mut(status)
    {
        content.insert(
            "application/json".to_owned(),
            RefOr::T(ContentBuilder::new().schema(Some(schema)).build()),
        );
    }
}

//! Tags on trades: normalised, bounded, filterable, editable.

use super::support::{User, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn journal_tags_are_normalised_filterable_and_editable() {
    on_every_backend(|app| async move {
        let user = User::new(&app).await;
        let other = User::new(&app).await;
        let trade = user
            .trade(json!({"symbol": "AAPL", "side": "buy", "quantity": 1, "price": 1,
                "tags": [" Breakout", "swing", "SWING "]}))
            .await;
        assert_eq!(trade["tags"], json!(["breakout", "swing"]));
        assert_eq!(trade["import_id"], json!(null));
        let untagged = user
            .trade(json!({"symbol": "AAPL", "side": "buy", "quantity": 1, "price": 1}))
            .await;
        assert_eq!(untagged["tags"], json!([]));
        other
            .trade(json!({"symbol": "AAPL", "side": "buy", "quantity": 1, "price": 1, "tags": ["swing"]}))
            .await;

        let page = user.get("/api/v1/trades?tag=SWING").await;
        let ids: Vec<_> = page["items"].as_array().unwrap().iter().map(|t| t["id"].clone()).collect();
        assert_eq!(ids, vec![trade["id"].clone()], "only the caller's tagged trade");
        let none = user.get("/api/v1/trades?tag=nothing").await;
        assert_eq!(none["items"], json!([]));

        // PATCH replaces the tags; the filter follows.
        let path = format!("/api/v1/trades/{}", trade["id"].as_str().unwrap());
        let edited = user.ok(Method::PATCH, &path, Some(json!({"tags": ["Scalp"]}))).await;
        assert_eq!(edited["tags"], json!(["scalp"]));
        assert_eq!(user.get("/api/v1/trades?tag=swing").await["items"], json!([]));
        assert_eq!(user.get("/api/v1/trades?tag=scalp").await["items"].as_array().unwrap().len(), 1);
        // Other edits leave them alone.
        let edited = user.ok(Method::PATCH, &path, Some(json!({"notes": "n"}))).await;
        assert_eq!(edited["tags"], json!(["scalp"]));
        let cleared = user.ok(Method::PATCH, &path, Some(json!({"tags": []}))).await;
        assert_eq!(cleared["tags"], json!([]));
        assert_eq!(user.get("/api/v1/trades?tag=scalp").await["items"], json!([]));

        // Bounds: 21 distinct, 41 characters, not strings, null on PATCH.
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        for (tags, method, at) in [
            (json!(many), Method::POST, "/api/v1/trades".to_owned()),
            (json!(["x".repeat(41)]), Method::POST, "/api/v1/trades".to_owned()),
            (json!("swing"), Method::POST, "/api/v1/trades".to_owned()),
            (json!([1]), Method::PATCH, path.clone()),
            (json!(null), Method::PATCH, path.clone()),
        ] {
            let body = json!({"symbol": "AAPL", "side": "buy", "quantity": 1, "price": 1, "tags": tags});
            let (status, problem) = user.send(method, &at, Some(body)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{tags}: {problem}");
            assert_eq!(problem["errors"][0]["field"], "tags", "{problem}");
        }
        let (status, problem) = user.send(Method::GET, "/api/v1/trades?tag=%20", None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    })
    .await;
}

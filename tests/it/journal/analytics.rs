//! Analytics over the closed round trips, over HTTP: exact statistics,
//! time zones, and freshness after writes (the responses are cached).

use super::round_trips::worked_example;
use super::support::{User, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn journal_summary_breakdown_and_equity_curve() {
    on_every_backend(|app| async move {
        let user = User::new(&app).await;
        let empty = user.get("/api/v1/analytics/summary").await;
        assert_eq!(empty["round_trips"], 0);
        assert_eq!(empty["win_rate"], json!(null));
        assert_eq!(empty["max_drawdown"], json!(null));
        assert_eq!(empty["average_holding_seconds"], json!(null));
        let (pid, _) = worked_example(&user).await;

        let summary = user.get("/api/v1/analytics/summary").await;
        for (field, value) in [
            ("win_rate", "0.5"),
            ("gross_profit", "2.5"),
            ("gross_loss", "154"),
            ("net_pnl", "-151.5"),
            ("profit_factor", "0.01623377"),
            ("average_win", "2.5"),
            ("average_loss", "154"),
            ("expectancy", "-75.75"),
            ("largest_win", "2.5"),
            ("largest_loss", "154"),
            ("max_drawdown", "154"),
        ] {
            assert_eq!(summary[field], value, "{field}: {summary}");
        }
        for (field, value) in [
            ("round_trips", 2),
            ("wins", 1),
            ("losses", 1),
            ("breakevens", 0),
            ("max_consecutive_wins", 1),
            ("max_consecutive_losses", 1),
            ("average_holding_seconds", 18000),
        ] {
            assert_eq!(summary[field], value, "{field}: {summary}");
        }
        let aapl = user
            .get(&format!("/api/v1/analytics/summary?portfolio_id={pid}"))
            .await;
        assert_eq!(aapl["round_trips"], 1);
        assert_eq!(aapl["profit_factor"], "0", "no profit over a loss: {aapl}");
        assert_eq!(aapl["average_win"], json!(null), "no wins to average");

        // Days, weekdays and hours of closed_at in the zone.
        let curve = user.get("/api/v1/analytics/equity-curve").await;
        assert_eq!(
            curve["points"],
            json!([
                {"date": "2026-03-02", "pnl": "-154", "cumulative": "-154"},
                {"date": "2026-03-03", "pnl": "2.5", "cumulative": "-151.5"},
            ])
        );
        let ny = user
            .get("/api/v1/analytics/equity-curve?tz=America/New_York")
            .await;
        assert_eq!(
            ny["points"],
            json!([{"date": "2026-03-02", "pnl": "-151.5", "cumulative": "-151.5"}])
        );
        let keys = |body: &serde_json::Value| -> Vec<String> {
            body["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["key"].as_str().unwrap().to_owned())
                .collect()
        };
        let by_weekday = user.get("/api/v1/analytics/breakdown?by=weekday").await;
        assert_eq!(by_weekday["by"], "weekday");
        assert_eq!(keys(&by_weekday), ["monday", "tuesday"]);
        assert_eq!(
            keys(
                &user
                    .get("/api/v1/analytics/breakdown?by=weekday&tz=America/New_York")
                    .await
            ),
            ["monday"]
        );
        assert_eq!(
            keys(&user.get("/api/v1/analytics/breakdown?by=hour").await),
            ["03", "17"]
        );
        assert_eq!(
            keys(
                &user
                    .get("/api/v1/analytics/breakdown?by=hour&tz=America/New_York")
                    .await
            ),
            ["12", "22"]
        );
        let by_tag = user.get("/api/v1/analytics/breakdown?by=tag").await;
        assert_eq!(keys(&by_tag), ["breakout", "scalp"]);
        assert_eq!(by_tag["groups"][1]["net_pnl"], "-154");
        let by_symbol = user.get("/api/v1/analytics/breakdown?by=symbol").await;
        assert_eq!(keys(&by_symbol), ["AAPL", "MSFT"]);
        assert_eq!(by_symbol["groups"][1]["win_rate"], "1");

        // The user's zone is the default, and PATCH /users/me sets it.
        let (status, problem) = user
            .send(
                Method::PATCH,
                "/api/v1/users/me",
                Some(json!({"timezone": "Mars/Olympus"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "timezone");
        let me = user
            .ok(
                Method::PATCH,
                "/api/v1/users/me",
                Some(json!({"timezone": "America/New_York"})),
            )
            .await;
        assert_eq!(me["timezone"], "America/New_York");
        assert_eq!(
            user.get("/api/v1/users/me").await["timezone"],
            "America/New_York"
        );
        let curve = user.get("/api/v1/analytics/equity-curve").await;
        assert_eq!(
            curve["points"].as_array().unwrap().len(),
            1,
            "the user's zone: {curve}"
        );

        // Bad parameters are named.
        for (query, field) in [
            ("by=month", "by"),
            ("tz=Nowhere", "tz"),
            ("from=yesterday", "from"),
        ] {
            let (status, problem) = user
                .send(
                    Method::GET,
                    &format!("/api/v1/analytics/breakdown?{query}"),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
            assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        }
        let (status, _) = user
            .send(Method::GET, "/api/v1/analytics/breakdown", None)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "by is required");

        // A write shows at once, though the responses are cached.
        user.trade(
            json!({"symbol": "AAPL", "side": "sell", "quantity": "3", "price": "60",
            "portfolio_id": pid, "executed_at": "2026-03-03T11:00:00Z"}),
        )
        .await;
        let summary = user.get("/api/v1/analytics/summary").await;
        assert_eq!(summary["round_trips"], 3, "{summary}");
        assert_eq!(summary["net_pnl"], "-121.5");
    })
    .await;
}

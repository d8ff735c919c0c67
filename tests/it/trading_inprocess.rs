//! The trading scenarios against the trading router in-process, on every
//! configured backend, with the caller's `Principal` inserted as the
//! `AuthLayer` would. (`trading_http.rs` runs the same scenarios over HTTP
//! against the real server with real logins.)

use crate::trading_scenarios::*;
use tradesense_core::store::testing::TestDatabase;

macro_rules! on_every_backend {
    ($($name:ident => $scenario:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for db in TestDatabase::all().await {
                let users = in_process_users(db.store.clone());
                $scenario(&users).await;
            }
        }
    )*};
}

on_every_backend! {
    random_histories => |users| random_histories_match_the_fold(users, 12, 30);
    fifty_concurrent_buys => concurrent_buys_all_count;
    pagination => pagination_is_stable_under_inserts;
    validation => validation_names_each_field;
    decimals => decimals_are_exact;
    owner_isolation => other_users_see_nothing;
    portfolios => portfolio_lifecycle;
}

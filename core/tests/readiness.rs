//! `/readyz` with required and optional checks: a failing optional check
//! (a cache that fails open) leaves the app ready but `degraded`, with the
//! reason; a failing required one (the database) makes it unavailable.

use phial_core::{App, AppState, Config};

async fn ready(required_up: bool, optional_up: bool) -> (u16, serde_json::Value) {
    let app = App::builder(Config::testing())
        .health_check("database", move |_s: AppState| async move {
            if required_up {
                Ok(())
            } else {
                Err("database is down".into())
            }
        })
        .health_check_optional("cache", move |_s: AppState| async move {
            if optional_up {
                Ok(())
            } else {
                Err("Redis does not answer".into())
            }
        })
        .build()
        .await
        .unwrap();
    let res = app.test_client().get("/readyz").send().await;
    (res.status().as_u16(), res.json())
}

#[tokio::test]
async fn a_failing_optional_check_is_degraded_with_its_reason() {
    let (status, body) = ready(true, false).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["cache"]["status"], "degraded");
    assert_eq!(body["checks"]["cache"]["reason"], "Redis does not answer");
    assert_eq!(body["checks"]["database"]["status"], "ok");
}

#[tokio::test]
async fn a_failing_required_check_is_unavailable_whatever_the_optional_ones_say() {
    let (status, body) = ready(false, false).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["database"]["error"], "database is down");
    assert_eq!(body["checks"]["cache"]["status"], "degraded");
}

#[tokio::test]
async fn every_check_passing_is_ok() {
    let (status, body) = ready(true, true).await;
    assert_eq!((status, &body["status"]), (200, &serde_json::json!("ok")));
}

//! The extension contract: phases, typed state, dependencies, collected
//! errors, hooks, and two apps side by side.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use phial_core::routing::get;
use phial_core::{App, AppBuilder, AppState, BoxError, BuildError, Config, Dep, Extension};

/// A value an extension provides asynchronously (a stand-in for a pool).
struct Pool {
    url: String,
}

/// Reads `[pool]`, connects in a provider, exposes a route and a check.
struct PoolExt;

#[derive(serde::Deserialize, serde::Serialize, Default)]
struct PoolConfig {
    url: String,
}

impl Extension for PoolExt {
    fn name(&self) -> &str {
        "pool"
    }

    fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        let cfg: PoolConfig = app.section("pool")?;
        if cfg.url.is_empty() {
            return Err("config key `pool.url` is empty: set it".into());
        }
        app.provide(move |_p| async move {
            tokio::task::yield_now().await;
            Ok(Pool { url: cfg.url })
        });
        app.route(
            "/pool",
            get(|pool: Dep<Pool>| async move { pool.url.clone() }).name("pool"),
        );
        app.health_check("pool", |state: AppState| async move {
            match state.get::<Pool>() {
                Some(p) if p.url != "down" => Ok(()),
                _ => Err("pool is down".into()),
            }
        });
        Ok(())
    }
}

/// Needs `PoolExt`, and gathers contributions in `finish`.
struct Collector {
    seen: Arc<Mutex<Vec<String>>>,
}

struct Contribution(&'static str);

impl Extension for Collector {
    fn name(&self) -> &str {
        "collector"
    }

    fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        app.require::<PoolExt>();
        Ok(())
    }

    fn finish(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        let names = app
            .extension_names()
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>();
        self.seen.lock().unwrap().extend(names);
        app.insert(Contribution("gathered"));
        Ok(())
    }
}

fn config(url: &str) -> Config {
    Config::testing().set("pool.url", url)
}

#[tokio::test]
async fn providers_fill_typed_state_that_handlers_extract() {
    let app = App::builder(config("sqlite://a"))
        .register(PoolExt)
        .build()
        .await
        .unwrap();
    let res = app.test_client().get("/pool").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text(), "sqlite://a");
    assert_eq!(app.state().extensions(), ["pool"]);
}

#[tokio::test]
async fn finish_runs_after_every_init_app_whatever_the_order() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    // The collector is registered first, yet sees the pool registered after it.
    let app = App::builder(config("x"))
        .register(Collector { seen: seen.clone() })
        .register(PoolExt)
        .build()
        .await
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), ["collector", "pool"]);
    assert_eq!(app.state().get::<Contribution>().unwrap().0, "gathered");
}

#[tokio::test]
async fn a_missing_dependency_names_both_extensions() {
    let err = App::builder(config("x"))
        .register(Collector {
            seen: Arc::default(),
        })
        .build()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("`collector` requires extension `PoolExt`"),
        "{text}"
    );
}

#[tokio::test]
async fn registering_twice_is_refused() {
    let err = App::builder(config("x"))
        .register(PoolExt)
        .register(PoolExt)
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&err.errors()[0], BuildError::DuplicateExtension { name } if name == "pool"),
        "{err}"
    );
}

#[tokio::test]
async fn every_startup_failure_is_reported_at_once() {
    let failing_provider = |app: &mut AppBuilder| -> Result<(), BoxError> {
        app.provide(|_p| async {
            Err::<u8, BoxError>("cannot reach postgres://app:***@db/app".into())
        });
        Ok(())
    };
    let err = App::builder(
        Config::testing()
            .set("body_limit", "lots")
            .set("pool.url", ""),
    )
    .register(PoolExt)
    .register(failing_provider)
    .route("/bad/:id", get(|| async { "" }))
    .build()
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(err.errors().len() >= 4, "{text}");
    assert!(text.contains("config key `body_limit`"), "{text}");
    assert!(
        text.contains("`pool` failed during init_app: config key `pool.url` is empty"),
        "{text}"
    );
    assert!(
        text.contains("failed during provider: cannot reach"),
        "{text}"
    );
    assert!(text.contains("{name}"), "route syntax hint missing: {text}");
}

#[tokio::test]
async fn duplicate_endpoint_names_are_refused() {
    let err = App::builder(Config::testing())
        .route("/a", get(|| async { "" }).name("x"))
        .route("/b", get(|| async { "" }).name("x"))
        .build()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("endpoint name `x` is used by both `/a` and `/b`"),
        "{err}"
    );
}

#[tokio::test]
async fn the_same_route_twice_is_a_build_error_not_a_panic() {
    let err = App::builder(Config::testing())
        .route("/a", get(|| async { "1" }))
        .route("/a", get(|| async { "2" }))
        .build()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("route GET /a is already added"),
        "{err}"
    );
}

#[tokio::test]
async fn startup_hooks_run_in_order_and_shutdown_hooks_in_reverse() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let hook_ext = |tag: &'static str, log: Arc<Mutex<Vec<String>>>| {
        move |app: &mut AppBuilder| -> Result<(), BoxError> {
            let (l1, l2) = (log.clone(), log.clone());
            app.on_startup(move |_s| async move {
                l1.lock().unwrap().push(format!("start {tag}"));
                Ok(())
            });
            app.on_shutdown(move |_s| async move {
                l2.lock().unwrap().push(format!("stop {tag}"));
                Ok(())
            });
            Ok(())
        }
    };
    let mut builder = App::builder(Config::testing());
    builder.register(hook_ext("a", log.clone()));
    // Closures of the same type share a name: give the second its own type.
    struct B(Arc<Mutex<Vec<String>>>);
    impl Extension for B {
        fn name(&self) -> &str {
            "b"
        }
        fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
            let (l1, l2) = (self.0.clone(), self.0.clone());
            app.on_startup(move |_s| async move {
                l1.lock().unwrap().push("start b".into());
                Ok(())
            });
            app.on_shutdown(move |_s| async move {
                l2.lock().unwrap().push("stop b".into());
                Ok(())
            });
            Ok(())
        }
    }
    builder.register(B(log.clone()));
    let app = builder.build().await.unwrap();
    assert_eq!(*log.lock().unwrap(), ["start a", "start b"]);
    assert!(app.shutdown().await.is_empty());
    assert_eq!(
        *log.lock().unwrap(),
        ["start a", "start b", "stop b", "stop a"]
    );
    // A second shutdown does nothing.
    app.shutdown().await;
    assert_eq!(log.lock().unwrap().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn hooks_are_bounded_in_time() {
    let err = App::builder(Config::testing().set("startup_timeout_secs", 1))
        .on_startup(|_s| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        })
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.errors()[0],
            BuildError::StartupTimeout { seconds: 1, .. }
        ),
        "{err}"
    );

    let app = App::builder(Config::testing().set("shutdown_timeout_secs", 1))
        .on_shutdown(|_s| async { Ok(()) })
        .on_shutdown(|_s| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        })
        .build()
        .await
        .unwrap();
    let problems = app.shutdown().await;
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].contains("did not finish within 1s"),
        "{problems:?}"
    );
}

#[tokio::test]
async fn readyz_aggregates_every_check() {
    let up = App::builder(config("ok"))
        .register(PoolExt)
        .build()
        .await
        .unwrap();
    let res = up.test_client().get("/readyz").send().await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json();
    assert_eq!(body["checks"]["pool"]["status"], "ok");

    let down = App::builder(config("down"))
        .register(PoolExt)
        .build()
        .await
        .unwrap();
    let res = down.test_client().get("/readyz").send().await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["pool"]["error"], "pool is down");
    assert_eq!(
        down.test_client().get("/healthz").send().await.status(),
        200
    );
}

#[tokio::test]
async fn two_apps_with_different_configs_live_side_by_side() {
    let a = App::builder(config("first").set("session.cookie_name", "a_sid"))
        .register(PoolExt)
        .build()
        .await
        .unwrap();
    let b = App::builder(config("second"))
        .register(PoolExt)
        .build()
        .await
        .unwrap();
    let (ra, rb) = tokio::join!(
        a.test_client().get("/pool").send(),
        b.test_client().get("/pool").send()
    );
    assert_eq!(
        (ra.text(), rb.text()),
        ("first".to_owned(), "second".to_owned())
    );
    assert_eq!(a.state().core().session.cookie_name, "a_sid");
    assert_eq!(b.state().core().session.cookie_name, "session");
}

/// Contributes a nested router, a layer, an embedded template and embedded
/// static files.
struct Assets;

static FILES: &[(&str, &[u8])] = &[("admin.css", b"body{}")];

impl Extension for Assets {
    fn name(&self) -> &str {
        "assets"
    }
    fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        let nested = axum::Router::new().route(
            "/page",
            axum::routing::get(|tpl: phial_core::Templates| async move {
                tpl.render("assets/page.html", ())
            }),
        );
        app.nest("/assets", nested);
        app.template_source(
            "assets/page.html",
            "<p>{{ url_for('assets.static', filename='admin.css') }}</p>",
        );
        app.static_embedded("assets.static", "/assets/static", FILES);
        app.layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            http::HeaderName::from_static("x-assets"),
            http::HeaderValue::from_static("1"),
        ));
        Ok(())
    }
}

#[tokio::test]
async fn extensions_contribute_routers_layers_templates_and_static_assets() {
    let app = App::builder(Config::testing())
        .register(Assets)
        .route("/", get(|| async { "home" }))
        .build()
        .await
        .unwrap();
    let client = app.test_client();
    let page = client.get("/assets/page").send().await;
    assert_eq!(page.status(), 200, "{}", page.text());
    assert_eq!(page.text(), "<p>/assets/static/admin.css</p>");
    assert_eq!(page.header("x-assets"), Some("1"));
    // The layer wraps routes added by anyone.
    assert_eq!(client.get("/").send().await.header("x-assets"), Some("1"));
    let css = client.get("/assets/static/admin.css").send().await;
    assert_eq!(css.text(), "body{}");
    assert_eq!(css.header("content-type"), Some("text/css"));
    let etag = css.header("etag").unwrap().to_owned();
    let again = client
        .get("/assets/static/admin.css")
        .header("if-none-match", &etag)
        .send()
        .await;
    assert_eq!(again.status(), 304);
    let sources: Vec<_> = app
        .state()
        .routes()
        .iter()
        .map(|r| (r.path.as_str(), r.source.as_str()))
        .collect();
    assert!(
        sources.contains(&("/assets/{*rest}", "assets")),
        "{sources:?}"
    );
    assert!(
        sources.contains(&("/assets/static/{*filename}", "assets")),
        "{sources:?}"
    );
    assert!(sources.contains(&("/", "app")), "{sources:?}");
}

/// Collects `Widget`s contributed by anyone, in `finish`.
struct WidgetCollector;
struct Widget(&'static str);
struct Collected(Vec<String>);

impl Extension for WidgetCollector {
    fn name(&self) -> &str {
        "collector"
    }
    fn init_app(&self, _app: &mut AppBuilder) -> Result<(), BoxError> {
        Ok(())
    }
    fn finish(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        let items = app.take_contributions::<Widget>();
        app.insert(Collected(
            items
                .into_iter()
                .map(|(source, w)| format!("{source}:{}", w.0))
                .collect(),
        ));
        Ok(())
    }
}

struct WidgetMaker;

impl Extension for WidgetMaker {
    fn name(&self) -> &str {
        "maker"
    }
    fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        app.contribute(Widget("gear"));
        Ok(())
    }
}

#[tokio::test]
async fn collectors_gather_contributions_from_extensions_registered_after_them() {
    let app = App::builder(Config::testing())
        .register(WidgetCollector)
        .register(WidgetMaker)
        .contribute(Widget("app-own"))
        .build()
        .await
        .unwrap();
    assert_eq!(
        app.state().get::<Collected>().unwrap().0,
        ["app:app-own", "maker:gear"]
    );
}

#[tokio::test]
async fn a_provider_that_never_answers_is_bounded_like_a_hook() {
    let err = App::builder(Config::testing().set("startup_timeout_secs", 1))
        .provide(|_p| async {
            std::future::pending::<()>().await;
            Ok(Pool {
                url: "never".into(),
            })
        })
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.errors()[0],
            BuildError::StartupTimeout {
                phase: "provider",
                seconds: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn conflicting_route_patterns_are_build_errors_naming_both_sources() {
    fn posts_by_slug(app: &mut AppBuilder) -> Result<(), BoxError> {
        app.route("/posts/{slug}", get(|| async { "slug" }));
        Ok(())
    }
    let err = App::builder(Config::testing())
        .route("/posts/{id}", get(|| async { "id" }))
        .route("/posts/new", get(|| async { "new" }))
        .register(posts_by_slug)
        .build()
        .await
        .unwrap_err();
    assert_eq!(err.errors().len(), 1, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("`/posts/{slug}`")
            && text.contains("posts_by_slug")
            && text.contains("`/posts/{id}` (added by `app`)"),
        "{text}"
    );
}

#[tokio::test]
async fn a_route_needing_state_nobody_provides_is_a_build_error() {
    struct Mailer;
    let err = App::builder(Config::testing())
        .route("/send", get(|_m: Dep<Mailer>| async { "sent" }))
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("route GET /send") && err.contains("Mailer") && err.contains("provide"),
        "{err}"
    );
    // Provided late (by a provider) is provided.
    let app = App::builder(Config::testing())
        .route("/send", get(|_m: Dep<Mailer>| async { "sent" }))
        .provide(|_p| async { Ok(Mailer) })
        .build()
        .await
        .unwrap();
    assert_eq!(app.test_client().get("/send").send().await.text(), "sent");
}

#[tokio::test]
async fn two_closures_registered_in_one_factory_are_two_extensions() {
    let app = App::builder(Config::testing())
        .register(|app: &mut AppBuilder| {
            app.route("/a", get(|| async { "a" }));
            Ok(())
        })
        .register(|app: &mut AppBuilder| {
            app.route("/b", get(|| async { "b" }));
            Ok(())
        })
        .build()
        .await
        .unwrap();
    assert_eq!(app.test_client().get("/b").send().await.text(), "b");
    let names = app.state().extensions();
    assert_eq!(names.len(), 2);
    assert_ne!(names[0], names[1], "{names:?}");
}

#[tokio::test]
async fn change_listeners_get_the_app_state() {
    use phial_core::changes::Change;
    struct AuditLog(Mutex<Vec<String>>);
    fn audit(app: &mut AppBuilder) -> Result<(), BoxError> {
        app.insert(AuditLog(Mutex::new(Vec::new())));
        app.on_change("audit", |state, change| async move {
            let log = state.get::<AuditLog>().expect("the state is complete");
            log.0
                .lock()
                .unwrap()
                .push(format!("{:?} {}", change.op, change.table));
        });
        Ok(())
    }
    let app = App::builder(Config::testing())
        .register(audit)
        .build()
        .await
        .unwrap();
    app.state()
        .changes()
        .publish(Change::insert("post", [serde_json::json!(1)]))
        .await;
    let log = app.state().get::<AuditLog>().unwrap();
    assert_eq!(*log.0.lock().unwrap(), ["Insert post"]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_contribution_nobody_collects_is_a_warning() {
    struct Migration;
    fn contributes(app: &mut AppBuilder) -> Result<(), BoxError> {
        app.contribute(Migration);
        Ok(())
    }
    let (app, logs) = common::logs_of(
        App::builder(Config::testing())
            .register(contributes)
            .build(),
    )
    .await;
    app.unwrap();
    assert!(
        logs.contains("WARN") && logs.contains("Migration") && logs.contains("not collected"),
        "{logs}"
    );
}

//! The extension: the switch handlers read, the layer that answers 503,
//! the task that watches the flag file, the CLI command, the gauge and the
//! deploy finding.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use phial::DeployFinding;
use phial::axum::extract::Request;
use phial::axum::middleware::Next;
use phial::axum::response::{IntoResponse, Response};
use phial::http::{HeaderValue, StatusCode, header::RETRY_AFTER};
use phial::prelude::*;

use crate::config::{MaintenanceConfig, SECTION};
use crate::error::MaintenanceError;

/// Whether maintenance is on, for handlers (`Dep<Switch>`) and the layer.
#[derive(Clone, Default)]
pub struct Switch(Arc<AtomicBool>);

impl Switch {
    /// Whether the site is down for maintenance now.
    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The extension: `App::builder(config).register(Maintenance)`.
pub struct Maintenance;

impl Extension for Maintenance {
    fn name(&self) -> &str {
        "maintenance"
    }

    fn init_app(&self, app: &mut AppBuilder) -> Result<(), BoxError> {
        // A bad value stops the build naming the key.
        let cfg: MaintenanceConfig = app.section(SECTION)?;
        if cfg.poll_ms == 0 {
            return Err(MaintenanceError::PollZero.into());
        }
        let switch = Switch::default();
        app.insert(switch.clone());

        let core = app.core_config();
        let mut allow = vec![
            core.health.live_path.clone(),
            core.health.ready_path.clone(),
            core.metrics.path.clone(),
        ];
        allow.extend(cfg.allow.iter().cloned());
        let page = Arc::new(Page {
            switch: switch.clone(),
            allow,
            message: cfg.message.clone(),
            retry_after: HeaderValue::from(cfg.retry_after_secs),
        });
        app.layer(phial::axum::middleware::from_fn(
            move |req: Request, next: Next| {
                let page = page.clone();
                async move { page.answer(req, next).await }
            },
        ));

        // The CLI command finds the flag in the app's instance folder.
        let flag_file = cfg.flag_file.clone();
        // The flag is read when the app starts and then every `poll_ms`,
        // only by an app built to serve (not for `routes` or `config`).
        if app.serving() {
            let poll = Duration::from_millis(cfg.poll_ms);
            app.on_startup(move |state| async move {
                let flag = state.instance_path().join(&cfg.flag_file);
                let switch = state
                    .get::<Switch>()
                    .ok_or("no maintenance switch")?
                    .clone();
                switch.0.store(flag.exists(), Ordering::Relaxed);
                let watcher = tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(poll).await;
                        let on = tokio::fs::try_exists(&flag).await.unwrap_or(false);
                        if switch.0.swap(on, Ordering::Relaxed) != on {
                            if on {
                                tracing::warn!("maintenance on: pages answer 503");
                            } else {
                                tracing::info!("maintenance off: pages are served");
                            }
                        }
                    }
                });
                state
                    .get::<Watcher>()
                    .ok_or("no watcher slot")?
                    .set(watcher);
                Ok(())
            });
            app.insert(Watcher::default());
            app.on_shutdown(|state| async move {
                if let Some(w) = state.get::<Watcher>() {
                    w.stop();
                }
                Ok(())
            });
        }

        app.metrics_collector(|state| async move {
            if let Some(switch) = state.get::<Switch>() {
                phial::metrics::gauge!("maintenance_on").set(if switch.is_on() {
                    1.0
                } else {
                    0.0
                });
            }
        });
        let message_empty = cfg.message.trim().is_empty();
        app.deploy_check(move |_state| {
            if message_empty {
                vec![DeployFinding::warning(
                    "maintenance.message",
                    "is empty: visitors get a blank 503 page",
                )]
            } else {
                Vec::new()
            }
        });
        app.command(
            phial::clap::Command::new("maintenance")
                .about("Take the site down for maintenance, or bring it back")
                .arg(
                    phial::clap::Arg::new("state")
                        .value_parser(["on", "off", "status"])
                        .default_value("status"),
                ),
            move |ctx| {
                let flag = ctx.app.state().instance_path().join(&flag_file);
                async move { switch_command(ctx, flag).await }
            },
        );
        Ok(())
    }
}

async fn switch_command(ctx: phial::cli::CommandContext, flag: PathBuf) -> Result<(), BoxError> {
    let wanted = ctx
        .matches
        .get_one::<String>("state")
        .map(String::as_str)
        .unwrap_or("status");
    match wanted {
        "on" => {
            tokio::fs::write(&flag, b"on\n")
                .await
                .map_err(|e| MaintenanceError::Flag {
                    path: flag.clone(),
                    action: "write",
                    reason: e.to_string(),
                })?;
            ctx.println(format!(
                "maintenance on ({}): pages answer 503 until `maintenance off`",
                flag.display()
            ));
        }
        "off" => {
            match tokio::fs::remove_file(&flag).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(MaintenanceError::Flag {
                        path: flag.clone(),
                        action: "remove",
                        reason: e.to_string(),
                    }
                    .into());
                }
            }
            ctx.println("maintenance off: pages are served");
        }
        _ => ctx.println(if flag.exists() {
            "maintenance is on"
        } else {
            "maintenance is off"
        }),
    }
    Ok(())
}

struct Page {
    switch: Switch,
    allow: Vec<String>,
    message: String,
    retry_after: HeaderValue,
}

impl Page {
    async fn answer(&self, req: Request, next: Next) -> Response {
        let path = req.uri().path();
        if !self.switch.is_on() || self.allow.iter().any(|p| path.starts_with(p.as_str())) {
            return next.run(req).await;
        }
        let mut res =
            HttpError::new(StatusCode::SERVICE_UNAVAILABLE, self.message.clone()).into_response();
        res.headers_mut()
            .insert(RETRY_AFTER, self.retry_after.clone());
        res
    }
}

/// The flag watcher's task, aborted at shutdown.
#[derive(Default)]
struct Watcher(std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>);

impl Watcher {
    fn set(&self, task: tokio::task::JoinHandle<()>) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(task);
    }

    fn stop(&self) {
        if let Some(task) = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}

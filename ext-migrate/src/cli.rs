//! The `db` command every app binary gets with this extension.

use clap::{Arg, ArgAction, Command, value_parser};
use phial_core::cli::CommandContext;
use phial_core::{AppBuilder, BoxError};
use phial_orm::Databases;

use crate::error::MigrateError;
use crate::migrations::Migrations;

fn force() -> Arg {
    Arg::new("force")
        .long("force")
        .action(ArgAction::SetTrue)
        .help("Allow it in production")
}

pub(crate) fn register(app: &mut AppBuilder) {
    let cmd = Command::new("db")
        .about("Database migrations")
        .subcommand_required(true)
        .subcommand(
            Command::new("upgrade")
                .about("Apply pending migrations")
                .arg(
                    Arg::new("to")
                        .long("to")
                        .value_name("NAME")
                        .help("Stop after this migration"),
                ),
        )
        .subcommand(
            Command::new("downgrade")
                .about("Roll back applied migrations")
                .arg(
                    Arg::new("n")
                        .short('n')
                        .value_name("N")
                        .value_parser(value_parser!(u32))
                        .default_value("1"),
                ),
        )
        .subcommand(Command::new("status").about("List migrations, applied and pending"))
        .subcommand(
            Command::new("history").about("List applied migrations with when they were applied"),
        )
        .subcommand(
            Command::new("check")
                .about("Exit non-zero while migrations are pending (for deploy scripts)"),
        )
        .subcommand(
            Command::new("new")
                .about("Write a new migration file from a template")
                .arg(Arg::new("name").required(true).value_name("NAME"))
                .arg(
                    Arg::new("dir")
                        .long("dir")
                        .default_value("src/migrations")
                        .help("Folder, relative to the app's root"),
                ),
        )
        .subcommand(
            Command::new("fresh")
                .about("Drop every table, then apply every migration")
                .arg(force()),
        )
        .subcommand(
            Command::new("reset")
                .about("Roll back every migration")
                .arg(force()),
        );
    app.command(cmd, run);
}

async fn run(ctx: CommandContext) -> Result<(), BoxError> {
    let state = ctx.app.state().clone();
    let migrations = state
        .get::<Migrations>()
        .ok_or("the migrations were not collected")?
        .clone();
    let dbs = state
        .get::<Databases>()
        .ok_or("the Orm extension provided no databases")?
        .clone();
    let (_, url) = dbs.urls().next().ok_or("no default database")?;
    let url = url.to_owned();
    let db = dbs.default_db();
    let production = state.profile().is_production();
    let Some((sub, m)) = ctx.matches.subcommand() else {
        return Err("a `db` subcommand is required".into());
    };
    match sub {
        "upgrade" => {
            let applied = migrations
                .upgrade(&url, db, m.get_one::<String>("to").map(String::as_str))
                .await?;
            if applied.is_empty() {
                ctx.println("nothing to apply: the database is up to date");
            }
            for name in applied {
                ctx.println(format!("applied  {name}"));
            }
        }
        "downgrade" => {
            let n = *m.get_one::<u32>("n").unwrap_or(&1);
            let undone = migrations.downgrade(&url, db, n).await?;
            if undone.is_empty() {
                ctx.println("nothing to roll back");
            }
            for name in undone {
                ctx.println(format!("rolled back  {name}"));
            }
        }
        "status" => {
            for e in migrations.status(db).await? {
                ctx.println(format!(
                    "{}  {}",
                    if e.applied { "applied" } else { "pending" },
                    e.name
                ));
            }
        }
        "history" => {
            for e in migrations
                .status(db)
                .await?
                .into_iter()
                .filter(|e| e.applied)
            {
                let when = e
                    .applied_at
                    .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_else(|| "unknown time".into());
                ctx.println(format!("{when}  {}", e.name));
            }
        }
        "check" => {
            let pending = migrations.pending(db).await?;
            if !pending.is_empty() {
                return Err(format!(
                    "{} migration(s) pending ({}): run `db upgrade`",
                    pending.len(),
                    pending.join(", ")
                )
                .into());
            }
            ctx.println("up to date");
        }
        "new" => {
            let dir = state.root_path().join(
                m.get_one::<String>("dir")
                    .map(String::as_str)
                    .unwrap_or("src/migrations"),
            );
            let name = m
                .get_one::<String>("name")
                .map(String::as_str)
                .unwrap_or("");
            let path = crate::template::write(&dir, name)?;
            ctx.println(format!("wrote {}", path.display()));
            ctx.println("add it to your migrations (`mod` + `Migrate::migration(...)` or your Migrator's list), then `db upgrade`");
        }
        "fresh" | "reset" => {
            let fresh = sub == "fresh";
            if production && !m.get_flag("force") {
                return Err(MigrateError::Refused(if fresh { "fresh" } else { "reset" }).into());
            }
            migrations.wipe(&url, db, fresh).await?;
            ctx.println(if fresh {
                "dropped every table and applied every migration"
            } else {
                "rolled back every migration"
            });
        }
        other => return Err(format!("unknown `db {other}`").into()),
    }
    Ok(())
}

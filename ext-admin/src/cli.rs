//! `<app> admin create-user --username NAME [--superuser]`: the password
//! comes from standard input (one line), never from the command line where
//! other users of the machine could read it.

use std::io::BufRead;

use phial_core::BoxError;
use phial_core::clap::{Arg, ArgAction, Command};
use phial_core::cli::CommandContext;
use phial_orm::Db;

pub(crate) fn command() -> Command {
    Command::new("admin")
        .about("Manage admin users")
        .subcommand_required(true)
        .subcommand(
            Command::new("create-user")
                .about("Create an admin user; the password is read from standard input")
                .arg(
                    Arg::new("username")
                        .long("username")
                        .required(true)
                        .value_name("NAME"),
                )
                .arg(
                    Arg::new("superuser")
                        .long("superuser")
                        .action(ArgAction::SetTrue)
                        .help("Every permission, whatever the roles say"),
                ),
        )
        .subcommand(
            Command::new("create-role")
                .about("Create a role, or replace its grants")
                .arg(
                    Arg::new("name")
                        .long("name")
                        .required(true)
                        .value_name("NAME"),
                )
                .arg(
                    Arg::new("grant")
                        .long("grant")
                        .required(true)
                        .value_name("GRANTS")
                        .help("table.permission words: \"post.view post.change comment.delete\""),
                ),
        )
        .subcommand(
            Command::new("grant-role")
                .about("Give an admin user a role")
                .arg(
                    Arg::new("username")
                        .long("username")
                        .required(true)
                        .value_name("NAME"),
                )
                .arg(
                    Arg::new("role")
                        .long("role")
                        .required(true)
                        .value_name("ROLE"),
                ),
        )
}

pub(crate) async fn run(ctx: CommandContext) -> Result<(), BoxError> {
    let db = || Db::from_state(ctx.app.state()).ok_or("no database: register phial::orm::Orm");
    let arg = |args: &phial_core::clap::ArgMatches, name: &str| {
        args.get_one::<String>(name).cloned().unwrap_or_default()
    };
    match ctx.matches.subcommand() {
        Some(("create-role", args)) => {
            let role = crate::staff_roles::create_role_by(
                &db()?,
                &crate::audit_entries::Who::cli(),
                &arg(args, "name"),
                &arg(args, "grant"),
            )
            .await?;
            ctx.println(format!("role `{}`: {}", role.name, role.permissions));
            return Ok(());
        }
        Some(("grant-role", args)) => {
            let (user, role) = (arg(args, "username"), arg(args, "role"));
            crate::staff_roles::assign_role_by(
                &db()?,
                &crate::audit_entries::Who::cli(),
                &user,
                &role,
            )
            .await?;
            ctx.println(format!("`{user}` holds role `{role}`"));
            return Ok(());
        }
        _ => {}
    }
    let Some(("create-user", args)) = ctx.matches.subcommand() else {
        return Err("usage: admin create-user --username NAME [--superuser]".into());
    };
    let username = args
        .get_one::<String>("username")
        .cloned()
        .unwrap_or_default();
    let superuser = args.get_flag("superuser");
    let password = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map(|_| line)
    })
    .await??;
    let password = password.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(
            "no password on standard input: `printf '%s\\n' \"$PASSWORD\" | <app> admin \
                    create-user --username NAME`"
                .into(),
        );
    }
    let user = crate::staff_users::create_user_by(
        &db()?,
        &crate::audit_entries::Who::cli(),
        &username,
        password,
        superuser,
        &[],
    )
    .await?;
    ctx.println(format!(
        "created admin user `{}`{}",
        user.username,
        if user.is_superuser {
            " (superuser)"
        } else {
            ""
        }
    ));
    Ok(())
}

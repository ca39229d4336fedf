//! `<app> auth sign-out-everywhere --realm user --user ID`: ends every
//! sign-in of a user, on every node, and disconnects their sockets (a
//! stolen laptop, a leaked password).

use phial_core::BoxError;
use phial_core::clap::{Arg, Command};
use phial_core::cli::CommandContext;

use crate::signin::AuthCore;

pub(crate) fn command() -> Command {
    Command::new("auth")
        .about("Manage sign-ins")
        .subcommand_required(true)
        .subcommand(
            Command::new("sign-out-everywhere")
                .about(
                    "End every sign-in of a user (every browser, every node, remember-me tokens)",
                )
                .arg(
                    Arg::new("realm")
                        .long("realm")
                        .default_value("user")
                        .value_name("REALM")
                        .help("`user` (the app's users) or `staff` (the admin's)"),
                )
                .arg(
                    Arg::new("user")
                        .long("user")
                        .required(true)
                        .value_name("ID")
                        .help("the user's id (its primary key)"),
                ),
        )
}

pub(crate) async fn run(ctx: CommandContext) -> Result<(), BoxError> {
    let Some(("sign-out-everywhere", args)) = ctx.matches.subcommand() else {
        return Err("unknown auth command: see `auth --help`".into());
    };
    let arg = |name: &str| args.get_one::<String>(name).cloned().unwrap_or_default();
    let (realm_name, id) = (arg("realm"), arg("user"));
    let app = ctx.app.state();
    let core = app
        .get::<std::sync::Arc<AuthCore>>()
        .cloned()
        .ok_or("no sign-in realms: register phial::auth::Auth")?;
    let Some(realm) = core.realms.by_name(&realm_name).cloned() else {
        let known: Vec<&str> = core.realms.0.iter().map(|r| &*r.name).collect();
        return Err(format!("no realm `{realm_name}`: this app has {}", known.join(", ")).into());
    };
    if (realm.load)(app.clone(), id.clone()).await?.is_none() {
        return Err(
            format!("no user `{id}` in realm `{realm_name}`: give the id (primary key)").into(),
        );
    }
    core.end_everywhere(app, &realm, &id).await?;
    ctx.println(format!(
        "every sign-in of user `{id}` ({realm_name}) has ended, on every node"
    ));
    Ok(())
}

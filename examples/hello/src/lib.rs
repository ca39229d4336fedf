//! The `hello` example: Phial's core with no extensions. A page from a
//! template that uses `url_for`, plaintext and JSON endpoints, a guestbook
//! form with CSRF, flash messages and a session counter, an async handler
//! that awaits two things at once, and a static file.

use std::time::Duration;

use phial::prelude::*;
use serde::{Deserialize, Serialize};
use validator::Validate;

/// The app factory: every binary, test and benchmark builds the app here.
pub async fn create_app(config: Config) -> phial::Result<App> {
    Ok(App::builder(config)
        .assets(phial::assets!())
        .route("/", get(index).name("index"))
        .route("/plaintext", get(plaintext).name("plaintext"))
        .route("/json", get(json).name("json"))
        .route(
            "/guestbook",
            get(guestbook).post(sign_guestbook).name("guestbook"),
        )
        .route("/together", get(together).name("together"))
        .build()
        .await?)
}

async fn index(tpl: Templates) -> Result<Html<String>, HttpError> {
    tpl.render("index.html", context! { title => "Hello from Phial" })
}

async fn plaintext() -> &'static str {
    "Hello, World!"
}

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

async fn json() -> Json<Message> {
    Json(Message {
        message: "Hello, World!",
    })
}

/// One guestbook entry, as the form sends it.
#[derive(Debug, Deserialize, Validate)]
pub struct Entry {
    /// Who signs.
    #[validate(length(min = 1, max = 40, message = "must be 1 to 40 characters"))]
    pub name: String,
    /// What they say.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    pub message: String,
}

const ENTRIES: &str = "entries";
const VISITS: &str = "visits";

async fn guestbook(tpl: Templates, session: Session) -> Result<Html<String>, HttpError> {
    let visits: u64 = session.get(VISITS).unwrap_or(0) + 1;
    session
        .insert(VISITS, visits)
        .map_err(|e| HttpError::internal(e.to_string()))?;
    let entries: Vec<(String, String)> = session.get(ENTRIES).unwrap_or_default();
    tpl.render("guestbook.html", context! { visits, entries })
}

async fn sign_guestbook(
    session: Session,
    Valid(Form(entry)): Valid<Form<Entry>>,
) -> Result<Redirect, HttpError> {
    let mut entries: Vec<(String, String)> = session.get(ENTRIES).unwrap_or_default();
    entries.push((entry.name.clone(), entry.message));
    // Cookie sessions are small: keep the last five.
    let skip = entries.len().saturating_sub(5);
    session
        .insert(ENTRIES, &entries[skip..])
        .map_err(|e| HttpError::internal(e.to_string()))?;
    session.flash(format!("Thanks for signing, {}!", entry.name));
    Ok(Redirect::to("/guestbook"))
}

async fn fetch_weather() -> &'static str {
    tokio::time::sleep(Duration::from_millis(20)).await;
    "sunny"
}

async fn fetch_quote() -> &'static str {
    tokio::time::sleep(Duration::from_millis(20)).await;
    "Simple is better than complex."
}

/// Awaits two slow sources concurrently: the request takes as long as the
/// slower one, not the sum.
async fn together() -> Json<serde_json::Value> {
    let (weather, quote) = tokio::join!(fetch_weather(), fetch_quote());
    Json(serde_json::json!({ "weather": weather, "quote": quote }))
}

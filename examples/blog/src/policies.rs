//! Who may do what in the blog, declared once per model on `Orm` and
//! answered the same by the pages, `/api`, `/live` and the admin (the one
//! decision, `Policies::decide`):
//!
//! | | anonymous | an author (signed in at `/login`) | staff (the admin's users) | the API token |
//! |---|---|---|---|---|
//! | posts | read published | read published and their own; write their own | by grant (`post.view` reads drafts too) | everything |
//! | authors | read, without emails | read; change themselves | by grant | everything |
//! | comments | read those of posts they may read; comment on published posts | the same, and on their own drafts | by grant; a `moderator` role deletes | everything |
//!
//! Staff users write only what their roles grant (`post.change`), through
//! the admin and the API alike; superusers and the token (every scope)
//! may do everything.

use phial::orm::policy::{Action, Caller, CallerKind, Policy, Rule};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition};

use crate::entities::{author, comment, post};

/// A signed-in author's id (`phial::auth` gives the app's users their
/// record's key); 0, no author, for anything else.
pub fn author_id(caller: &Caller) -> i32 {
    match caller.kind() {
        CallerKind::User => caller.id().and_then(|id| id.parse().ok()).unwrap_or(0),
        _ => 0,
    }
}

fn is_author(caller: &Caller) -> bool {
    caller.kind() == CallerKind::User
}

/// The posts `caller` may read: published ones; an author's own drafts
/// too; every post for staff with `post.view` and the token.
fn readable_posts(caller: &Caller) -> Option<Condition> {
    let published = post::Column::Published.eq(true);
    match caller.kind() {
        CallerKind::User => Some(
            Condition::any()
                .add(published)
                .add(post::Column::AuthorId.eq(author_id(caller))),
        ),
        CallerKind::Staff | CallerKind::Token if caller.granted("post", Action::Read) => None,
        _ => Some(Condition::all().add(published)),
    }
}

/// Posts: anyone reads published posts; authors read, and write, their
/// own (a post an author creates or changes must stay theirs: another
/// author's id is a 403); staff by grant.
pub fn posts() -> Policy {
    Policy::new()
        .writes(Rule::when(is_author))
        .rows(readable_posts)
        .write_rows(|c| {
            is_author(c).then(|| Condition::all().add(post::Column::AuthorId.eq(author_id(c))))
        })
}

/// Authors: anyone reads them, but only signed-in callers see emails; an
/// author changes their own record; staff by grant.
pub fn authors() -> Policy {
    Policy::new()
        .change(Rule::when(is_author))
        .write_rows(|c| {
            is_author(c).then(|| Condition::all().add(author::Column::Id.eq(author_id(c))))
        })
        .hide(["email"], |c| !c.is_authenticated())
}

/// Comments: anyone reads the comments of posts they may read and
/// comments on published posts (an author on their own drafts too);
/// deleting takes the `comment.delete` grant or the `moderator` role;
/// staff otherwise by grant.
pub fn comments() -> Policy {
    let on_posts = |posts: Option<Condition>| {
        posts.map(|cond| {
            Condition::all().add(
                comment::Column::PostId.in_subquery(
                    Query::select()
                        .column(post::Column::Id)
                        .from(post::Entity)
                        .cond_where(cond)
                        .to_owned(),
                ),
            )
        })
    };
    Policy::new()
        .create(Rule::anyone())
        .rows(move |c| match c.kind() {
            CallerKind::Staff | CallerKind::Token if c.granted("comment", Action::Read) => None,
            _ => on_posts(readable_posts(c)),
        })
        .write_rows(move |c| match c.kind() {
            // A new comment's post must be published, or the author's own.
            CallerKind::Anonymous | CallerKind::User => on_posts(readable_posts(c)),
            CallerKind::Staff | CallerKind::Token => None,
        })
        .staff(
            Action::Delete,
            Rule::when(|c| c.granted("comment", Action::Delete) || c.has_role("moderator")),
        )
}

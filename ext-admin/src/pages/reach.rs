//! What a staff user's lists reach: the rows the one decision lets them
//! see, and how many there are, counted without ever counting a large
//! table in full.

use sea_orm::{Condition, DbErr};

use super::Ctx;
use crate::list_query::thousands;
use crate::model::AdminModel;
use phial_orm::query::{Total, count};

/// The rows this user may reach: `cond` narrowed by the one decision's
/// row filter ([`Ctx::scope`]).
pub(crate) fn scope(ctx: &Ctx, m: &dyn AdminModel, cond: Condition) -> Condition {
    ctx.scope(m, cond)
}

/// How many rows `cond` finds, as a label ("1,234", "about 2,000,000",
/// "more than 10,000") and the exact count when there is one; never a
/// full count of a large table ([`phial_orm::query::count`]), and no
/// count at all when the page shown (`page`: its offset, its rows, and
/// whether more follow) ends the list.
pub(crate) async fn total(
    ctx: &Ctx,
    m: &dyn AdminModel,
    cond: Condition,
    page: Option<(u64, u64, bool)>,
) -> Result<(Option<u64>, String), DbErr> {
    let told = page.and_then(|(offset, shown, more)| count::from_page(Some(offset), shown, more));
    let t = match told {
        Some(t) => t,
        None => {
            m.total(ctx.db.conn(), cond, ctx.reg.cfg.count_limit)
                .await?
        }
    };
    let label = match t {
        Total::Exact(n) => thousands(n),
        Total::About(n) => format!("about {}", thousands(n)),
        Total::MoreThan(n) => format!("more than {}", thousands(n)),
    };
    Ok((t.exact(), label))
}

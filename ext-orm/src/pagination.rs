//! Pagination for an app's own handlers: numbered pages with limits
//! (Flask-SQLAlchemy's `paginate`) and keyset pages for large tables (no
//! OFFSET scan). REST, the admin and CSV export page through the query
//! layer ([`crate::query`]) instead, which reads the same numbers from a
//! query string and counts the bounded way.
//!
//! ```no_run
//! use axum::extract::Query;
//! use phial_orm::{Db, Page, PageQuery};
//! # async fn doc<E: sea_orm::EntityTrait>(db: Db, Query(q): Query<PageQuery>) -> Result<(), phial_core::HttpError>
//! # where E::Model: serde::Serialize + Sync {
//! // E is a sea-orm entity, e.g. post::Entity
//! let page: Page<E::Model> = phial_orm::paginate(db.conn(), E::find(), q.checked()?).await?;
//! # Ok(()) }
//! ```

use phial_core::HttpError;
use sea_orm::sea_query::IntoValueTuple;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, ModelTrait, PaginatorTrait, Select,
};
use serde::{Deserialize, Serialize};

use crate::error::OrmError;
use crate::write::key_json;

/// Rows per page when the client does not say.
pub const DEFAULT_PER_PAGE: u64 = 20;
/// Most rows per page a client may ask for.
pub const MAX_PER_PAGE: u64 = 100;
/// The furthest row a page may start at: `OFFSET` is a signed 64-bit
/// integer on PostgreSQL and SQLite (unsigned on MySQL), and no table
/// comes near it. A page starting further is refused with a 400.
pub const MAX_OFFSET: u64 = i64::MAX as u64;

/// `?page=2&per_page=50` from the query string.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub struct PageQuery {
    /// 1-based page number.
    #[serde(default = "first_page")]
    pub page: u64,
    /// Rows per page (capped at [`MAX_PER_PAGE`]).
    #[serde(default)]
    pub per_page: Option<u64>,
}

fn first_page() -> u64 {
    1
}

impl Default for PageQuery {
    fn default() -> Self {
        PageQuery {
            page: 1,
            per_page: None,
        }
    }
}

impl PageQuery {
    /// Refuses page 0, `per_page=0` and a page that starts past
    /// [`MAX_OFFSET`] with a 400 that says so; caps `per_page` at
    /// [`MAX_PER_PAGE`]. (A page number beyond `u64` never gets here: the
    /// `Query` extractor refuses it with a 400.)
    pub fn checked(self) -> Result<Self, HttpError> {
        if self.page == 0 {
            return Err(HttpError::bad_request("`page` starts at 1")
                .with_field("page", "must be 1 or more"));
        }
        if self.per_page == Some(0) {
            return Err(HttpError::bad_request("`per_page` must be at least 1")
                .with_field("per_page", "must be 1 or more"));
        }
        if self.offset().is_none() {
            return Err(too_large(self.page, self.per_page()));
        }
        Ok(self)
    }

    /// Rows before this page, `(page - 1) × per_page` (page 0 counts as
    /// 1); `None` when that passes [`MAX_OFFSET`], `u64` included.
    pub fn offset(&self) -> Option<u64> {
        self.page
            .saturating_sub(1)
            .checked_mul(self.per_page())
            .filter(|offset| *offset <= MAX_OFFSET)
    }

    /// Rows per page after defaults and the cap.
    pub fn per_page(&self) -> u64 {
        self.per_page
            .unwrap_or(DEFAULT_PER_PAGE)
            .clamp(1, MAX_PER_PAGE)
    }
}

/// One numbered page.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// This page's number (1-based).
    pub page: u64,
    /// Rows per page.
    pub per_page: u64,
    /// Rows in all pages.
    pub total_items: u64,
    /// Number of pages.
    pub total_pages: u64,
}

impl<T> Page<T> {
    /// Whether a later page exists.
    pub fn has_next(&self) -> bool {
        self.page < self.total_pages
    }

    /// Whether an earlier page exists.
    pub fn has_prev(&self) -> bool {
        self.page > 1
    }
}

/// The last page number whose offset fits in [`MAX_OFFSET`].
fn max_page(per_page: u64) -> u64 {
    MAX_OFFSET / per_page.max(1) + 1
}

/// The 400 for a page that starts past [`MAX_OFFSET`].
pub(crate) fn too_large(page: u64, per_page: u64) -> HttpError {
    let max = max_page(per_page);
    HttpError::bad_request(format!(
        "`page` {page} is too large: with {per_page} rows per page it would start past row \
         {MAX_OFFSET}, beyond any table; pages go up to {max}"
    ))
    .with_field("page", format!("must be at most {max}"))
}

/// Fetches one numbered page of `select`. A page past the last one is
/// [`OrmError::PagePastEnd`] and a page starting past [`MAX_OFFSET`] (which
/// no database can address) is [`OrmError::PageOutOfRange`], both 400s
/// with the reason; page 1 of an empty result is an empty page.
pub async fn paginate<C, E>(
    db: &C,
    select: Select<E>,
    query: PageQuery,
) -> Result<Page<E::Model>, OrmError>
where
    C: ConnectionTrait,
    E: EntityTrait,
    E::Model: FromQueryResult + Sized + Send + Sync,
{
    let per_page = query.per_page();
    if query.offset().is_none() {
        return Err(OrmError::PageOutOfRange {
            page: query.page,
            per_page,
            max_page: max_page(per_page),
        });
    }
    let paginator = select.paginate(db, per_page);
    let totals = paginator.num_items_and_pages().await?;
    let last_page = totals.number_of_pages.max(1);
    if query.page > last_page {
        return Err(OrmError::PagePastEnd {
            page: query.page,
            last_page,
        });
    }
    // Cannot overflow: `(page - 1) × per_page` is the offset checked above.
    let items = paginator.fetch_page(query.page.saturating_sub(1)).await?;
    Ok(Page {
        items,
        page: query.page.max(1),
        per_page,
        total_items: totals.number_of_items,
        total_pages: totals.number_of_pages,
    })
}

/// One keyset page: rows after a cursor, and the cursor of the next page.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KeysetPage<T> {
    /// The rows, in cursor order.
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; `None` on the last page.
    pub next: Option<serde_json::Value>,
}

/// Fetches up to `limit` rows of `select` ordered by `column`, after the
/// value `after` (the first page when `None`). No OFFSET: each page costs
/// the same however deep it is.
pub async fn keyset<C, E, V>(
    db: &C,
    select: Select<E>,
    column: E::Column,
    after: Option<V>,
    limit: u64,
) -> Result<KeysetPage<E::Model>, OrmError>
where
    C: ConnectionTrait,
    E: EntityTrait,
    E::Model: FromQueryResult + Sized + Send + Sync,
    E::Column: ColumnTrait,
    V: IntoValueTuple,
{
    let limit = limit.clamp(1, MAX_PER_PAGE);
    let mut cursor = select.cursor_by(column);
    if let Some(after) = after {
        cursor.after(after);
    }
    let mut items = cursor.first(limit + 1).all(db).await?;
    let more = items.len() as u64 > limit;
    items.truncate(limit as usize);
    let next = if more {
        items
            .last()
            .map(|m| key_json(&m.get(column).into_value_tuple()))
    } else {
        None
    };
    Ok(KeysetPage { items, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_refusals() {
        assert_eq!(
            PageQuery {
                page: 1,
                per_page: Some(1000)
            }
            .per_page(),
            MAX_PER_PAGE
        );
        assert_eq!(PageQuery::default().per_page(), DEFAULT_PER_PAGE);
        assert!(
            PageQuery {
                page: 0,
                per_page: None
            }
            .checked()
            .is_err()
        );
        assert!(
            PageQuery {
                page: 1,
                per_page: Some(0)
            }
            .checked()
            .is_err()
        );
    }

    #[test]
    fn offsets_never_overflow() {
        let q = |page, per_page| PageQuery {
            page,
            per_page: Some(per_page),
        };
        assert_eq!(q(0, 20).offset(), Some(0));
        assert_eq!(q(3, 20).offset(), Some(40));
        // The last page a database can address, and the one after it.
        assert_eq!(q(MAX_OFFSET + 1, 1).offset(), Some(MAX_OFFSET));
        assert_eq!(q(MAX_OFFSET + 2, 1).offset(), None);
        assert_eq!(q(max_page(20), 20).offset(), Some(MAX_OFFSET / 20 * 20));
        assert_eq!(q(max_page(20) + 1, 20).offset(), None);
        // `(page - 1) × per_page` past u64.
        assert_eq!(q(u64::MAX, 100).offset(), None);
        let err = q(u64::MAX, 100).checked().unwrap_err();
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
        assert!(err.to_string().contains("too large"), "{err}");
        assert!(q(max_page(100), 100).checked().is_ok());
    }
}

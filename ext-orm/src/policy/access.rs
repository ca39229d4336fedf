//! [`Access`]: the one decision in a handler of the app's own pages, so an
//! HTML page answers what the API and the sockets answer: who is calling
//! (a `phial::auth` sign-in, as their [`Caller`]; anonymous otherwise) and
//! the policies declared on `Orm`.

use axum::extract::{FromRef, FromRequestParts};
use http::StatusCode;
use http::request::Parts;
use phial_core::{AppState, HttpError};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, Condition, EntityTrait, IntoActiveModel,
    Iterable, ModelTrait, PrimaryKeyToColumn, QueryFilter,
};

use crate::{Db, OrmError};

use super::{Action, Caller, Decision, Policies};

/// The caller of a request and the app's policies (see the module docs).
///
/// ```no_run
/// use phial_orm::policy::{Access, Action};
/// use phial_orm::Db;
/// use sea_orm::{EntityTrait, QueryFilter};
/// # mod post {
/// #     use sea_orm::entity::prelude::*;
/// #     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
/// #     #[sea_orm(table_name = "post")]
/// #     pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub published: bool }
/// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// #     pub enum Relation {}
/// #     impl ActiveModelBehavior for ActiveModel {}
/// # }
/// // A draft is not there for those the post policy hides it from.
/// async fn show(access: Access, db: Db, id: i32) -> Result<String, phial_core::HttpError> {
///     let read = access.allowed::<post::Entity>(Action::Read)?;
///     let post = post::Entity::find_by_id(id)
///         .filter(read.filter())
///         .one(db.conn())
///         .await
///         .map_err(phial_orm::OrmError::from)?
///         .ok_or_else(|| phial_core::HttpError::not_found(format!("there is no post {id}")))?;
///     Ok(format!("post {}", post.id))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Access {
    /// Who is asking.
    pub caller: Caller,
    /// Every model's policy.
    pub policies: Policies,
}

impl Access {
    /// The decision for `action` on `E`'s rows.
    pub fn decide<E: EntityTrait>(&self, action: Action) -> Decision {
        self.policies
            .decide(&self.caller, E::default().table_name(), action)
    }

    /// The decision for `action` on `E`'s rows when it allows, else the
    /// refusal: 401 for anonymous callers, 403 for others, with the reason.
    pub fn allowed<E: EntityTrait>(&self, action: Action) -> Result<Decision, HttpError> {
        let d = self.decide::<E>(action);
        if d.allowed {
            return Ok(d);
        }
        let status = if self.caller.is_authenticated() {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::UNAUTHORIZED
        };
        Err(HttpError::new(status, d.reason.unwrap_or_default()))
    }
}

impl Access {
    /// Inserts `model` if the caller may create `E`'s rows and the row, as
    /// written, is inside their write filter (checked by the database in
    /// the insert's transaction: "its post is published"); else nothing is
    /// written and the refusal (401 / 403 with the reason) is returned.
    /// What a page's form handler calls, so it answers what REST answers.
    ///
    /// ```no_run
    /// # use phial_orm::policy::Access;
    /// # async fn doc<A>(access: Access, db: phial_orm::Db, comment: A) -> Result<(), phial_core::HttpError>
    /// # where A: sea_orm::ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    /// #   <A::Entity as sea_orm::EntityTrait>::Model: sea_orm::IntoActiveModel<A> + Clone + Send + Sync,
    /// # {
    /// let saved = access.insert(&db, comment).await?;
    /// # Ok(()) }
    /// ```
    pub async fn insert<A>(
        &self,
        db: &Db,
        model: A,
    ) -> Result<<A::Entity as EntityTrait>::Model, HttpError>
    where
        A: ActiveModelTrait + ActiveModelBehavior + Send,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A> + Clone + Send + Sync,
    {
        let d = self.allowed::<A::Entity>(Action::Create)?;
        let table = sea_orm::EntityName::table_name(&A::Entity::default()).to_owned();
        db.transaction(async |tx| {
            let saved = tx.insert(model).await?;
            if let Some(rows) = &d.rows {
                let mut key = Condition::all();
                for pk in <A::Entity as EntityTrait>::PrimaryKey::iter() {
                    let col = pk.into_column();
                    key = key.add(col.eq(saved.get(col)));
                }
                let inside = <A::Entity as EntityTrait>::find()
                    .filter(key.add(rows.clone()))
                    .one(&**tx)
                    .await
                    .map_err(OrmError::from)?
                    .is_some();
                if !inside {
                    return Err(HttpError::new(
                        StatusCode::FORBIDDEN,
                        format!(
                            "you may not create a `{table}` row like this one: it would be outside \
                             the rows you may write"
                        ),
                    ));
                }
            }
            Ok(saved)
        })
        .await
    }
}

impl Decision {
    /// The rows it covers as a condition (every row: an empty one), for
    /// `.filter(..)`.
    pub fn filter(&self) -> Condition {
        self.rows.clone().unwrap_or_else(Condition::all)
    }
}

impl<S> FromRequestParts<S> for Access
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = HttpError;

    /// Resolves the request's sign-ins (a 503 when they cannot be checked,
    /// never "anonymous" for a request that carries one); the caller is
    /// the first signed-in user's (the app's users before staff).
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let who = phial_core::identity::of_request(&parts.extensions).await?;
        let caller = who
            .users()
            .iter()
            .find_map(|u| u.get::<Caller>().cloned())
            .unwrap_or_default();
        Ok(Access {
            caller,
            policies: app.get::<Policies>().cloned().unwrap_or_default(),
        })
    }
}

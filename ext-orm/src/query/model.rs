//! The one bound every surface puts on an entity it serves: REST
//! resources, the admin's model views and the query layer itself.

use sea_orm::{ActiveModelBehavior, ActiveModelTrait, EntityTrait, IntoActiveModel};

/// An entity Phial can list, show and write through any surface: any
/// sea-orm entity whose models clone and whose active model has the
/// default behaviour or your own hooks. Implemented for every such
/// entity; name it in bounds of your own generic code.
///
/// ```
/// use phial_orm::query::Model;
/// fn served<E: Model>() -> &'static str {
///     "listed, shown and written alike by REST and the admin"
/// }
/// # mod post {
/// #     use sea_orm::entity::prelude::*;
/// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
/// #     #[sea_orm(table_name = "post")]
/// #     pub struct Model { #[sea_orm(primary_key)] pub id: i32 }
/// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// #     pub enum Relation {}
/// #     impl ActiveModelBehavior for ActiveModel {}
/// # }
/// assert!(!served::<post::Entity>().is_empty());
/// ```
pub trait Model:
    EntityTrait<
        Model: IntoActiveModel<<Self as EntityTrait>::ActiveModel> + Clone + Send + Sync,
        ActiveModel: ActiveModelTrait<Entity = Self> + ActiveModelBehavior + Send + Sync,
    > + Sync
{
}

impl<E> Model for E where
    E: EntityTrait<
            Model: IntoActiveModel<<E as EntityTrait>::ActiveModel> + Clone + Send + Sync,
            ActiveModel: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send + Sync,
        > + Sync
{
}

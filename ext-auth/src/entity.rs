//! A realm over a sea-orm entity (`Auth::<author::Entity>::new()`): the
//! user is the entity's model, loaded by its primary key and found by the
//! name column; the password hash, the display name and the active flag
//! are columns too, named or guessed from the model's metadata.

use std::any::TypeId;
use std::sync::Arc;

use phial_core::{AppState, BoxError};
use phial_orm::Db;
use phial_orm::meta::json::{json_to_value, value_to_json};
use phial_orm::meta::{FieldKind, ModelMeta, query::column};
use phial_orm::policy::Caller;
use sea_orm::{ColumnTrait, EntityTrait, ModelTrait, QueryFilter, Value};

use crate::realm::{AnyUser, Loaded, Realm};

/// Which columns mean what (guessed when not named).
#[derive(Debug, Clone, Default)]
pub(crate) struct Columns {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) display: Option<String>,
    pub(crate) active: Option<String>,
}

fn pick(meta: &ModelMeta, named: &Option<String>, guesses: &[&str]) -> Option<String> {
    match named {
        Some(n) => meta.field(n).map(|f| f.name.clone()),
        None => guesses
            .iter()
            .find_map(|g| meta.field(g).map(|f| f.name.clone())),
    }
}

/// The columns of `E` resolved, or what the app must say.
struct Resolved {
    pk: String,
    pk_kind: FieldKind,
    username: String,
    password: String,
    display: String,
    active: Option<String>,
}

fn resolve<E: EntityTrait>(cols: &Columns) -> Result<Resolved, String> {
    let meta = ModelMeta::of::<E>();
    let who = std::any::type_name::<E>();
    let [pk] = meta.primary_key.as_slice() else {
        return Err(format!(
            "`Auth::<{who}>` needs a single-column primary key: sign-ins keep the user's id"
        ));
    };
    let pk_kind = meta.field(pk).map(|f| f.kind).unwrap_or(FieldKind::Other);
    let missing = |what: &str, call: &str| {
        format!("`Auth::<{who}>`: no column for the {what}: name it with `.{call}(\"column\")`")
    };
    let username = pick(
        &meta,
        &cols.username,
        &["username", "email", "login", "name"],
    )
    .ok_or_else(|| missing("user name", "username"))?;
    let password = pick(&meta, &cols.password, &["password_hash", "password"])
        .ok_or_else(|| missing("password hash", "password"))?;
    let display = pick(&meta, &cols.display, &["name", "username", "email"])
        .unwrap_or_else(|| username.clone());
    let active = match &cols.active {
        Some(n) => Some(
            meta.field(n)
                .map(|f| f.name.clone())
                .ok_or_else(|| format!("`Auth::<{who}>`: no column `{n}` for `.active(..)`"))?,
        ),
        None => pick(&meta, &None, &["is_active", "active"]),
    };
    Ok(Resolved {
        pk: pk.clone(),
        pk_kind,
        username,
        password,
        display,
        active,
    })
}

fn text_of(v: &Value) -> String {
    match value_to_json(v) {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn db(app: &AppState) -> Result<Db, BoxError> {
    Db::from_state(app).ok_or_else(|| "phial::auth needs the Orm extension: register it".into())
}

/// A realm of `E`'s model.
pub(crate) fn realm<E>(name: &str, login_url: &str, cols: &Columns) -> Result<Realm, String>
where
    E: EntityTrait,
    E::Model: Clone + Send + Sync + 'static,
{
    let r = Arc::new(resolve::<E>(cols)?);
    let pk_col = column::<E>(&r.pk).ok_or("the primary key is no column")?;
    let name_col = column::<E>(&r.username).ok_or("the user name is no column")?;
    let pk_field = ModelMeta::of::<E>()
        .field(&r.pk)
        .cloned()
        .ok_or("the primary key has no metadata")?;
    let pk_kind = r.pk_kind;
    let load = Arc::new(move |app: AppState, id: String| {
        let pk_field = pk_field.clone();
        let fut: futures_util::future::BoxFuture<'static, Result<Option<AnyUser>, BoxError>> =
            Box::pin(async move {
                let json = match pk_kind {
                    FieldKind::Integer => match id.parse::<i64>() {
                        Ok(n) => serde_json::json!(n),
                        Err(_) => return Ok(None),
                    },
                    _ => serde_json::Value::String(id),
                };
                let Ok(value) = json_to_value(&pk_field, pk_col.def().get_column_type(), &json)
                else {
                    return Ok(None);
                };
                let db = db(&app)?;
                let found = E::find().filter(pk_col.eq(value)).one(db.conn()).await?;
                Ok(found.map(|m| Arc::new(m) as AnyUser))
            });
        fut
    });
    let find = Arc::new(move |app: AppState, name: String| {
        let fut: futures_util::future::BoxFuture<'static, Result<Option<AnyUser>, BoxError>> =
            Box::pin(async move {
                let db = db(&app)?;
                let found = E::find().filter(name_col.eq(name)).one(db.conn()).await?;
                Ok(found.map(|m| Arc::new(m) as AnyUser))
            });
        fut
    });
    let view_cols = r.clone();
    let view = Arc::new(move |any: &AnyUser| {
        let m = any.downcast_ref::<E::Model>()?;
        let get = |name: &str| column::<E>(name).map(|c| m.get(c));
        let id = text_of(&get(&view_cols.pk)?);
        let active = match &view_cols.active {
            Some(c) => matches!(get(c), Some(Value::Bool(Some(true)))),
            None => true,
        };
        Some(Loaded {
            caller: Caller::user(id.clone()),
            id,
            name: text_of(&get(&view_cols.display)?),
            password_hash: text_of(&get(&view_cols.password)?),
            active,
        })
    });
    Ok(Realm {
        name: name.into(),
        user_type: TypeId::of::<E::Model>(),
        user_type_name: std::any::type_name::<E::Model>(),
        load,
        find: Some(find),
        view,
        login_url: login_url.to_owned(),
        idle: None,
        table: Some(E::default().table_name().to_owned()),
    })
}

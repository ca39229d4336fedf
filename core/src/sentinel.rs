//! Routes whose extractors need state nobody provides are refused when the
//! app is built, as Rocket's sentinels refuse them at launch: a handler
//! that takes `Db` in an app without `Orm` is a build error naming the
//! route and the extension to register, not a 500 on every request.
//!
//! Each handler's extractor types are known when it is routed (axum's
//! `Handler<T, S>` names them in `T`). An extractor crate declares, with
//! [`sentinel!`](crate::sentinel!), which state type its extractor needs;
//! [`Dep<T>`](crate::Dep) needs `T` itself. `Option<Db>` asks for nothing.
//! Routes added as plain axum routers (`nest`) are not checked.

use std::any::TypeId;

use crate::builder::AppBuilder;
use crate::error::BuildError;
use crate::state::Dep;

/// An extractor that needs a value in the app state, declared with
/// [`sentinel!`](crate::sentinel!).
#[derive(Debug)]
pub struct Sentinel {
    extractor: fn() -> &'static str,
    requires: fn() -> TypeId,
    hint: &'static str,
}

impl Sentinel {
    /// Used by [`sentinel!`](crate::sentinel!).
    #[doc(hidden)]
    pub const fn new(
        extractor: fn() -> &'static str,
        requires: fn() -> TypeId,
        hint: &'static str,
    ) -> Self {
        Sentinel {
            extractor,
            requires,
            hint,
        }
    }
}

inventory::collect!(Sentinel);

/// Declares that handlers taking the extractor `$extractor` need a value
/// of type `$state` in the app state; `$hint` says what to register. A
/// route using it in an app without that value is a build error.
///
/// ```
/// pub struct Pool;
/// pub struct Conn;
/// # impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Conn {
/// #     type Rejection = phial_core::HttpError;
/// #     async fn from_request_parts(_: &mut http::request::Parts, _: &S) -> Result<Self, Self::Rejection> { Ok(Conn) }
/// # }
/// phial_core::sentinel!(Conn, requires Pool, "the `Pool` extension: `.register(Pool::new())`");
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use phial_core::{App, Config, routing::get};
/// let err = App::builder(Config::testing())
///     .route("/", get(|_c: Conn| async { "hi" }))
///     .build()
///     .await
///     .unwrap_err();
/// assert!(err.to_string().contains("`.register(Pool::new())`"));
/// # }
/// ```
#[macro_export]
macro_rules! sentinel {
    ($extractor:ty, requires $state:ty, $hint:expr $(,)?) => {
        $crate::__private::inventory::submit! {
            $crate::Sentinel::new(
                || ::core::any::type_name::<$extractor>(),
                || ::core::any::TypeId::of::<$state>(),
                $hint,
            )
        }
    };
}

/// Declares `Type` an extractor that takes itself (a clone) from the app
/// state, with its sentinel: a route asking for it in an app without the
/// extension fails to build, and the hint names the extension and how to
/// register it, in one format for every extension.
///
/// ```
/// #[derive(Clone)]
/// pub struct Mailer;
/// phial_core::state_extractor!(Mailer, extension "Mail", register "phial_mail::Mail::new()");
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use phial_core::{App, Config, routing::get};
/// let err = App::builder(Config::testing())
///     .route("/", get(|_m: Mailer| async { "sent" }))
///     .build()
///     .await
///     .unwrap_err();
/// assert!(err.to_string().contains("the `Mail` extension: `.register(phial_mail::Mail::new())`"));
/// # }
/// ```
#[macro_export]
macro_rules! state_extractor {
    ($ty:ty, extension $ext:literal, register $register:literal $(,)?) => {
        $crate::sentinel!(
            $ty,
            requires $ty,
            concat!("the `", $ext, "` extension: `.register(", $register, ")`")
        );

        impl<S> $crate::__private::axum::extract::FromRequestParts<S> for $ty
        where
            $crate::AppState: $crate::__private::axum::extract::FromRef<S>,
            S: Send + Sync,
        {
            type Rejection = $crate::HttpError;

            async fn from_request_parts(
                _parts: &mut $crate::__private::http::request::Parts,
                state: &S,
            ) -> Result<Self, Self::Rejection> {
                <$crate::AppState as $crate::__private::axum::extract::FromRef<S>>::from_ref(state)
                    .get::<$ty>()
                    .cloned()
                    .ok_or_else(|| {
                        $crate::missing_state(concat!(
                            stringify!($ty),
                            " (the `",
                            $ext,
                            "` extension: `.register(",
                            $register,
                            ")`)"
                        ))
                    })
            }
        }
    };
}

/// Checks every route's extractors against the state the providers made.
pub(crate) fn check_routes(b: &mut AppBuilder) {
    let dep_prefix = dep_prefix();
    let sentinels: Vec<&Sentinel> = inventory::iter::<Sentinel>.into_iter().collect();
    let mut errors = Vec::new();
    for route in &b.routes {
        for tuple in &route.extractors {
            for ty in tuple_elements(tuple) {
                let missing = if let Some(inner) = ty
                    .strip_prefix(dep_prefix)
                    .and_then(|r| r.strip_suffix('>'))
                {
                    (!b.values.contains_name(inner)).then(|| {
                        format!(
                            "a `{inner}` in the app state: register the extension that provides it, \
                             or call `AppBuilder::insert` / `provide`"
                        )
                    })
                } else {
                    sentinels
                        .iter()
                        .find(|s| (s.extractor)() == ty)
                        .filter(|s| !b.values.contains_id((s.requires)()))
                        .map(|s| s.hint.to_owned())
                };
                if let Some(hint) = missing {
                    errors.push(BuildError::MissingState {
                        route: format!("{} {}", route.methods_label(), route.path),
                        source_name: route.source.clone(),
                        extractor: ty.to_owned(),
                        hint,
                    });
                }
            }
        }
    }
    b.errors.extend(errors);
}

/// `phial_core::state::Dep<` as the compiler spells it.
fn dep_prefix() -> &'static str {
    let name = std::any::type_name::<Dep<()>>();
    name.strip_suffix("()>").unwrap_or(name)
}

/// The elements of a tuple's type name, nested tuples flattened (a
/// wrapping handler such as the response cache adds its own marker):
/// `(A, B<C, D>, (E, F))` gives `A`, `B<C, D>`, `E`, `F`.
fn tuple_elements(name: &str) -> Vec<&str> {
    let Some(inner) = name.strip_prefix('(').and_then(|n| n.strip_suffix(')')) else {
        return vec![name];
    };
    if inner.is_empty() {
        return vec![name];
    }
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                out.extend(tuple_elements(inner[start..i].trim()));
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = inner[start..].trim();
    if !last.is_empty() {
        out.extend(tuple_elements(last));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuple_names_split_at_the_top_level_only() {
        assert_eq!(
            tuple_elements("(a::M, b::Db, c::Path<(i64, String)>, d::Map<K, V>)"),
            vec!["a::M", "b::Db", "c::Path<(i64, String)>", "d::Map<K, V>"]
        );
        assert_eq!(tuple_elements("((),)"), vec!["()"]);
        assert_eq!(
            tuple_elements("(x::Cached, (a::M, b::Db))"),
            vec!["x::Cached", "a::M", "b::Db"]
        );
    }

    #[test]
    fn the_dep_prefix_is_the_type_path() {
        assert!(dep_prefix().ends_with("Dep<"), "{}", dep_prefix());
    }
}

//! Phial's `context!`: minijinja's, taking any `Serialize` value.

/// Builds a template context from `name => value` pairs, or a bare `name`
/// for a variable of that name. Unlike minijinja's macro of the same name,
/// any `serde::Serialize` value goes in: sea-orm models, form structs,
/// [`FormErrors`](crate::FormErrors), vectors of them.
///
/// ```
/// #[derive(serde::Serialize)]
/// struct Bookmark { url: String }
/// let bookmarks = vec![Bookmark { url: "https://example.com".into() }];
/// let ctx = phial_core::context! { bookmarks, title => "Saved" };
/// let env = minijinja::Environment::new();
/// let out = env
///     .render_str("{{ title }}: {{ bookmarks[0].url }}", ctx)
///     .unwrap();
/// assert_eq!(out, "Saved: https://example.com");
/// ```
#[macro_export]
macro_rules! context {
    () => {
        $crate::minijinja::Value::from($crate::minijinja::value::Serde(
            &::std::collections::BTreeMap::<&'static str, ()>::new(),
        ))
    };
    ($($key:ident $(=> $value:expr)?),+ $(,)?) => {{
        let mut map = ::std::collections::BTreeMap::<&'static str, $crate::minijinja::Value>::new();
        $( $crate::__context_pair!(map, $key $(=> $value)?); )+
        $crate::minijinja::Value::from($crate::minijinja::value::Serde(&map))
    }};
}

/// One `context!` entry; not part of the API.
#[doc(hidden)]
#[macro_export]
macro_rules! __context_pair {
    ($map:ident, $key:ident => $value:expr) => {
        $map.insert(
            stringify!($key),
            $crate::minijinja::Value::from($crate::minijinja::value::Serde(&$value)),
        );
    };
    ($map:ident, $key:ident) => {
        $map.insert(
            stringify!($key),
            $crate::minijinja::Value::from($crate::minijinja::value::Serde(&$key)),
        );
    };
}

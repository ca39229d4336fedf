//! Links to the same list with some parameters changed: pages, sorts and
//! cleared filters keep every other parameter as the client gave it.

/// `path` with `pairs`, less `drop`, with `set` replacing or adding.
///
/// ```
/// use phial_orm::query::link;
/// let pairs = vec![("rank__ge".to_owned(), "3".to_owned()), ("page".to_owned(), "2".to_owned())];
/// assert_eq!(link("/api/posts", &pairs, &[("page", "3".into())], &[]), "/api/posts?rank__ge=3&page=3");
/// assert_eq!(link("", &pairs, &[], &["page", "rank__ge"]), "");
/// ```
pub fn link(
    path: &str,
    pairs: &[(String, String)],
    set: &[(&str, String)],
    drop: &[&str],
) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !drop.contains(&k.as_str()) && !set.iter().any(|(s, _)| s == k) {
            out.append_pair(k, v);
        }
    }
    for (k, v) in set {
        out.append_pair(k, v);
    }
    let query = out.finish();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

//! Paths claimed so far, checked the way axum's router (matchit) checks
//! them, so a conflict (`/posts/{id}` beside `/posts/{slug}`) is a build
//! error naming both routes instead of a panic inside the builder.

use crate::error::BuildError;

#[derive(Default)]
pub(crate) struct RouteTable {
    matcher: matchit::Router<usize>,
    /// Path and who claimed it, by the index stored in the matcher.
    claimed: Vec<(String, String)>,
}

impl RouteTable {
    /// Claims `path` for `source`. The same path again is fine (axum merges
    /// the methods; clashing methods are checked by the caller).
    pub(crate) fn claim(&mut self, path: &str, source: &str) -> Result<(), BuildError> {
        if self.claimed.iter().any(|(p, _)| p == path) {
            return Ok(());
        }
        match self.matcher.insert(path, self.claimed.len()) {
            Ok(()) => {
                self.claimed.push((path.to_owned(), source.to_owned()));
                Ok(())
            }
            Err(matchit::InsertError::Conflict { with }) => {
                let other_source = self
                    .claimed
                    .iter()
                    .find(|(p, _)| *p == with)
                    .map(|(_, s)| s.clone())
                    .unwrap_or_else(|| "?".into());
                Err(BuildError::RouteConflict {
                    path: path.to_owned(),
                    source_name: source.to_owned(),
                    other: with,
                    other_source,
                    reason: "a request could match both; use the same parameter name in both \
                             paths, or make one path static"
                        .into(),
                })
            }
            Err(e) => Err(BuildError::Extension {
                extension: source.to_owned(),
                phase: "routing",
                source: format!("route path `{path}` is not valid: {e}").into(),
            }),
        }
    }
}

/// Runs an axum router call that panics on routes it refuses (the table
/// above catches the known cases first), turning the panic into an error.
/// The router is lost then, which is fine: the app will not build.
pub(crate) fn guarded_route<R>(router: R, add: impl FnOnce(R) -> R) -> Result<R, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| add(router)))
        .map_err(|panic| crate::error_page::panic_message(panic.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn different_parameter_names_in_one_place_conflict_and_name_both() {
        let mut t = RouteTable::default();
        t.claim("/posts/{id}", "app").unwrap();
        t.claim("/posts/new", "admin").unwrap();
        t.claim("/posts/{id}", "app").unwrap();
        let err = t.claim("/posts/{slug}", "blog").unwrap_err().to_string();
        assert!(
            err.contains("/posts/{slug}")
                && err.contains("blog")
                && err.contains("/posts/{id}")
                && err.contains("`app`"),
            "{err}"
        );
    }
}

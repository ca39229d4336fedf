//! What can stop the REST extension from being mounted: each message says
//! what to change. (Requests answer with [`Problem`](crate::Problem)s.)

/// Why [`Rest`](crate::Rest) could not be mounted.
///
/// ```
/// use phial_rest::RestError;
/// let e = RestError::Prefix("api".into());
/// assert!(e.to_string().contains("must start with `/`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestError {
    /// `rest.prefix` is not a path.
    #[error(
        "config key `rest.prefix` must start with `/` (it is `{0}`): set it to a path such as `/api`"
    )]
    Prefix(String),
    /// Resources that name what their entity does not have (fields to
    /// filter, sort or search by, a path taken twice).
    #[error("{}", .0.join("; "))]
    Resources(Vec<String>),
}

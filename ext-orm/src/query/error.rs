//! Why a list's query string was refused: always the client's to fix, so
//! every surface answers it with a 400 that names the parameter.

/// A query string the list cannot run, with the parameter it is about.
///
/// ```
/// use phial_orm::query::QueryError;
/// let e = QueryError::new("page", "`page` counts from 1");
/// assert_eq!(e.param(), "page");
/// assert_eq!(e.to_string(), "`page` counts from 1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A parameter whose name, operator or value this list cannot take;
    /// the message says what it can take.
    #[error("{message}")]
    Parameter {
        /// The parameter as the client wrote it (`rank__ge`, `page`).
        param: String,
        /// What is wrong and what would be right.
        message: String,
    },
}

impl QueryError {
    /// A refusal of `param` with a message that says what to send instead.
    pub fn new(param: impl Into<String>, message: impl Into<String>) -> Self {
        QueryError::Parameter {
            param: param.into(),
            message: message.into(),
        }
    }

    /// The parameter refused.
    pub fn param(&self) -> &str {
        match self {
            QueryError::Parameter { param, .. } => param,
        }
    }

    /// The reason, for the client.
    pub fn message(&self) -> &str {
        match self {
            QueryError::Parameter { message, .. } => message,
        }
    }
}

impl From<QueryError> for phial_core::HttpError {
    fn from(e: QueryError) -> Self {
        let field = e.param().to_owned();
        phial_core::HttpError::bad_request(e.message().to_owned())
            .with_field(field, e.message().to_owned())
    }
}

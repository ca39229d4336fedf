//! The three profiles Flask users know, chosen by `PHIAL_ENV`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which defaults apply: `development` (debug pages, template reload),
/// `testing`, or `production` (a real secret key required, HSTS, secure
/// cookies). Chosen by `PHIAL_ENV`; `development` when unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Local development: the default.
    #[default]
    Development,
    /// Automated tests.
    Testing,
    /// A deployed app.
    Production,
}

impl Profile {
    /// The profile's name as `PHIAL_ENV` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Development => "development",
            Profile::Testing => "testing",
            Profile::Production => "production",
        }
    }

    /// Whether this is `production`.
    pub fn is_production(self) -> bool {
        self == Profile::Production
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `PHIAL_ENV` held something other than the three profile names.
#[derive(Debug, Clone, thiserror::Error)]
#[error("PHIAL_ENV is `{0}`: use `development`, `testing` or `production`")]
pub struct UnknownProfile(pub String);

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(Profile::Development),
            "testing" | "test" => Ok(Profile::Testing),
            "production" | "prod" => Ok(Profile::Production),
            _ => Err(UnknownProfile(s.to_owned())),
        }
    }
}

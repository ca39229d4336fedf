//! Layered configuration, as in Flask: built-in defaults < `phial.toml` (or
//! the file in `PHIAL_CONFIG`) < `PHIAL_*` environment variables (nested keys
//! joined with `__`) < values set in code. `PHIAL_ENV` picks the profile.
//!
//! Each extension reads its own section with [`Config::section`].
//!
//! ```
//! use phial_core::{Config, Profile};
//! let config = Config::for_profile(Profile::Testing)
//!     .set("database.url", "sqlite::memory:");
//! let url: String = config.get("database.url").unwrap();
//! assert_eq!(url, "sqlite::memory:");
//! ```

mod core_config;
mod profile;
mod redact;

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use core_config::{
    CoreConfig, CsrfConfig, DEVELOPMENT_SECRET_KEY, HealthConfig, MIN_SECRET_KEY_LEN,
    MetricsConfig, PasswordConfig, RateLimitConfig, RequestIdConfig, SameSite, SecurityConfig,
    ServerConfig, SessionConfig, StaticConfig, StoreKind, TemplatesConfig,
};
pub use profile::{Profile, UnknownProfile};
pub use redact::{REDACTED, is_secret_key, redact, redact_url};

/// The default config file, looked up in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "phial.toml";

/// Reading or decoding configuration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `PHIAL_ENV` is not a profile name.
    #[error(transparent)]
    Profile(#[from] UnknownProfile),
    /// The file named by `PHIAL_CONFIG` does not exist.
    #[error("PHIAL_CONFIG names `{0}`, which does not exist: fix the path or unset PHIAL_CONFIG")]
    MissingFile(PathBuf),
    /// A key has a value of the wrong shape (or a file does not parse).
    #[error("config key `{key}`: {message}")]
    Invalid {
        /// The key at fault (`<root>` when unknown).
        key: String,
        /// What figment found wrong.
        message: String,
    },
}

impl ConfigError {
    fn from_figment(prefix: &str, e: figment::Error) -> Self {
        // `extract_inner(prefix)` reports the prefix's own components in
        // the path too (after the field): keep only what is below it.
        let own: Vec<&str> = prefix.split('.').filter(|p| !p.is_empty()).collect();
        let mut below: Vec<&str> = e.path.iter().map(String::as_str).collect();
        if !own.is_empty() && below.ends_with(&own) {
            below.truncate(below.len() - own.len());
        }
        let path = below.join(".");
        let key = match (prefix.is_empty(), path.is_empty()) {
            (true, true) => "<root>".to_owned(),
            (true, false) => path,
            (false, true) => prefix.to_owned(),
            (false, false) => format!("{prefix}.{path}"),
        };
        let source = e
            .metadata
            .as_ref()
            .map(|m| format!(" (from {})", m.name))
            .unwrap_or_default();
        ConfigError::Invalid {
            key,
            message: format!("{}{source}", e.kind),
        }
    }

    /// The config key at fault, when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// The app's configuration: a stack of layers plus the chosen profile.
/// Cheap to clone; reading a value decodes it from the layers.
#[derive(Clone, Debug)]
pub struct Config {
    figment: Figment,
    profile: Profile,
}

impl Config {
    /// Loads every layer: the profile from `PHIAL_ENV`, defaults, the config
    /// file (`PHIAL_CONFIG` or `./phial.toml` when present) and `PHIAL_*`.
    pub fn load() -> Result<Self, ConfigError> {
        let profile = match std::env::var("PHIAL_ENV") {
            Ok(v) if !v.trim().is_empty() => v.parse()?,
            _ => Profile::Development,
        };
        Self::load_profile(profile)
    }

    /// The `testing` profile with the config file and `PHIAL_*` variables
    /// on top, whatever `PHIAL_ENV` says: for test suites that should run
    /// against what the environment names, e.g.
    /// `PHIAL_DATABASE__URL=postgres://… cargo test`. [`Config::testing`]
    /// reads no environment (a test that must not depend on the machine);
    /// the test client uses whichever config the app was built from.
    ///
    /// ```
    /// let config = phial_core::Config::testing_with_env().unwrap();
    /// assert_eq!(config.profile(), phial_core::Profile::Testing);
    /// ```
    pub fn testing_with_env() -> Result<Self, ConfigError> {
        Self::load_profile(Profile::Testing)
    }

    fn load_profile(profile: Profile) -> Result<Self, ConfigError> {
        let file = match std::env::var_os("PHIAL_CONFIG") {
            Some(path) => {
                let path = PathBuf::from(path);
                if !path.is_file() {
                    return Err(ConfigError::MissingFile(path));
                }
                Some(path)
            }
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
        };
        let mut config = Self::for_profile(profile);
        if let Some(file) = file {
            config = config.merge_file(&file);
        }
        Ok(config.merge_env())
    }

    /// Only the built-in defaults of a profile: no file, no environment.
    /// Tests start here so the machine's environment cannot leak in (see
    /// [`Config::testing_with_env`] for the opposite).
    pub fn for_profile(profile: Profile) -> Self {
        let figment = Figment::from(Serialized::defaults(CoreConfig::defaults(profile)));
        Config { figment, profile }
    }

    /// The `testing` profile's defaults.
    pub fn testing() -> Self {
        Self::for_profile(Profile::Testing)
    }

    /// Adds a TOML file as a layer above the current ones.
    pub fn merge_file(mut self, path: &Path) -> Self {
        self.figment = self.figment.merge(Toml::file(path));
        self
    }

    /// Adds `PHIAL_*` environment variables as a layer (`PHIAL_SESSION__SECURE`
    /// is `session.secure`). `PHIAL_ENV` and `PHIAL_CONFIG` are not keys.
    pub fn merge_env(mut self) -> Self {
        let env = Env::prefixed("PHIAL_")
            .split("__")
            .filter(|k| !matches!(k.as_str(), "env" | "config"));
        self.figment = self.figment.merge(env);
        self
    }

    /// Sets a value in code: the top layer. `key` may be dotted.
    pub fn set(mut self, key: &str, value: impl Serialize) -> Self {
        self.figment = self.figment.merge(Serialized::default(key, value));
        self
    }

    /// The profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// Decodes one key (dotted), e.g. `config.get::<String>("database.url")`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T, ConfigError> {
        self.figment
            .extract_inner(key)
            .map_err(|e| ConfigError::from_figment(key, e))
    }

    /// Whether a key is set in any layer.
    pub fn contains(&self, key: &str) -> bool {
        self.figment.contains(key)
    }

    /// Decodes an extension's section; missing keys take the type's
    /// `Default` (`#[serde(default)]` on the struct), a missing section is
    /// the default value.
    pub fn section<T: DeserializeOwned + Default>(&self, key: &str) -> Result<T, ConfigError> {
        if !self.figment.contains(key) {
            return Ok(T::default());
        }
        self.get(key)
    }

    /// Phial's own keys.
    pub fn core(&self) -> Result<CoreConfig, ConfigError> {
        self.figment
            .extract()
            .map_err(|e| ConfigError::from_figment("", e))
    }

    /// Every key and value, with secrets replaced by `***`.
    pub fn redacted(&self) -> Result<serde_json::Value, ConfigError> {
        self.effective(&[])
    }

    /// Every key and value with the extensions' sections as they decoded
    /// them (their defaults included), secrets replaced by `***`: what the
    /// `config` command prints.
    pub(crate) fn effective(
        &self,
        sections: &[(String, serde_json::Value)],
    ) -> Result<serde_json::Value, ConfigError> {
        let mut value: serde_json::Value = self
            .figment
            .extract()
            .map_err(|e| ConfigError::from_figment("", e))?;
        for (key, decoded) in sections {
            let slot = key.split('.').fold(&mut value, |v, part| &mut v[part]);
            // Keys the section does not know stay visible (a typo shows).
            let mut merged = decoded.clone();
            merge_over(&mut merged, slot.take());
            *slot = merged;
        }
        if let serde_json::Value::Object(map) = &mut value {
            map.insert("env".into(), self.profile.as_str().into());
        }
        redact(&mut value);
        Ok(value)
    }
}

/// Lays `top`'s keys over `base`, recursively.
fn merge_over(base: &mut serde_json::Value, top: serde_json::Value) {
    match (base, top) {
        (serde_json::Value::Object(b), serde_json::Value::Object(t)) => {
            for (k, v) in t {
                if let Some(slot) = b.get_mut(&k) {
                    merge_over(slot, v);
                } else {
                    b.insert(k, v);
                }
            }
        }
        (_, serde_json::Value::Null) => {}
        (slot, top) => *slot = top,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_layer_wins_over_defaults() {
        let c = Config::testing()
            .set("session.cookie_name", "sid")
            .set("body_limit", 10);
        let core = c.core().unwrap();
        assert_eq!(core.session.cookie_name, "sid");
        assert_eq!(core.body_limit, 10);
        assert!(core.debug, "tests see why a request failed");
    }

    #[test]
    fn file_layer_is_read_and_bad_values_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("phial.toml");
        std::fs::write(
            &file,
            "body_limit = \"lots\"\n[session]\ncookie_name = \"s\"\n",
        )
        .unwrap();
        let c = Config::testing().merge_file(&file);
        assert_eq!(c.get::<String>("session.cookie_name").unwrap(), "s");
        let err = c.core().unwrap_err();
        assert_eq!(err.key(), Some("body_limit"), "{err}");
    }

    #[test]
    fn profiles_parse_and_reject_unknown_names() {
        assert_eq!(
            "production".parse::<Profile>().unwrap(),
            Profile::Production
        );
        let err = "staging".parse::<Profile>().unwrap_err();
        assert!(err.to_string().contains("development"), "{err}");
    }

    #[test]
    fn production_defaults_are_strict() {
        let core = Config::for_profile(Profile::Production).core().unwrap();
        assert!(core.session.secure && core.security.hsts && !core.debug);
        assert_eq!(core.secret_key_problem(), Some("is not set"));
    }

    #[test]
    fn a_bad_value_in_a_section_names_its_key_once() {
        #[derive(serde::Deserialize, Default, Debug)]
        #[serde(default)]
        struct Database {
            max_connections: u32,
        }
        #[derive(serde::Deserialize, Default, Debug)]
        #[serde(default)]
        struct Bind {
            url: u32,
        }
        let c = Config::testing()
            .set("database.max_connections", "lots")
            .set("database.binds.audit.url", "x");
        let e = c.section::<Database>("database").unwrap_err();
        assert_eq!(e.key(), Some("database.max_connections"), "{e}");
        let e = c.section::<Bind>("database.binds.audit").unwrap_err();
        assert_eq!(e.key(), Some("database.binds.audit.url"), "{e}");
        let e = c.get::<u32>("database.max_connections").unwrap_err();
        assert_eq!(e.key(), Some("database.max_connections"), "{e}");
    }

    #[test]
    fn missing_section_is_default() {
        #[derive(serde::Deserialize, Default, PartialEq, Debug)]
        struct S {
            a: u32,
        }
        assert_eq!(
            Config::testing().section::<S>("nothing").unwrap(),
            S::default()
        );
    }
}

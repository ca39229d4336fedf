//! Phial's own configuration keys and their defaults per profile.
//!
//! One file: every key of the core's sections with its default per profile,
//! so the defaults read as one table.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Profile;

/// The secret used in development and testing when none is set. Production
/// refuses to start with it.
pub const DEVELOPMENT_SECRET_KEY: &str = "phial-development-key-not-secret-do-not-deploy";

/// Shortest `secret_key` accepted in production.
pub const MIN_SECRET_KEY_LEN: usize = 32;

/// Phial's core keys, read from the top level of the configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CoreConfig {
    /// The app's name: extensions derive names shared with other apps from
    /// it (the cache's key prefix and channel). Unset: the binary's name
    /// (see [`app_name`](Self::app_name)).
    pub name: Option<String>,
    /// Debug mode: 500 responses show what went wrong (a panic's message,
    /// a database error); off, they say only that the error is logged. On
    /// in development and testing (tests see why a request failed);
    /// `check --deploy` refuses it in production.
    pub debug: bool,
    /// Signs sessions and CSRF tokens (`PHIAL_SECRET_KEY`). Required in production.
    pub secret_key: Option<String>,
    /// Older keys still accepted when verifying, so a key can be rotated
    /// without logging everybody out.
    pub secret_key_fallbacks: Vec<String>,
    /// Where templates/, static/ and instance/ are looked up. Empty: the
    /// folder the app builder was given, else the working directory.
    pub root_path: Option<PathBuf>,
    /// Local state (the SQLite file by default). Relative to `root_path`.
    pub instance_path: PathBuf,
    /// Largest request body accepted, in bytes; larger ones get a 413.
    pub body_limit: usize,
    /// Run each request in a tracing span (DEBUG, target `phial::request`:
    /// method and path) whose "finished" event gives its status and time,
    /// while a subscriber wants it (development's default filter does).
    /// Every line a request logs carries its id either way.
    pub trace: bool,
    /// Turn handler panics into 500 responses instead of dropped connections.
    pub catch_panics: bool,
    /// Seconds a startup hook may take.
    pub startup_timeout_secs: u64,
    /// Seconds a shutdown hook may take; also how long in-flight requests may
    /// run after a shutdown signal.
    pub shutdown_timeout_secs: u64,
    /// The `run` command's socket.
    pub server: ServerConfig,
    /// Signed-cookie sessions.
    pub session: SessionConfig,
    /// Cross-site request forgery protection.
    pub csrf: CsrfConfig,
    /// Security headers sent with every response.
    pub security: SecurityConfig,
    /// The app's static folder.
    #[serde(rename = "static")]
    pub static_files: StaticConfig,
    /// Templates.
    pub templates: TemplatesConfig,
    /// Request ids.
    pub request_id: RequestIdConfig,
    /// `/healthz` and `/readyz`.
    pub health: HealthConfig,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// Rate limits (`limit("10/minute")`) and sign-in throttling.
    pub rate_limit: RateLimitConfig,
    /// Password hashing (`phial::password`).
    pub password: PasswordConfig,
    /// Calls from pages on other origins.
    pub cors: crate::cors::CorsConfig,
}

/// `[rate_limit]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimitConfig {
    /// Apply the app's limits at all (a benchmark may turn them off).
    pub enabled: bool,
    /// Bytes this process's counters may take (they are the counters when
    /// no shared store is set up, and the fallback when it fails); past
    /// it, keys that restrict nobody are dropped first.
    pub memory_bytes: usize,
}

/// `[password]`: scrypt takes 128 MiB for each hash it computes, so how
/// many run at once bounds the memory a burst of sign-ins can take.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordConfig {
    /// Hashes computed at once in this process (each takes 128 MiB while
    /// it runs); the default, 2, keeps them within 256 MiB.
    pub max_concurrent: usize,
    /// Hashes waiting for their turn; past it, a request that needs one is
    /// answered 503 at once.
    pub max_waiting: usize,
    /// Longest password accepted, in bytes; longer ones are refused before
    /// any hashing.
    pub max_length: usize,
}

/// `[server]`: the `run` command's listener, what it believes of proxies,
/// and how long it waits for clients.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Address `run` listens on.
    pub bind: String,
    /// Proxies (CIDRs: `10.0.0.0/8`, `127.0.0.1/32`, `::1/128`) whose
    /// `X-Forwarded-For` / `Forwarded` headers are believed. A request from
    /// any other peer is from that peer, whatever its headers say. Empty:
    /// no proxy is trusted (the binary faces clients itself).
    pub trusted_proxies: Vec<String>,
    /// Seconds a new connection has to send its first request's headers
    /// (nginx's `client_header_timeout`); a silent or trickling client is
    /// then disconnected.
    pub header_read_timeout_secs: u64,
    /// Seconds a kept-alive connection may wait, after a response, for the
    /// next request's headers (nginx's `keepalive_timeout`).
    pub keep_alive_timeout_secs: u64,
    /// Connections open at once; past it the listener stops accepting
    /// until one closes (they wait in the kernel's backlog).
    pub max_connections: usize,
    /// Connections open at once from one address (trusted proxies are not
    /// counted); past it a new one is closed at once.
    pub max_connections_per_address: usize,
    /// Seconds a shutdown drains before the listener closes: `/readyz`
    /// answers 503 and every response carries `Connection: close`, so a
    /// proxy moves to other nodes without reusing a connection this one
    /// is closing (a `PATCH` on such a connection fails, and is not
    /// retried). 3 in production, 0 otherwise.
    pub drain_secs: u64,
}

/// `[session]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionConfig {
    /// Sessions (and so flash messages and CSRF) at all; pure APIs may turn
    /// them off.
    pub enabled: bool,
    /// Cookie name.
    pub cookie_name: String,
    /// Seconds a session stays valid after it was last written.
    pub max_age_secs: u64,
    /// Send the cookie over HTTPS only. On in production.
    pub secure: bool,
    /// `Strict`, `Lax` or `None` (`None` needs `secure`).
    pub same_site: SameSite,
    /// Cookie `Domain`, if any.
    pub domain: Option<String>,
    /// Cookie `Path`.
    pub path: String,
    /// Where sign-in records live: `auto`, `cookie`, `memory`, `cache`,
    /// `database` (see `phial_core::session` and `phial::auth`).
    pub store: StoreKind,
}

/// The session cookie's `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SameSite {
    /// Sent on same-site requests only.
    #[serde(alias = "strict", alias = "STRICT")]
    Strict,
    /// Also sent on top-level navigations from other sites (the default).
    #[serde(alias = "lax", alias = "LAX")]
    Lax,
    /// Sent on every request, cross-site included; browsers accept it only
    /// on `Secure` cookies, so it needs `session.secure`.
    #[serde(alias = "none", alias = "NONE")]
    None,
}

/// `[csrf]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CsrfConfig {
    /// Check unsafe requests (POST, PUT, PATCH, DELETE) for a token.
    pub enabled: bool,
    /// Form field carrying the token.
    pub field_name: String,
    /// Header carrying the token (for scripts).
    pub header_name: String,
    /// Path prefixes that are never checked (webhooks).
    pub exempt: Vec<String>,
}

/// `[security]`: Talisman's headers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SecurityConfig {
    /// Send the headers at all.
    pub enabled: bool,
    /// `Content-Security-Policy`; empty to leave it out.
    pub content_security_policy: String,
    /// `X-Frame-Options`; empty to leave it out.
    pub frame_options: String,
    /// `X-Content-Type-Options: nosniff`.
    pub content_type_nosniff: bool,
    /// `Referrer-Policy`; empty to leave it out.
    pub referrer_policy: String,
    /// `Strict-Transport-Security`. On in production.
    pub hsts: bool,
    /// HSTS `max-age` in seconds.
    pub hsts_max_age_secs: u64,
    /// HSTS `includeSubDomains`.
    pub hsts_include_subdomains: bool,
}

/// `[static]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct StaticConfig {
    /// URL prefix.
    pub url_path: String,
    /// Folder, relative to `root_path`.
    pub folder: PathBuf,
    /// `Cache-Control: max-age`; 0 sends `no-cache`.
    pub max_age_secs: u64,
}

/// `[templates]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TemplatesConfig {
    /// Folder, relative to `root_path`.
    pub folder: PathBuf,
    /// Re-read templates when they change. On in development.
    pub auto_reload: bool,
}

/// `[request_id]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestIdConfig {
    /// Give each request an id (kept from the client when it sends a sane one).
    pub enabled: bool,
    /// Header that carries it both ways.
    pub header: String,
}

/// `[health]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthConfig {
    /// Mount the endpoints.
    pub enabled: bool,
    /// Liveness path.
    pub live_path: String,
    /// Readiness path (runs every extension's check).
    pub ready_path: String,
    /// Milliseconds each readiness check may take.
    pub check_timeout_ms: u64,
}

/// `[metrics]`: requests by route and status, and every extension's own
/// figures, in the Prometheus text format.
///
/// In production the endpoint is served only behind `token` or on its own
/// `bind` (a port the load balancer does not expose): what it shows (routes,
/// pool sizes, error rates) is for operators. `check --deploy` warns when
/// neither is set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsConfig {
    /// Record metrics and serve them.
    pub enabled: bool,
    /// Path of the endpoint.
    pub path: String,
    /// When set, a scrape must send `Authorization: Bearer <token>`
    /// (`PHIAL_METRICS__TOKEN`); others get a 401.
    pub token: Option<String>,
    /// When set, `run` serves the endpoint on this address only, beside
    /// the app's (e.g. `127.0.0.1:9100`), and the app's router leaves it
    /// out.
    pub bind: Option<String>,
}

impl MetricsConfig {
    /// Whether metrics are recorded and served: on, and outside production
    /// or behind a token or a bind of their own.
    ///
    /// ```
    /// let mut m = phial_core::MetricsConfig::default();
    /// assert!(m.served(false));
    /// assert!(!m.served(true));
    /// m.token = Some("a-long-random-token".into());
    /// assert!(m.served(true));
    /// ```
    pub fn served(&self, production: bool) -> bool {
        self.enabled && (!production || self.token_set() || self.bind_set())
    }

    /// The token, when one is set (an empty one counts as none).
    pub fn token_set(&self) -> bool {
        self.token.as_deref().is_some_and(|t| !t.trim().is_empty())
    }

    /// The separate address, when one is set.
    pub fn bind_set(&self) -> bool {
        self.bind.as_deref().is_some_and(|b| !b.trim().is_empty())
    }
}

impl CoreConfig {
    /// The built-in defaults of a profile: the lowest configuration layer.
    pub fn defaults(profile: Profile) -> Self {
        let dev = profile == Profile::Development;
        let prod = profile.is_production();
        CoreConfig {
            name: None,
            debug: !prod,
            secret_key: None,
            secret_key_fallbacks: Vec::new(),
            root_path: None,
            instance_path: PathBuf::from("instance"),
            body_limit: 2 * 1024 * 1024,
            trace: true,
            catch_panics: true,
            startup_timeout_secs: 60,
            shutdown_timeout_secs: 30,
            server: ServerConfig {
                bind: "127.0.0.1:5000".into(),
                trusted_proxies: Vec::new(),
                header_read_timeout_secs: 60,
                keep_alive_timeout_secs: 75,
                max_connections: 10_000,
                max_connections_per_address: 256,
                drain_secs: if prod { 3 } else { 0 },
            },
            session: SessionConfig {
                enabled: true,
                cookie_name: "session".into(),
                max_age_secs: 31 * 24 * 3600,
                secure: prod,
                same_site: SameSite::Lax,
                domain: None,
                path: "/".into(),
                store: StoreKind::Auto,
            },
            csrf: CsrfConfig {
                enabled: true,
                field_name: "csrf_token".into(),
                header_name: "x-csrf-token".into(),
                exempt: Vec::new(),
            },
            security: SecurityConfig {
                enabled: true,
                content_security_policy: "default-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'; form-action 'self'".into(),
                frame_options: "SAMEORIGIN".into(),
                content_type_nosniff: true,
                referrer_policy: "strict-origin-when-cross-origin".into(),
                hsts: prod,
                hsts_max_age_secs: 31_536_000,
                hsts_include_subdomains: true,
            },
            static_files: StaticConfig {
                url_path: "/static".into(),
                folder: PathBuf::from("static"),
                max_age_secs: if prod { 3600 } else { 0 },
            },
            templates: TemplatesConfig { folder: PathBuf::from("templates"), auto_reload: dev },
            request_id: RequestIdConfig { enabled: true, header: "x-request-id".into() },
            health: HealthConfig {
                enabled: true,
                live_path: "/healthz".into(),
                ready_path: "/readyz".into(),
                check_timeout_ms: 2000,
            },
            metrics: MetricsConfig {
                enabled: true,
                path: "/metrics".into(),
                token: None,
                bind: None,
            },
            rate_limit: RateLimitConfig { enabled: true, memory_bytes: 16 * 1024 * 1024 },
            password: PasswordConfig { max_concurrent: 2, max_waiting: 64, max_length: 1024 },
            cors: Default::default(),
        }
    }

    /// Why this secret key may not be used in production, if it may not.
    pub fn secret_key_problem(&self) -> Option<&'static str> {
        key_problem(self.secret_key.as_deref())
    }

    /// The first fallback key that may not be used in production, with its
    /// index and why: old keys still verify sessions, so they must be as
    /// strong as the key.
    pub fn fallback_key_problem(&self) -> Option<(usize, &'static str)> {
        self.secret_key_fallbacks
            .iter()
            .enumerate()
            .find_map(|(i, k)| key_problem(Some(k)).map(|p| (i, p)))
    }

    /// The app's name: `name` when set, else the file stem of the running
    /// binary, else `app`.
    ///
    /// ```
    /// use phial_core::Config;
    /// let core = Config::testing().set("name", "blog").core().unwrap();
    /// assert_eq!(core.app_name(), "blog");
    /// ```
    pub fn app_name(&self) -> String {
        if let Some(name) = self
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            return name.to_owned();
        }
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "app".to_owned())
    }

    /// The key that signs: the configured one, else the development default.
    pub fn effective_secret_key(&self) -> &str {
        self.secret_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .unwrap_or(DEVELOPMENT_SECRET_KEY)
    }
}

fn key_problem(key: Option<&str>) -> Option<&'static str> {
    match key {
        None | Some("") => Some("is not set"),
        Some(DEVELOPMENT_SECRET_KEY) => Some("is the development default"),
        Some(k) if k.len() < MIN_SECRET_KEY_LEN => Some("is shorter than 32 characters"),
        Some(_) => None,
    }
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self::defaults(Profile::Development)
    }
}

macro_rules! section_defaults {
    ($($ty:ident => $field:ident),* $(,)?) => {$(
        impl Default for $ty {
            fn default() -> Self {
                CoreConfig::default().$field
            }
        }
    )*};
}

section_defaults!(
    ServerConfig => server,
    SessionConfig => session,
    CsrfConfig => csrf,
    SecurityConfig => security,
    StaticConfig => static_files,
    TemplatesConfig => templates,
    RequestIdConfig => request_id,
    HealthConfig => health,
    MetricsConfig => metrics,
    RateLimitConfig => rate_limit,
    PasswordConfig => password,
);

/// `session.store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// Records where the app can keep them, when something needs them.
    Auto,
    /// No records: the cookie is the session.
    Cookie,
    /// This process.
    Memory,
    /// The cache extension's backend.
    Cache,
    /// The database (`phial::auth`'s `phial_session` table).
    Database,
}

impl StoreKind {
    /// The word in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Auto => "auto",
            StoreKind::Cookie => "cookie",
            StoreKind::Memory => "memory",
            StoreKind::Cache => "cache",
            StoreKind::Database => "database",
        }
    }
}

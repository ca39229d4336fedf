//! Rate limits (Flask-Limiter's job): `limit("10/minute")` on a route, a
//! blueprint or a REST resource, counted per client address (by default),
//! per signed-in user or by a key of your own. A request over the limit is
//! answered `429 Too Many Requests` with `Retry-After` and the `RateLimit`
//! / `RateLimit-Policy` headers (the IETF draft's structured form); every
//! answer under the limit carries the headers too.
//!
//! The counters live in the app's [`Limiter`]: in this process by default
//! (each node counts its own), in Redis when the cache extension runs on a
//! shared backend (every node counts together). A shared store that fails
//! falls back to this process's counters rather than refusing or letting
//! everything through.
//!
//! ```
//! use phial_core::rate_limit::limit;
//! use phial_core::routing::post;
//! async fn comment() -> &'static str { "thanks" }
//! let routes = post(comment).limit(limit("10/minute")).name("comment");
//! # let _ = routes;
//! ```

mod layer;
mod memory;
mod store;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use http::request::Parts;

pub use layer::RateLimitService;
pub use memory::MemoryLimitStore;
pub use store::{Backoff, Decision, DynLimitStore, LimitError, LimitStore, backoff_step, gcra};

use crate::state::AppState;

/// A number of requests per period: `"10/minute"`, `"100 per hour"`,
/// `"5/30 seconds"`.
///
/// ```
/// use phial_core::rate_limit::Rate;
/// let r: Rate = "10/minute".parse().unwrap();
/// assert_eq!((r.count(), r.period().as_secs()), (10, 60));
/// assert_eq!("5/30 seconds".parse::<Rate>().unwrap().period().as_secs(), 30);
/// assert!("ten/minute".parse::<Rate>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    count: u32,
    period: Duration,
}

impl Rate {
    /// `count` requests per `period` (both at least 1).
    pub fn new(count: u32, period: Duration) -> Result<Self, String> {
        if count == 0 {
            return Err("a rate needs at least 1 request".into());
        }
        if period < Duration::from_millis(1) || period > Duration::from_secs(366 * 24 * 3600) {
            return Err("a rate's period must be between 1 ms and a year".into());
        }
        Ok(Rate { count, period })
    }

    /// Requests allowed per period.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The period in microseconds.
    pub fn period_micros(&self) -> u64 {
        self.period.as_micros() as u64
    }

    /// Microseconds between two requests at the steady rate.
    pub fn interval_micros(&self) -> u64 {
        (self.period_micros() / u64::from(self.count)).max(1)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.period.as_secs();
        match secs {
            1 => write!(f, "{} per second", self.count),
            60 => write!(f, "{} per minute", self.count),
            3600 => write!(f, "{} per hour", self.count),
            86400 => write!(f, "{} per day", self.count),
            _ => write!(
                f,
                "{} per {} seconds",
                self.count,
                self.period.as_secs_f64()
            ),
        }
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not a rate: write `<count>/<unit>` or `<count> per <n> <unit>s` \
                 (`10/minute`, `100 per hour`, `5/30 seconds`; units: second, minute, hour, day)"
            )
        };
        let (count, period) = s
            .split_once('/')
            .or_else(|| s.split_once(" per "))
            .ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let period = period.trim();
        let (n, unit) = match period.split_once(char::is_whitespace) {
            Some((n, unit)) => (n.trim().parse::<u64>().map_err(|_| bad())?, unit.trim()),
            None => (1, period),
        };
        let unit_secs = match unit.trim_end_matches('s') {
            "second" | "sec" | "" => 1,
            "minute" | "min" | "m" => 60,
            "hour" | "h" => 3600,
            "day" | "d" => 86400,
            _ => return Err(bad()),
        };
        let secs = n.checked_mul(unit_secs).ok_or_else(bad)?;
        Rate::new(count, Duration::from_secs(secs)).map_err(|e| format!("`{s}`: {e}"))
    }
}

type KeyFn = Arc<dyn Fn(&Parts) -> Option<String> + Send + Sync>;

/// What a limit counts by.
#[derive(Clone)]
enum Key {
    /// The client's address ([`ClientAddr`](crate::ClientAddr); IPv6 by
    /// its /64, what one subscriber usually holds).
    Address,
    /// The signed-in user (any realm), else the address.
    User,
    /// The app's own key; `None` falls back to the address.
    Custom(KeyFn),
}

/// A rate limit to put on a route, a blueprint or a REST resource (see the
/// module docs). Made with [`limit`].
#[derive(Clone)]
pub struct RateLimit {
    rate: Result<Rate, String>,
    key: Key,
    scope: Option<Arc<str>>,
    methods: Vec<Method>,
    /// Counters for a limit used outside an app's middleware.
    standalone: Arc<MemoryLimitStore>,
}

impl fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("rate", &self.rate)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A limit of `rate` (`"10/minute"`) per client address. A rate that does
/// not parse is reported when the app is built, naming the route.
pub fn limit(rate: &str) -> RateLimit {
    RateLimit {
        rate: rate.parse(),
        key: Key::Address,
        scope: None,
        methods: Vec::new(),
        standalone: Arc::new(MemoryLimitStore::new(1 << 20)),
    }
}

impl RateLimit {
    /// Counts per client address (the default).
    pub fn by_address(mut self) -> Self {
        self.key = Key::Address;
        self
    }

    /// Counts per signed-in user (`phial::auth`), and per address for
    /// anonymous callers.
    pub fn by_user(mut self) -> Self {
        self.key = Key::User;
        self
    }

    /// Counts by a key of your own (an API key's id, a tenant); `None`
    /// counts by address.
    ///
    /// ```
    /// use phial_core::rate_limit::limit;
    /// let per_tenant = limit("1000/hour").by(|parts| {
    ///     parts.headers.get("x-tenant")?.to_str().ok().map(str::to_owned)
    /// });
    /// # let _ = per_tenant;
    /// ```
    pub fn by(mut self, key: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static) -> Self {
        self.key = Key::Custom(Arc::new(key));
        self
    }

    /// Names the counters: routes whose limits share a scope share their
    /// allowance. Unnamed, a route's limit is its own (its path), a
    /// blueprint's is the blueprint's.
    pub fn scope(mut self, name: impl Into<String>) -> Self {
        self.scope = Some(name.into().into());
        self
    }

    /// Counts only requests of these methods (others pass uncounted).
    pub fn methods(mut self, methods: impl IntoIterator<Item = Method>) -> Self {
        self.methods = methods.into_iter().collect();
        self
    }

    /// The parsed rate, or why it does not parse.
    pub fn rate(&self) -> Result<Rate, &str> {
        self.rate.as_ref().copied().map_err(String::as_str)
    }

    /// The same limit in `scope` unless it names its own.
    pub fn in_scope(mut self, scope: &str) -> Self {
        if self.scope.is_none() {
            self.scope = Some(scope.into());
        }
        self
    }

    fn counts(&self, method: &Method) -> bool {
        self.methods.is_empty() || self.methods.contains(method)
    }
}

/// The counter key of an address: IPv6 by its /64.
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The app's counters: the shared store when an extension provided one,
/// this process's otherwise and when the shared one fails. Cheap to clone;
/// [`Limiter::of`] finds it in the app state.
#[derive(Clone)]
pub struct Limiter {
    shared: Option<Arc<dyn DynLimitStore>>,
    local: Arc<MemoryLimitStore>,
}

/// A shared counter store for the app, put in the state by an extension
/// (the cache: `Some` on a shared backend, `None` on an in-process one).
#[derive(Clone)]
pub struct SharedLimitStore(pub Option<Arc<dyn DynLimitStore>>);

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("shared", &self.shared.as_ref().map(|s| s.kind()))
            .finish()
    }
}

impl Limiter {
    /// The app's limiter.
    pub fn of(app: &AppState) -> Limiter {
        Limiter {
            shared: app.get::<SharedLimitStore>().and_then(|s| s.0.clone()),
            local: app.0.limit_store.clone(),
        }
    }

    fn standalone(local: Arc<MemoryLimitStore>) -> Limiter {
        Limiter {
            shared: None,
            local,
        }
    }

    /// Which store counts: `memory` or the shared one's kind.
    pub fn kind(&self) -> &'static str {
        self.shared.as_ref().map_or("memory", |s| s.kind())
    }

    /// See [`LimitStore::take`].
    pub async fn take(&self, key: &str, rate: Rate, cost: u32) -> Decision {
        self.decide(|store| store.take(key, rate, cost)).await
    }

    /// See [`LimitStore::attempt`].
    pub async fn attempt(&self, key: &str, backoff: Backoff) -> Decision {
        self.decide(|store| store.attempt(key, backoff)).await
    }

    /// `ask` of the shared store, else (none, or it failed) of this
    /// process's.
    async fn decide<'a>(
        &'a self,
        ask: impl Fn(
            &'a dyn DynLimitStore,
        ) -> futures_util::future::BoxFuture<'a, Result<Decision, LimitError>>,
    ) -> Decision {
        if let Some(shared) = &self.shared {
            match ask(&**shared).await {
                Ok(d) => return d,
                Err(e) => fallback_warning(&e),
            }
        }
        // The in-process store does not fail.
        ask(&*self.local).await.unwrap_or(Decision {
            allowed: true,
            remaining: 0,
            reset: Duration::ZERO,
            retry_after: Duration::ZERO,
        })
    }

    /// See [`LimitStore::refund`]: in both stores.
    pub async fn refund(&self, key: &str) {
        if let Some(shared) = &self.shared
            && let Err(e) = shared.refund(key).await
        {
            fallback_warning(&e);
        }
        let _ = LimitStore::refund(&*self.local, key).await;
    }

    /// See [`LimitStore::forget`]: in both stores (an attempt counted
    /// locally while the shared store was down is forgotten too).
    pub async fn forget(&self, key: &str) {
        if let Some(shared) = &self.shared
            && let Err(e) = shared.forget(key).await
        {
            fallback_warning(&e);
        }
        let _ = LimitStore::forget(&*self.local, key).await;
    }
}

fn fallback_warning(e: &LimitError) {
    tracing::warn!("{e}; counting in this process until it answers again");
}

/// Whether `limit` concerns this request, and its counter key.
pub(crate) async fn counter_key(limit: &RateLimit, parts: &Parts) -> Option<String> {
    if !limit.counts(&parts.method) {
        return None;
    }
    let scope = limit.scope.as_deref().unwrap_or("-");
    let addr = || address_key(crate::ClientAddr::of(parts).0);
    let who = match &limit.key {
        Key::Address => format!("a:{}", addr()),
        Key::User => match crate::identity::of_request(&parts.extensions).await {
            Ok(id) => match id.first() {
                Some(u) => format!("u:{}:{}", u.realm(), u.id()),
                None => format!("a:{}", addr()),
            },
            Err(_) => format!("a:{}", addr()),
        },
        Key::Custom(f) => match f(parts) {
            Some(k) => format!("k:{k}"),
            None => format!("a:{}", addr()),
        },
    };
    Some(format!("rl:{scope}:{who}"))
}

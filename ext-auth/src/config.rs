//! `[auth]`: how long a sign-in lasts, when it counts as fresh, and how
//! failed passwords are slowed down.

use std::time::Duration;

/// The config section the realms share.
pub const SECTION: &str = "auth";

use phial_core::rate_limit::Backoff;
use serde::{Deserialize, Serialize};

/// `[auth]` (one section for every realm).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// Minutes without a request from the person (a page's script asking
    /// on its own does not count) after which a sign-in ends.
    pub idle_minutes: u64,
    /// Hours after which a sign-in ends whatever its use (a remembered one
    /// is then renewed from its token, not fresh).
    pub lifetime_hours: u64,
    /// Days a "remember me" token lasts.
    pub remember_days: u64,
    /// Minutes after the password was entered during which a sign-in is
    /// fresh (`fresh_login_required`).
    pub fresh_minutes: u64,
    /// Sign-in attempts for one name from one address before delays start.
    pub attempts: u32,
    /// Sign-in attempts from one address (any names) before delays start.
    pub attempts_per_address: u32,
    /// The first delay, in seconds; each later one doubles.
    pub delay_secs: u64,
    /// The longest delay, in seconds.
    pub max_delay_secs: u64,
    /// Minutes after its last attempt that a name or address is forgotten.
    pub attempts_window_minutes: u64,
    /// Longest user name accepted, in characters.
    pub max_username: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            idle_minutes: 120,
            lifetime_hours: 24,
            remember_days: 30,
            fresh_minutes: 15,
            attempts: 5,
            attempts_per_address: 5,
            delay_secs: 2,
            max_delay_secs: 900,
            attempts_window_minutes: 15,
            max_username: 254,
        }
    }
}

impl AuthConfig {
    /// A setting that cannot work, as `(key, message)`.
    pub fn check(&self) -> Option<(&'static str, String)> {
        let zero = |key: &'static str| Some((key, "must be at least 1".to_owned()));
        if self.idle_minutes == 0 {
            return zero("idle_minutes");
        }
        if self.lifetime_hours == 0 {
            return zero("lifetime_hours");
        }
        if self.remember_days == 0 {
            return zero("remember_days");
        }
        if self.attempts == 0 {
            return zero("attempts");
        }
        if self.attempts_per_address == 0 {
            return zero("attempts_per_address");
        }
        if self.max_delay_secs < self.delay_secs {
            return Some(("max_delay_secs", "must be at least delay_secs".into()));
        }
        None
    }

    pub(crate) fn idle(&self) -> Duration {
        Duration::from_secs(self.idle_minutes * 60)
    }

    pub(crate) fn lifetime(&self) -> Duration {
        Duration::from_secs(self.lifetime_hours * 3600)
    }

    pub(crate) fn remember(&self) -> Duration {
        Duration::from_secs(self.remember_days * 86400)
    }

    /// How long a user's epoch (see `record`) must outlive their records.
    pub(crate) fn epoch_ttl(&self) -> Duration {
        self.lifetime().max(self.remember()) + Duration::from_secs(86400)
    }

    fn backoff(&self, free: u32) -> Backoff {
        Backoff {
            free,
            base: Duration::from_secs(self.delay_secs.max(1)),
            max: Duration::from_secs(self.max_delay_secs.max(1)),
            window: Duration::from_secs(self.attempts_window_minutes.max(1) * 60),
        }
    }

    pub(crate) fn per_name(&self) -> Backoff {
        self.backoff(self.attempts)
    }

    pub(crate) fn per_address(&self) -> Backoff {
        self.backoff(self.attempts_per_address)
    }
}

//! What can go wrong switching maintenance: each message says what to do.

use std::path::PathBuf;

/// Why maintenance could not be set up or switched.
///
/// ```
/// use phial_maintenance::MaintenanceError;
/// assert!(MaintenanceError::PollZero.to_string().contains("maintenance.poll_ms"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MaintenanceError {
    /// `maintenance.poll_ms` is 0.
    #[error("config key `maintenance.poll_ms` is 0: give it a number of milliseconds")]
    PollZero,
    /// The flag file could not be written or removed.
    #[error("cannot {action} `{}`: {reason}; check the instance folder's permissions", path.display())]
    Flag {
        /// The flag file.
        path: PathBuf,
        /// `write` or `remove`.
        action: &'static str,
        /// The system's reason.
        reason: String,
    },
}

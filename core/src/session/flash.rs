//! Flash messages: stored in the session, shown once on the next page.

use serde::{Deserialize, Serialize};

use super::Session;

const FLASHES: &str = "_flashes";

/// One flashed message with its category (`message`, `error`, `info`...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    /// Category, for styling.
    pub category: String,
    /// The text.
    pub message: String,
}

impl Session {
    /// Flashes a message in the `message` category.
    pub fn flash(&self, message: impl Into<String>) {
        self.flash_with("message", message);
    }

    /// Flashes a message with a category.
    pub fn flash_with(&self, category: impl Into<String>, message: impl Into<String>) {
        let flash = Flash {
            category: category.into(),
            message: message.into(),
        };
        self.with_data(|data, modified| {
            let mut list: Vec<Flash> = data
                .get(FLASHES)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            list.push(flash);
            data.insert(
                FLASHES.into(),
                serde_json::to_value(list).unwrap_or_default(),
            );
            *modified = true;
        });
    }

    /// Takes the flashed messages out of the session (templates call
    /// `get_flashed_messages()`, which does this).
    pub fn take_flashes(&self) -> Vec<Flash> {
        self.with_data(|data, modified| match data.remove(FLASHES) {
            Some(v) => {
                *modified = true;
                serde_json::from_value(v).unwrap_or_default()
            }
            None => Vec::new(),
        })
    }
}

//! What the server and the NFC station agent (`outpost-station`) say to each other about badge
//! copy jobs, defined once and compiled by both, so neither side can drift from the other.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A copy as a station receives it (`GET /api/v1/stations/jobs/next`, under `job`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Job {
    pub copy_id: Uuid,
    pub badge_uid: String,
    pub customer_id: i64,
    /// Earlier tries of this copy (leases that ended without a result).
    pub attempts: i32,
}

/// Why a station could not make a copy, as it reports it (`error_category` of a result).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCategory {
    NoReader,
    NoCard,
    CardRemoved,
    WrongCard,
    AuthenticationFailed,
    WrongCardType,
    WriteFailed,
}

impl ErrorCategory {
    pub const ALL: [ErrorCategory; 7] = [
        ErrorCategory::NoReader,
        ErrorCategory::NoCard,
        ErrorCategory::CardRemoved,
        ErrorCategory::WrongCard,
        ErrorCategory::AuthenticationFailed,
        ErrorCategory::WrongCardType,
        ErrorCategory::WriteFailed,
    ];

    /// The name on the wire and in `badge_copies.error_category`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCategory::NoReader => "no_reader",
            ErrorCategory::NoCard => "no_card",
            ErrorCategory::CardRemoved => "card_removed",
            ErrorCategory::WrongCard => "wrong_card",
            ErrorCategory::AuthenticationFailed => "authentication_failed",
            ErrorCategory::WrongCardType => "wrong_card_type",
            ErrorCategory::WriteFailed => "write_failed",
        }
    }

    pub fn parse(text: &str) -> Option<ErrorCategory> {
        ErrorCategory::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCategory;

    #[test]
    fn each_category_is_named_alike_in_json_and_in_words() {
        for category in ErrorCategory::ALL {
            let json = serde_json::to_value(category).unwrap();
            assert_eq!(json, category.as_str());
            assert_eq!(ErrorCategory::parse(category.as_str()), Some(category));
        }
        assert_eq!(ErrorCategory::parse("abandoned"), None);
    }
}

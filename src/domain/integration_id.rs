use std::fmt;

use uuid::Uuid;

use super::FieldError;

/// An integration id: a UUID written as 36 lowercase hyphenated characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IntegrationId(Uuid);

impl IntegrationId {
    pub const FORMAT: &'static str = "a UUID such as 2b6c1a62-5d6b-4d7e-9b1e-0c6f1f0a2d4e";

    /// Returns a new random (version 4) id.
    pub fn generate() -> Self {
        Self(Uuid::new_v4())
    }

    /// Parses the hyphenated form in either letter case. The simple, braced and URN forms that
    /// `Uuid::parse_str` also takes are rejected, so every id has one spelling.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let invalid = || {
            let message = format!("integration_id must be {}", Self::FORMAT);
            FieldError::invalid("integration_id", message)
        };
        if value.len() != 36 {
            return Err(invalid());
        }
        Uuid::try_parse(value).map(Self).map_err(|_| invalid())
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl fmt::Display for IntegrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_hyphenated_uuid() {
        let cases = [
            ("lowercase", "2b6c1a62-5d6b-4d7e-9b1e-0c6f1f0a2d4e"),
            ("uppercase", "2B6C1A62-5D6B-4D7E-9B1E-0C6F1F0A2D4E"),
        ];
        for (label, input) in cases {
            let id = IntegrationId::parse(input).unwrap_or_else(|e| panic!("{label}: {e:?}"));
            assert_eq!(id.to_string(), input.to_ascii_lowercase(), "{label}");
        }
    }

    #[test]
    fn parse_rejects_other_forms() {
        let cases = [
            ("empty", ""),
            ("simple form", "2b6c1a625d6b4d7e9b1e0c6f1f0a2d4e"),
            ("braced", "{2b6c1a62-5d6b-4d7e-9b1e-0c6f1f0a2d4e}"),
            ("urn", "urn:uuid:2b6c1a62-5d6b-4d7e-9b1e-0c6f1f0a2d4e"),
            ("non-hex", "zb6c1a62-5d6b-4d7e-9b1e-0c6f1f0a2d4e"),
            ("misplaced hyphen", "2b6c1a625-d6b-4d7e-9b1e-0c6f1f0a2d4e"),
        ];
        for (label, input) in cases {
            assert!(IntegrationId::parse(input).is_err(), "{label} was accepted");
        }
    }

    #[test]
    fn generate_writes_lowercase_hyphenated_v4() {
        let id = IntegrationId::generate();

        let text = id.to_string();

        assert_eq!(text.len(), 36);
        assert_eq!(id.as_uuid().get_version_num(), 4);
        assert_eq!(text, text.to_ascii_lowercase());
    }
}

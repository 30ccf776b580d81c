use std::fmt;

use uuid::Uuid;

use super::FieldError;

/// A client-chosen identifier of an integration, unique within its account: 1 to 255
/// characters of printable text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReferenceId(String);

impl ReferenceId {
    pub const MAX_CHARS: usize = 255;

    /// Parses a reference id. Control characters (C0, DEL, C1) and the Unicode line and
    /// paragraph separators are rejected; any other character, `/` and spaces included, is
    /// kept exactly as given.
    // NOTE: reference ids are compared byte for byte, without Unicode normalisation, so
    // "é" written precomposed and decomposed are two different ids.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        if value.is_empty() {
            return Err(FieldError::invalid(
                "reference_id",
                "reference_id must not be empty",
            ));
        }
        if value.chars().count() > Self::MAX_CHARS {
            let message = format!(
                "reference_id must be at most {} characters",
                Self::MAX_CHARS
            );
            return Err(FieldError::invalid("reference_id", message));
        }
        if value.chars().any(is_unprintable) {
            let message = "reference_id must not contain control characters";
            return Err(FieldError::invalid("reference_id", message));
        }
        Ok(Self(value.to_owned()))
    }

    /// Returns a random UUIDv4 in text form, the reference id given to an integration created
    /// without one.
    pub fn generate() -> Self {
        Self(Uuid::new_v4().hyphenated().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_unprintable(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

impl fmt::Display for ReferenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_printable_text() {
        let max = "r".repeat(ReferenceId::MAX_CHARS);
        let max_non_ascii = "é".repeat(ReferenceId::MAX_CHARS);
        let cases = [
            ("one character", "a"),
            ("uuid", "3701e70b-5de4-4d9d-8972-f5aa994d9057"),
            ("slash and spaces", "team a/okta prod"),
            ("non-ASCII", "équipe-東京"),
            ("SQL metacharacters", "'; DROP TABLE integrations; --"),
            ("dot segments", "../.."),
            ("255 ASCII characters", max.as_str()),
            ("255 two-byte characters", max_non_ascii.as_str()),
        ];
        for (label, input) in cases {
            let id = ReferenceId::parse(input).unwrap_or_else(|e| panic!("{label}: {e:?}"));
            assert_eq!(id.as_str(), input, "{label}");
        }
    }

    #[test]
    fn parse_rejects_invalid_text() {
        let too_long = "r".repeat(ReferenceId::MAX_CHARS + 1);
        let cases = [
            ("empty", ""),
            ("256 characters", too_long.as_str()),
            ("NUL", "a\0b"),
            ("newline", "a\nb"),
            ("tab", "a\tb"),
            ("DEL", "a\u{7f}b"),
            ("C1 control", "a\u{85}b"),
            ("line separator", "a\u{2028}b"),
        ];
        for (label, input) in cases {
            assert!(ReferenceId::parse(input).is_err(), "{label} was accepted");
        }
    }

    #[test]
    fn generate_is_uuid_text() {
        let id = ReferenceId::generate();

        let parsed = Uuid::try_parse(id.as_str()).expect("generated reference id is a UUID");

        assert_eq!(parsed.get_version_num(), 4);
    }
}

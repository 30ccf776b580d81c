use std::fmt;

use super::FieldError;

/// A Cloudflare account tag: 32 hexadecimal characters, stored in lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountTag(String);

impl AccountTag {
    pub const FORMAT: &'static str = "32 hexadecimal characters";

    /// Parses an account tag in either letter case. Uppercase digits are lowered, so `ABC…`
    /// and `abc…` name the same account.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let is_valid = value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_valid {
            let message = format!("account_id must be {}", Self::FORMAT);
            return Err(FieldError::invalid("account_id", message));
        }
        Ok(Self(value.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_32_hex_characters() {
        let cases = [
            ("lowercase", "0123456789abcdef0123456789abcdef"),
            ("uppercase", "0123456789ABCDEF0123456789ABCDEF"),
        ];
        for (label, input) in cases {
            let tag = AccountTag::parse(input).unwrap_or_else(|e| panic!("{label}: {e:?}"));
            assert_eq!(tag.as_str(), input.to_ascii_lowercase(), "{label}");
        }
    }

    #[test]
    fn parse_rejects_other_forms() {
        let cases = [
            ("empty", ""),
            ("31 characters", "0123456789abcdef0123456789abcde"),
            ("33 characters", "0123456789abcdef0123456789abcdef0"),
            ("non-hex letter", "0123456789abcdef0123456789abcdeg"),
            ("uuid with hyphens", "01234567-89ab-cdef-0123-456789abcdef"),
            ("non-ASCII", "0123456789abcdef0123456789abcdé"),
            ("padded", " 0123456789abcdef0123456789abcde"),
        ];
        for (label, input) in cases {
            assert!(AccountTag::parse(input).is_err(), "{label} was accepted");
        }
    }
}

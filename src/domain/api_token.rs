//! API token values: ids, secrets and their hashes, permissions and account scopes.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::AccountTag;

/// A token's id: 32 lowercase hexadecimal characters, the form of Cloudflare's token ids.
/// It is not secret and appears in logs and in `ztrisk token list`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenId(String);

impl TokenId {
    pub const FORMAT: &'static str = "32 hexadecimal characters";

    /// Generates a random id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Parses an id in either letter case; `None` if it is not 32 hexadecimal characters.
    pub fn parse(value: &str) -> Option<Self> {
        let is_valid = value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit());
        is_valid.then(|| Self(value.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A token's permission: `Read` allows GET and HEAD requests, `Edit` allows every method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    Edit,
}

impl Permission {
    /// Returns the stored and displayed form: `read` or `edit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Edit => "edit",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "read" => Some(Self::Read),
            "edit" => Some(Self::Edit),
            _ => None,
        }
    }
}

/// The accounts a token may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountScope {
    All,
    /// Sorted and without duplicates. Empty only for a stored token whose account rows are
    /// missing, which then allows no account.
    Accounts(Vec<AccountTag>),
}

impl AccountScope {
    /// Builds a scope of the given accounts, or returns `None` if `accounts` is empty.
    pub fn accounts(mut accounts: Vec<AccountTag>) -> Option<Self> {
        accounts.sort();
        accounts.dedup();
        (!accounts.is_empty()).then_some(Self::Accounts(accounts))
    }

    pub fn allows(&self, account: &AccountTag) -> bool {
        match self {
            Self::All => true,
            Self::Accounts(accounts) => accounts.binary_search(account).is_ok(),
        }
    }
}

impl fmt::Display for AccountScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all accounts"),
            Self::Accounts(accounts) => {
                let tags: Vec<&str> = accounts.iter().map(AccountTag::as_str).collect();
                f.write_str(&tags.join(","))
            }
        }
    }
}

/// A token's secret, as sent in `Authorization: Bearer <secret>`. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(String);

impl TokenSecret {
    /// Minimum and maximum length of a secret, in characters. Cloudflare's own tokens are 40
    /// characters of this alphabet, and clients may check a token's form before sending it,
    /// so the daemon issues and accepts only secrets of this form.
    pub const MIN_LEN: usize = 40;
    pub const MAX_LEN: usize = 80;
    pub const FORMAT: &'static str = "40 to 80 characters of A-Z, a-z, 0-9, - and _";
    /// Start of every generated secret, so that secret scanners and people can recognise it.
    const PREFIX: &'static str = "ztk_";
    /// Random bytes in a generated secret: 256 bits.
    const RANDOM_BYTES: usize = 32;

    /// Generates a secret of 256 random bits from the operating system's CSPRNG, written as
    /// `ztk_` and 43 characters of unpadded base64url (47 characters in all).
    ///
    /// # Panics
    ///
    /// If the operating system cannot provide random bytes, since no safe secret can then be
    /// made.
    pub fn generate() -> Self {
        let mut bytes = [0u8; Self::RANDOM_BYTES];
        getrandom::getrandom(&mut bytes).expect("the operating system provides random bytes");
        Self(format!("{}{}", Self::PREFIX, URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Parses a secret sent by a client; `None` unless it has the form in `FORMAT`. Any
    /// secret of that form is accepted, generated here or not; only its hash is looked up.
    pub fn parse(value: &str) -> Option<Self> {
        let is_valid = (Self::MIN_LEN..=Self::MAX_LEN).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        is_valid.then(|| Self(value.to_owned()))
    }

    /// Returns the secret itself, to print once or to send. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(..)")
    }
}

/// The SHA-256 digest of a secret, which is what the database stores and lookups use. A
/// fast hash suits secrets of 256 random bits: unlike a password, such a secret cannot be
/// guessed however cheap each guess is.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// Rebuilds a stored hash; `None` unless `bytes` is 32 bytes long.
    pub fn from_stored(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_has_accepted_form() {
        let secret = TokenSecret::generate();

        assert_eq!(secret.expose().len(), 47);
        assert!(secret.expose().starts_with("ztk_"));
        assert_eq!(TokenSecret::parse(secret.expose()), Some(secret));
    }

    #[test]
    fn generated_secrets_differ() {
        let first = TokenSecret::generate();
        let second = TokenSecret::generate();

        assert_ne!(first, second);
        assert_ne!(first.hash(), second.hash());
    }

    #[test]
    fn secret_parse_accepts_token_alphabet() {
        let cases = [
            ("40 characters", "a".repeat(40)),
            ("80 characters", "Z".repeat(80)),
            ("every class", format!("{}-_09azAZ", "x".repeat(32))),
        ];
        for (label, input) in cases {
            assert!(TokenSecret::parse(&input).is_some(), "{label} was rejected");
        }
    }

    #[test]
    fn secret_parse_rejects_other_forms() {
        let cases = [
            ("empty", String::new()),
            ("39 characters", "a".repeat(39)),
            ("81 characters", "a".repeat(81)),
            (
                "space inside",
                format!("{} {}", "a".repeat(20), "b".repeat(20)),
            ),
            ("base64 plus", format!("{}+", "a".repeat(40))),
            ("base64 slash", format!("{}/", "a".repeat(40))),
            ("padding", format!("{}=", "a".repeat(40))),
            ("non-ASCII", format!("{}é", "a".repeat(40))),
        ];
        for (label, input) in cases {
            assert!(TokenSecret::parse(&input).is_none(), "{label} was accepted");
        }
    }

    #[test]
    fn secret_debug_hides_value() {
        let secret = TokenSecret::generate();

        let shown = format!("{secret:?} {:?}", secret.hash());

        assert!(!shown.contains(secret.expose()), "{shown}");
    }

    #[test]
    fn hash_is_sha256_of_secret() {
        // SHA-256 of "abc", from FIPS 180-2, appendix B.1.
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

        let hash = TokenHash::of("abc");

        let hex: String = hash.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
    }

    #[test]
    fn token_id_parse_lowers_case() {
        let id = TokenId::parse("0123456789ABCDEF0123456789ABCDEF").expect("valid id");

        assert_eq!(id.as_str(), "0123456789abcdef0123456789abcdef");
        assert!(TokenId::parse("0123").is_none());
        assert!(TokenId::parse(TokenId::generate().as_str()).is_some());
    }

    #[test]
    fn scope_allows_listed_accounts_only() {
        let listed = AccountTag::parse(&"a".repeat(32)).expect("valid tag");
        let other = AccountTag::parse(&"b".repeat(32)).expect("valid tag");

        let scope = AccountScope::accounts(vec![listed.clone(), listed.clone()]).expect("scope");

        assert!(scope.allows(&listed));
        assert!(!scope.allows(&other));
        assert!(AccountScope::All.allows(&other));
        assert!(AccountScope::accounts(Vec::new()).is_none());
        assert_eq!(scope, AccountScope::Accounts(vec![listed]));
    }
}

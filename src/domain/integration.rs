use chrono::{DateTime, Utc};

use super::{AccountTag, FieldError, IntegrationId, ReferenceId, TenantUrl};

/// The identity provider kind of an integration. Okta is the only kind Cloudflare supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrationType {
    Okta,
}

impl IntegrationType {
    /// Parses a type name in any letter case, so `okta` and `OKTA` both give `Okta`.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        if value.eq_ignore_ascii_case("okta") {
            return Ok(Self::Okta);
        }
        Err(FieldError::invalid(
            "integration_type",
            "integration_type must be \"Okta\", the only supported type",
        ))
    }

    /// The canonical name, as stored and returned.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Okta => "Okta",
        }
    }
}

/// A stored integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    pub id: IntegrationId,
    pub account_tag: AccountTag,
    pub reference_id: ReferenceId,
    pub integration_type: IntegrationType,
    pub tenant_url: TenantUrl,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// A validated create request. `into_integration` fixes the id, reference id and creation
/// time before the insert, so the response needs no read back.
#[derive(Debug, Clone)]
pub struct NewIntegration {
    pub integration_type: IntegrationType,
    pub tenant_url: TenantUrl,
    pub reference_id: Option<ReferenceId>,
    pub active: bool,
}

impl NewIntegration {
    /// Gives the request an id, a reference id where it has none, and the current time.
    pub fn into_integration(self, account_tag: AccountTag) -> Integration {
        Integration {
            id: IntegrationId::generate(),
            account_tag,
            reference_id: self.reference_id.unwrap_or_else(ReferenceId::generate),
            integration_type: self.integration_type,
            tenant_url: self.tenant_url,
            active: self.active,
            created_at: Utc::now(),
        }
    }
}

/// A validated PUT request. `None` keeps the stored value.
#[derive(Debug, Clone)]
pub struct IntegrationUpdate {
    pub tenant_url: TenantUrl,
    pub active: Option<bool>,
    pub reference_id: Option<ReferenceId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integration_type_parses_any_case() {
        for input in ["Okta", "okta", "OKTA", "oKtA"] {
            let parsed = IntegrationType::parse(input);
            assert_eq!(parsed, Ok(IntegrationType::Okta), "{input}");
        }
    }

    #[test]
    fn integration_type_rejects_others() {
        for input in ["", "AzureAD", "okta ", "Okta2"] {
            assert!(
                IntegrationType::parse(input).is_err(),
                "{input} was accepted"
            );
        }
    }
}

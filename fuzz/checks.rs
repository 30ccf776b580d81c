//! The checks behind the `request_parsing` fuzz target, shared with the regression test in
//! tests/api/fuzz_regressions.rs that replays saved inputs. The first byte of an input picks
//! the parser and the rest is fed to it: even selects the body parsers, odd the path
//! segment parsers. No parser may panic, and every value one accepts must survive a round
//! trip through its own text form.

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use ztrisk::api::{decode_reference_id, parse_create_body, parse_object, parse_update_body};
use ztrisk::domain::{AccountTag, IntegrationId, ReferenceId, TenantUrl, TenantUrlPolicy};

/// Runs the parser that the first byte of `data` selects on the rest, panicking on a fault.
pub fn check_input(data: &[u8]) {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    match selector % 2 {
        0 => check_body(input),
        _ => check_path_segment(input),
    }
}

fn check_body(body: &[u8]) {
    let Ok(object) = parse_object(body) else {
        return;
    };
    for policy in [TenantUrlPolicy::HttpsOnly, TenantUrlPolicy::AllowHttp] {
        match parse_create_body(&object, policy) {
            Ok(new) => {
                assert_reparses(new.tenant_url.as_str(), policy);
                if let Some(reference_id) = &new.reference_id {
                    assert_reference_id_reparses(reference_id);
                }
            }
            Err(error) => assert!(!error.entries().is_empty(), "{error:?} has no entries"),
        }
        match parse_update_body(&object, policy) {
            Ok(update) => {
                assert_reparses(update.tenant_url.as_str(), policy);
                if let Some(reference_id) = &update.reference_id {
                    assert_reference_id_reparses(reference_id);
                }
            }
            Err(error) => assert!(!error.entries().is_empty(), "{error:?} has no entries"),
        }
    }
}

fn check_path_segment(segment: &[u8]) {
    let Ok(segment) = std::str::from_utf8(segment) else {
        return;
    };
    if let Ok(tag) = AccountTag::parse(segment) {
        assert_eq!(tag.as_str(), segment.to_ascii_lowercase());
    }
    if let Ok(id) = IntegrationId::parse(segment) {
        assert_eq!(id.to_string(), segment.to_ascii_lowercase());
    }
    if let Ok(reference_id) = decode_reference_id(segment) {
        assert_reference_id_reparses(&reference_id);
        let encoded = utf8_percent_encode(reference_id.as_str(), NON_ALPHANUMERIC).to_string();
        let decoded = decode_reference_id(&encoded).expect("an encoded reference id decodes");
        assert_eq!(
            decoded, reference_id,
            "decoding is not the inverse of encoding"
        );
    }
}

fn assert_reparses(tenant_url: &str, policy: TenantUrlPolicy) {
    let again = TenantUrl::parse(tenant_url, policy).expect("an accepted tenant URL reparses");
    assert_eq!(again.as_str(), tenant_url);
}

fn assert_reference_id_reparses(reference_id: &ReferenceId) {
    let again = ReferenceId::parse(reference_id.as_str()).expect("an accepted id reparses");
    assert_eq!(&again, reference_id);
}

"""The official Python SDK (PyPI `cloudflare`) against a running daemon."""

import uuid
from datetime import datetime, timedelta, timezone

import cloudflare
import pytest
from cloudflare import Cloudflare

from conftest import RequestLog, token_client

TENANT_URL = "https://example.okta.com"


def test_lifecycle_through_sdk(client: Cloudflare, account: str) -> None:
    integrations = client.zero_trust.risk_scoring.integrations

    named = integrations.create(
        account_id=account,
        integration_type="Okta",
        tenant_url=TENANT_URL,
        reference_id="okta-prod",
    )
    unnamed = integrations.create(
        account_id=account, integration_type="Okta", tenant_url="https://other.okta.com"
    )
    listed = list(integrations.list(account_id=account))
    fetched = integrations.get(named.id, account_id=account)
    by_reference = integrations.references.get("okta-prod", account_id=account)
    updated = integrations.update(
        named.id,
        account_id=account,
        tenant_url="https://renamed.okta.com",
        active=False,
        reference_id="okta-renamed",
    )
    fetched_after_update = integrations.get(named.id, account_id=account)
    deleted = integrations.delete(named.id, account_id=account)
    with pytest.raises(cloudflare.NotFoundError) as after_delete:
        integrations.get(named.id, account_id=account)

    assert named.reference_id == "okta-prod"
    assert named.active is True
    assert uuid.UUID(unnamed.reference_id).version == 4
    assert [item.id for item in listed] == [named.id, unnamed.id]
    assert fetched.model_dump() == named.model_dump()
    assert by_reference.model_dump() == named.model_dump()
    assert updated.tenant_url == "https://renamed.okta.com"
    assert updated.active is False
    assert updated.reference_id == "okta-renamed"
    assert updated.created_at == named.created_at
    assert fetched_after_update.model_dump() == updated.model_dump()
    assert deleted == {}
    assert after_delete.value.status_code == 404
    assert [item.id for item in integrations.list(account_id=account)] == [unnamed.id]


def test_results_carry_typed_fields(client: Cloudflare, account: str, base_url: str) -> None:
    before = datetime.now(timezone.utc)

    created = client.zero_trust.risk_scoring.integrations.create(
        account_id=account, integration_type="Okta", tenant_url=TENANT_URL
    )

    assert isinstance(created.created_at, datetime)
    assert created.created_at.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=5) < created.created_at < before + timedelta(seconds=5)
    assert isinstance(created.id, str)
    assert str(uuid.UUID(created.id)) == created.id
    assert uuid.UUID(created.id).version == 4
    assert created.account_tag == account
    assert created.active is True
    assert created.integration_type == "Okta"
    assert created.tenant_url == TENANT_URL
    assert created.well_known_url.endswith(f"/.well-known/sse-configuration/{created.id}")
    assert created.model_extra == {}


@pytest.mark.parametrize(
    "reference_id",
    ["team/prod", "okta prod", "équipe-東京", "100%", "a?b#c"],
)
def test_references_get_encodes_path(client: Cloudflare, account: str, reference_id: str) -> None:
    integrations = client.zero_trust.risk_scoring.integrations
    created = integrations.create(
        account_id=account,
        integration_type="Okta",
        tenant_url=TENANT_URL,
        reference_id=reference_id,
    )

    fetched = integrations.references.get(reference_id, account_id=account)

    assert fetched.model_dump() == created.model_dump()


def test_unknown_id_is_not_found(client: Cloudflare, account: str) -> None:
    integrations = client.zero_trust.risk_scoring.integrations

    with pytest.raises(cloudflare.NotFoundError) as by_id:
        integrations.get(str(uuid.uuid4()), account_id=account)
    with pytest.raises(cloudflare.NotFoundError) as by_reference:
        integrations.references.get("absent", account_id=account)

    assert by_id.value.status_code == 404
    assert by_reference.value.status_code == 404


def test_duplicate_reference_conflicts_at_once(
    logged_client: tuple[Cloudflare, RequestLog], account: str
) -> None:
    client, log = logged_client
    integrations = client.zero_trust.risk_scoring.integrations
    integrations.create(
        account_id=account, integration_type="Okta", tenant_url=TENANT_URL, reference_id="dup"
    )
    log.sent.clear()

    with pytest.raises(cloudflare.ConflictError) as conflict:
        integrations.create(
            account_id=account,
            integration_type="Okta",
            tenant_url=TENANT_URL,
            reference_id="dup",
        )

    assert conflict.value.status_code == 409
    assert conflict.value.response.headers["x-should-retry"] == "false"
    # The request hook records every attempt, retries included.
    assert len(log.sent) == 1, "the SDK retried the conflict"


def test_invalid_input_is_bad_request(client: Cloudflare, account: str) -> None:
    integrations = client.zero_trust.risk_scoring.integrations

    with pytest.raises(cloudflare.BadRequestError) as http_url:
        integrations.create(
            account_id=account, integration_type="Okta", tenant_url="http://example.okta.com"
        )
    with pytest.raises(cloudflare.BadRequestError) as bad_type:
        integrations.create(
            account_id=account,
            integration_type="AzureAD",  # type: ignore[arg-type]
            tenant_url=TENANT_URL,
        )
    with pytest.raises(cloudflare.BadRequestError) as malformed_id:
        integrations.get("not-a-uuid", account_id=account)

    assert http_url.value.status_code == 400
    assert http_url.value.body["errors"][0]["source"]["pointer"] == "/tenant_url"
    assert bad_type.value.body["errors"][0]["source"]["pointer"] == "/integration_type"
    assert malformed_id.value.body["errors"][0]["code"] == 7003


def test_unknown_token_is_authentication_error(base_url: str, account: str) -> None:
    client = Cloudflare(api_token="x" * 43, base_url=base_url, max_retries=0)

    with pytest.raises(cloudflare.AuthenticationError) as rejected:
        list(client.zero_trust.risk_scoring.integrations.list(account_id=account))

    assert rejected.value.status_code == 401


def test_read_token_cannot_create(base_url: str, account: str) -> None:
    client = token_client(base_url, "ZTRISK_READ_TOKEN")

    with pytest.raises(cloudflare.PermissionDeniedError) as rejected:
        client.zero_trust.risk_scoring.integrations.create(
            account_id=account, integration_type="Okta", tenant_url=TENANT_URL
        )

    assert rejected.value.status_code == 403
    assert list(client.zero_trust.risk_scoring.integrations.list(account_id=account)) == []


def test_scoped_token_cannot_use_other_account(base_url: str, account: str) -> None:
    client = token_client(base_url, "ZTRISK_SCOPED_TOKEN")

    with pytest.raises(cloudflare.PermissionDeniedError) as rejected:
        list(client.zero_trust.risk_scoring.integrations.list(account_id=account))

    assert rejected.value.status_code == 403

"""Signatures a Standard Webhooks library verifies (the PyPI `standardwebhooks` package, not our code)."""

from __future__ import annotations

import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from receptionist.core.errors import Invalid
from receptionist.webhooks import signing


def test_a_signed_body_verifies_with_the_standard_library():
    secret, body, now = signing.new_secret(), b'{"type":"call.completed","data":{"x":1}}', int(time.time())
    headers = signing.headers([secret], "msg_abc", now, body)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers) == {"type": "call.completed", "data": {"x": 1}}


def test_a_changed_body_id_or_other_secret_is_refused_by_the_library():
    secret, body, now = signing.new_secret(), b'{"a":1}', int(time.time())
    headers = signing.headers([secret], "msg_abc", now, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"a":2}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, {**headers, "webhook-id": "msg_other"})
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)


def test_during_a_rotation_both_secrets_sign_and_either_verifies():
    old, new, body, now = signing.new_secret(), signing.new_secret(), b'{"a":1}', int(time.time())
    headers = signing.headers([new, old], "msg_abc", now, body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(body, headers) == {"a": 1}
    assert Webhook(new).verify(body, headers) == {"a": 1}


def test_secrets_have_the_standard_form_and_bad_ones_are_refused():
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(signing.secret_key(secret)) == signing.SECRET_BYTES
    assert signing.new_secret() != secret
    for bad in ("abc", "whsec_***", "whsec_YWJj"):
        with pytest.raises(Invalid):
            signing.secret_key(bad)
    with pytest.raises(Invalid):
        signing.headers([], "msg", 1, b"")

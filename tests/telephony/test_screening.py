"""Robocall screening at the voice webhook: the TwiML a blocked, a suspected and an ordinary caller
get, the call row each leaves, and what the final status does with a refused call."""

from __future__ import annotations

import pytest
from rq import Queue

from receptionist.calls.screening import ATTESTATION_FAILED, ATTESTATION_PASSED, decide
from receptionist.telephony.events import attestation
from tests.support.world import BUSINESS_NUMBER, CALLER_NUMBER

ROBOCALLER = "+13125550177"


def block(service, account_id: str, number: str, headers=None):
    response = service.http.post(f"/api/accounts/{account_id}/blocklist", json={"number": number},
                                 headers=headers or service.admin())
    assert response.status_code in (200, 201), response.text
    return response.json()


def refused(call) -> None:
    """What a refused caller gets: a short message and the end of the call, nothing recorded or relayed."""
    assert call.answer.tags == ["Say", "Hangup"], call.twiml
    assert "Recording" not in call.twiml and "Connect" not in call.twiml and "ConversationRelay" not in call.twiml
    assert "Acme Plumbing" in call.answer.verbs[0].text
    assert call.answer.verbs[0].voice == "Polly.Joanna-Neural"  # the account's voice, like every word


def answered(call) -> None:
    assert call.answer.tags == ["Say", "Start", "Connect"], call.twiml
    assert call.answer.recording is not None and call.answer.connect.relay is not None


@pytest.mark.parametrize("verstat, read", [
    ("TN-Validation-Passed-A", ATTESTATION_PASSED), ("TN-Validation-Passed-C", ATTESTATION_PASSED),
    ("TN-Validation-Failed-B", ATTESTATION_FAILED), ("TN-Validation-Failed", ATTESTATION_FAILED),
    ("No-TN-Validation", None), ("", None), (None, None),
])
def test_stir_verstat_is_read_as_the_attestation(verstat, read):
    form = {} if verstat is None else {"StirVerstat": verstat}
    assert attestation(form) == read


@pytest.mark.parametrize("listed, attested, setting, flags", [
    (True, None, "off", ("blocked",)),  # the blocklist is the owner's own choice: kept even when off
    (True, ATTESTATION_PASSED, "flag", ("blocked",)),
    (False, ATTESTATION_FAILED, "off", ()),
    (False, ATTESTATION_FAILED, "flag", ("suspected-spam",)),
    (False, ATTESTATION_FAILED, "block", ("blocked", "suspected-spam")),
    (False, ATTESTATION_PASSED, "block", ()),
    (False, None, "block", ()),  # nothing verified is nothing against the caller
])
def test_the_verdict(listed, attested, setting, flags):
    assert decide(listed=listed, attestation=attested, spam_screening=setting).flags == flags


def test_a_bad_setting_is_refused():
    with pytest.raises(ValueError, match="spam_screening"):
        decide(listed=False, attestation=None, spam_screening="maybe")


def test_the_stand_in_sends_only_what_twilio_sends(service):
    service.create_account()
    with pytest.raises(ValueError, match="sends no StirVerstat"):
        service.player.start(CALLER_NUMBER, BUSINESS_NUMBER, stir_verstat="TN-Verification-Passed")
    with pytest.raises(ValueError, match="United States"):
        service.player.start(CALLER_NUMBER, "+442071838750", stir_verstat="TN-Validation-Failed-A")
    assert service.count("calls") == 0


class TestBlocklist:
    def test_a_blocked_caller_hears_a_short_message_and_the_call_ends(self, service, redis_conn):
        account = service.create_account()
        assert account["spam_screening"] == "flag"
        block(service, account["id"], "(312) 555-0177")  # as written locally: stored as E.164
        call = service.player.start(ROBOCALLER, BUSINESS_NUMBER)
        refused(call)
        detail = service.call(call.call_sid)
        assert detail["flags"] == ["blocked"] and detail["outcome"] == "blocked"

        service.player.end(call, duration_s=3)
        detail = service.call(call.call_sid)
        assert detail["outcome"] == "blocked" and detail["ended_at"] is not None
        assert detail["alerts"] == []
        # Nothing is owed: no missed-call job, no alert job, now or for the reconciler later.
        assert Queue(service.settings.queue_name, connection=redis_conn).count == 0
        from receptionist.core.models import Call
        with service.app.state.services.db.session() as session:
            row = session.query(Call).filter_by(call_sid=call.call_sid).one()
            assert row.followup is None and row.recording_due_at is None and row.relay_attempt == 0

    def test_blocking_shows_on_the_next_call_though_the_account_is_cached(self, service):
        account = service.create_account()
        answered(service.player.start(ROBOCALLER, BUSINESS_NUMBER))  # the account is now in the directory's cache
        block(service, account["id"], ROBOCALLER)
        refused(service.player.start(ROBOCALLER, BUSINESS_NUMBER))
        assert service.http.delete(f"/api/accounts/{account['id']}/blocklist/{ROBOCALLER}",
                                   headers=service.admin()).status_code == 204
        answered(service.player.start(ROBOCALLER, BUSINESS_NUMBER))

    def test_blocking_one_account_leaves_the_other(self, service):
        first = service.create_account()
        service.create_account(name="Bayside Roofing", phone_numbers=["+15550100203"])
        block(service, first["id"], ROBOCALLER)
        refused(service.player.start(ROBOCALLER, BUSINESS_NUMBER))
        answered(service.player.start(ROBOCALLER, "+15550100203"))

    def test_blocked_even_with_screening_off(self, service):
        account = service.create_account(spam_screening="off")
        block(service, account["id"], ROBOCALLER)
        refused(service.player.start(ROBOCALLER, BUSINESS_NUMBER, stir_verstat="TN-Validation-Passed-A"))

    def test_a_repeated_webhook_of_a_blocked_call_keeps_one_row(self, service):
        account = service.create_account()
        block(service, account["id"], ROBOCALLER)
        call = service.player.start(ROBOCALLER, BUSINESS_NUMBER)
        refused(service.player.start(ROBOCALLER, BUSINESS_NUMBER, call_sid=call.call_sid))
        assert service.count("calls") == 1


class TestAttestation:
    def test_a_failed_caller_id_is_answered_normally_and_flagged(self, service):
        service.create_account()
        call = service.player.start(ROBOCALLER, BUSINESS_NUMBER, stir_verstat="TN-Validation-Failed-C")
        answered(call)
        assert service.call(call.call_sid)["flags"] == ["suspected-spam"]

    def test_with_screening_block_a_failed_caller_id_is_refused(self, service):
        service.create_account(spam_screening="block")
        call = service.player.start(ROBOCALLER, BUSINESS_NUMBER, stir_verstat="TN-Validation-Failed-A")
        refused(call)
        detail = service.call(call.call_sid)
        assert detail["flags"] == ["blocked", "suspected-spam"] and detail["outcome"] == "blocked"
        passed = service.player.start(ROBOCALLER, BUSINESS_NUMBER, stir_verstat="TN-Validation-Passed-B")
        answered(passed)
        assert service.call(passed.call_sid)["flags"] == []

    def test_with_screening_off_nothing_is_flagged(self, service):
        service.create_account(spam_screening="off")
        call = service.player.start(ROBOCALLER, BUSINESS_NUMBER, stir_verstat="TN-Validation-Failed-A")
        answered(call)
        assert service.call(call.call_sid)["flags"] == []

    @pytest.mark.parametrize("verstat", [None, "No-TN-Validation", "TN-Validation-Passed-A"])
    def test_an_unverified_or_verified_caller_is_not_flagged(self, service, verstat):
        service.create_account(spam_screening="block")
        call = service.player.start(ROBOCALLER, BUSINESS_NUMBER, stir_verstat=verstat)
        answered(call)
        assert service.call(call.call_sid)["flags"] == []

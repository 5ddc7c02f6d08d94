"""Owners hear about every call: SMS and email exactly once, STOP/START/HELP, missed-call text-back."""

from __future__ import annotations

import pytest

from receptionist.postcall import pipeline
from tests.support.alerts import ALERTS_FROM, OWNER_MOBILE, texts_to
from tests.support.calls import play_call, run_burst
from tests.support.world import BUSINESS_NUMBER, CALL_TURNS, CALLER_NUMBER, OWNER_EMAIL


@pytest.fixture
def alerting(make_settings, pg_database, make_context, twilio_api):
    """The app and a worker context with SMS alerts configured (PostgreSQL)."""
    from tests.support.service import serve as _serve

    settings = make_settings(pg_database, alert_from_number=ALERTS_FROM)
    twilio_api.forget_opt_outs()
    served = _serve(settings, twilio_api)
    service = next(served)
    yield service, make_context(settings)
    served.close()


@pytest.fixture
def own_replies(make_settings, pg_database, make_context, twilio_api):
    """A number whose built-in keyword handling Twilio turned off, so the service answers STOP, START
    and HELP itself (RECEPTIONIST_SMS_KEYWORD_REPLIES=service)."""
    from tests.support.service import serve as _serve

    settings = make_settings(pg_database, alert_from_number=ALERTS_FROM, sms_keyword_replies="service")
    twilio_api.keyword_handling = False
    twilio_api.forget_opt_outs()
    served = _serve(settings, twilio_api)
    try:
        yield next(served), make_context(settings)
    finally:
        twilio_api.keyword_handling = True
        served.close()


def sms(service, sender: str, body: str, to: str = BUSINESS_NUMBER):
    """A text to one of our numbers, through Twilio's opt-out handling, then our webhook."""
    exchange = service.player.text(sender, to, body)
    assert exchange.status_code == 200
    return exchange


def reply(exchange) -> str:
    """The one reply the sender got, whoever sent it (never both)."""
    replies = [r for r in (exchange.twilio_reply, exchange.service_reply) if r]
    assert len(replies) == 1, replies
    return replies[0]


def opted_out(service, number: str) -> bool:
    from receptionist.core.models import SmsConsent

    with service.app.state.services.db.session() as session:
        consent = session.get(SmsConsent, number)
        return bool(consent and consent.opted_out)


def test_owner_gets_one_sms_and_one_email_with_the_right_content(alerting, twilio_api, smtp, call_audio):
    service, ctx = alerting
    service.create_account(alert_sms=[OWNER_MOBILE])
    before = len(texts_to(twilio_api, OWNER_MOBILE))
    call = play_call(service, twilio_api, call_audio.path.read_bytes())
    run_burst(ctx)

    [text] = texts_to(twilio_api, OWNER_MOBILE)[before:]
    assert text.from_ == ALERTS_FROM
    # What matters first: the urgency, who called (no name was given: the number), what for.
    assert text.body.startswith("URGENT - (555) 014-2367, my water heater is leaking"), text.body
    assert f"Call back: {CALLER_NUMBER}." in text.body and "Springfield." in text.body
    assert text.body.endswith(f"{service.settings.public_url}/calls/{call.call_sid}")  # the dashboard's call page
    assert "recording" not in text.body.lower() and ".wav" not in text.body
    assert len(text.body) <= 306 and text.body.isascii()  # two GSM-7 segments

    [email] = smtp.wait_for(1)
    body = email.text()
    assert email.rcpt_tos == (OWNER_EMAIL,)

    assert email.subject.startswith("URGENT — (555) 014-2367, my water heater is leaking")
    assert "Call back: (555) 014-2367  <tel:+15550142367>" in body  # read in the national format, dialled by E.164
    assert '<a href="tel:+15550142367"' in email.message.get_body(("html",)).get_content()
    assert "Summary" in body and "Lead" in body
    assert "Caller:" in body and "Receptionist:" in body

    detail = service.call(call.call_sid)
    assert {(a["channel"], a["recipient"], a["status"]) for a in detail["alerts"]} == {
        ("email", OWNER_EMAIL, "sent"), ("sms", OWNER_MOBILE, "sent")}
    assert detail["summary"] and detail["lead"]["callback_number"] == CALLER_NUMBER

    # A re-run job and a duplicate callback send nothing new.
    pipeline.process_recording(ctx, call.recording_sid)
    service.player.recording_ready(call, twilio_api.recording_url(call.recording_sid), 10, call.recording_sid)
    run_burst(ctx)
    assert len(texts_to(twilio_api, OWNER_MOBILE)) == before + 1
    assert len(smtp.messages) == 1


def test_a_refused_sms_is_recorded_as_failed_with_its_reason(alerting, twilio_api, smtp, call_audio):
    service, ctx = alerting
    service.create_account(alert_sms=[OWNER_MOBILE])
    call = play_call(service, twilio_api, call_audio.path.read_bytes())
    twilio_api_fail_after_download(twilio_api, ctx)
    run_burst(ctx)
    sms_alert = next(a for a in service.call(call.call_sid)["alerts"] if a["channel"] == "sms")
    assert sms_alert["status"] == "failed" and "refused" in sms_alert["error"]
    assert len(smtp.wait_for(1)) == 1  # the email still went


def twilio_api_fail_after_download(twilio_api, ctx):
    """Make Twilio refuse (400) the next request after the recording download."""
    original = ctx.twilio.download_recording_to

    def download_then_break(*args, **kwargs):
        data = original(*args, **kwargs)
        twilio_api.fail_next(1, status=400)
        ctx.twilio.download_recording_to = original
        return data

    ctx.twilio.download_recording_to = download_then_break


@pytest.mark.parametrize("body", ["STOP", " stop ", "UNSUBSCRIBE", "cancel", "End", "QUIT", "stopall", "REVOKE",
                                  "optout"])
def test_stop_keywords_are_answered_by_twilio_and_recorded_here(alerting, twilio_api, body):
    """The default (a long code): Twilio replies to the keyword itself; the service records the opt-out
    and answers with an empty response, so the sender gets one confirmation."""
    service, _ = alerting
    service.create_account()
    exchange = sms(service, OWNER_MOBILE, body)
    assert exchange.service_reply is None
    assert "unsubscribed" in reply(exchange)
    assert opted_out(service, OWNER_MOBILE) and twilio_api.is_blocked(BUSINESS_NUMBER, OWNER_MOBILE)


def test_a_keyword_twilio_does_not_match_is_confirmed_by_the_service(alerting):
    """Twilio matches single words exactly; "Stop!" still stops this service's texts, so it says so."""
    service, _ = alerting
    service.create_account()
    exchange = sms(service, OWNER_MOBILE, "Stop!")
    assert exchange.twilio_reply is None
    assert "unsubscribed" in reply(exchange) and "Acme Plumbing" in reply(exchange)
    assert opted_out(service, OWNER_MOBILE)


@pytest.mark.parametrize("body", ["STOP", "Stop!", "optout"])
def test_with_twilios_handling_off_the_service_answers_every_keyword(own_replies, twilio_api, body):
    service, _ = own_replies
    service.create_account()
    exchange = sms(service, OWNER_MOBILE, body)
    assert exchange.twilio_reply is None
    assert "unsubscribed" in reply(exchange) and "Acme Plumbing" in reply(exchange) and "START" in reply(exchange)
    assert opted_out(service, OWNER_MOBILE)
    assert "resubscribed" in reply(sms(service, OWNER_MOBILE, "yes"))
    assert not opted_out(service, OWNER_MOBILE)


def test_help_names_the_business_and_how_to_stop(own_replies):
    service, _ = own_replies
    service.create_account()
    answer = reply(sms(service, CALLER_NUMBER, " help "))
    assert answer.startswith("Acme Plumbing:") and "STOP" in answer and "rates may apply" in answer
    alerts_reply = reply(sms(service, OWNER_MOBILE, "INFO", to=ALERTS_FROM))
    assert "call alerts" in alerts_reply and "STOP" in alerts_reply


def test_help_on_a_long_code_is_twilios_to_answer(alerting):
    service, _ = alerting
    service.create_account()
    exchange = sms(service, CALLER_NUMBER, "HELP")
    assert exchange.service_reply is None and "STOP" in reply(exchange)


def test_other_texts_get_an_empty_answer(alerting):
    service, _ = alerting
    service.create_account()
    exchange = sms(service, CALLER_NUMBER, "can you come tomorrow?")
    assert exchange.twilio_reply is None and exchange.service_reply is None


def test_a_stop_only_twilio_saw_refuses_the_alert_and_is_recorded(alerting, twilio_api, smtp, call_audio):
    """STOP sent while the webhook could not be reached: Twilio blocks the number anyway ("the block
    works and is logged even if your number currently has no messaging request URL") and refuses the
    next text with 21610; the service records the opt-out from that refusal."""
    service, ctx = alerting
    service.create_account(alert_sms=[OWNER_MOBILE])
    twilio_api.receive_text(OWNER_MOBILE, ALERTS_FROM, "STOP")  # the webhook never saw it
    before = len(texts_to(twilio_api, OWNER_MOBILE))
    call = play_call(service, twilio_api, call_audio.path.read_bytes())
    run_burst(ctx)
    assert len(texts_to(twilio_api, OWNER_MOBILE)) == before  # refused, not sent
    sms_alert = next(a for a in service.call(call.call_sid)["alerts"] if a["channel"] == "sms")
    assert sms_alert["status"] == "failed" and "opted out" in sms_alert["error"] and "21610" in sms_alert["error"]
    assert opted_out(service, OWNER_MOBILE)
    assert len(smtp.wait_for(1)) == 1  # the email still went


def test_unsigned_sms_is_refused(alerting):
    service, _ = alerting
    response = service.http.post("/twilio/sms", data={"From": OWNER_MOBILE, "To": BUSINESS_NUMBER, "Body": "STOP"})
    assert response.status_code == 403


def test_stop_silences_alerts_until_start(alerting, twilio_api, smtp, call_audio):
    service, ctx = alerting
    service.create_account(alert_sms=[OWNER_MOBILE])
    sms(service, OWNER_MOBILE, "STOP", to=ALERTS_FROM)
    before = len(texts_to(twilio_api, OWNER_MOBILE))
    silenced = play_call(service, twilio_api, call_audio.path.read_bytes())
    run_burst(ctx)
    assert len(texts_to(twilio_api, OWNER_MOBILE)) == before
    sms_alert = next(a for a in service.call(silenced.call_sid)["alerts"] if a["channel"] == "sms")
    assert sms_alert["status"] == "suppressed" and "STOP" in sms_alert["error"]

    assert "re-subscribed" in reply(sms(service, OWNER_MOBILE, "start", to=ALERTS_FROM))  # Twilio's reply
    play_call(service, twilio_api, call_audio.path.read_bytes())
    run_burst(ctx)
    assert len(texts_to(twilio_api, OWNER_MOBILE)) == before + 1


def test_adding_an_alert_number_records_how_it_was_opted_in(alerting):
    from receptionist.core.models import SmsConsent

    service, _ = alerting
    account = service.create_account(alert_sms=[OWNER_MOBILE])
    with service.app.state.services.db.session() as session:
        consent = session.get(SmsConsent, OWNER_MOBILE)
        assert consent.opted_in_at is not None and account["id"] in consent.opted_in_via
        assert consent.opted_out is False


# Text-backs only go to real ranges (the outbound fence refuses 555 numbers: there is no area code 555).
MISSED_CALLER, OTHER_CALLER = "+13125550142", "+13125550143"


def missed_call(service, caller=CALLER_NUMBER):
    call = service.player.start(caller, BUSINESS_NUMBER)
    service.player.end(call, duration_s=5)  # hung up during the greeting: no caller turn
    return call


def test_missed_call_text_back_once_a_day(alerting, twilio_api, smtp):
    service, ctx = alerting
    service.create_account(missed_call_text_back=True, alert_sms=[OWNER_MOBILE])
    before = len(texts_to(twilio_api, MISSED_CALLER))
    first = missed_call(service, caller=MISSED_CALLER)
    run_burst(ctx)
    [text_back] = texts_to(twilio_api, MISSED_CALLER)[before:]
    assert text_back.from_ == BUSINESS_NUMBER
    assert "Acme Plumbing" in text_back.body and "STOP" in text_back.body
    assert service.call(first.call_sid)["outcome"] == "missed"
    [owner_text] = [m for m in texts_to(twilio_api, OWNER_MOBILE) if first.call_sid in m.body]
    assert owner_text.body.startswith("Missed call")
    assert smtp.wait_for(1)[0].subject.startswith("Missed call")

    missed_call(service, caller=MISSED_CALLER)
    run_burst(ctx)
    assert len(texts_to(twilio_api, MISSED_CALLER)) == before + 1  # not twice the same day
    assert len(smtp.wait_for(2)) == 2  # but the owner hears about both


def test_no_text_back_to_an_opted_out_caller_or_when_disabled(alerting, twilio_api, smtp):
    service, ctx = alerting
    service.create_account(missed_call_text_back=True)
    sms(service, OTHER_CALLER, "STOP")
    missed_call(service, caller=OTHER_CALLER)
    run_burst(ctx)
    assert texts_to(twilio_api, OTHER_CALLER) == []

    assert "re-subscribed" in reply(sms(service, OTHER_CALLER, "UNSTOP"))
    missed_call(service, caller=OTHER_CALLER)
    run_burst(ctx)
    assert len(texts_to(twilio_api, OTHER_CALLER)) == 1


def test_text_back_is_off_unless_the_account_enables_it(alerting, twilio_api, smtp):
    service, ctx = alerting
    service.create_account()
    missed_call(service, caller="+15550142111")
    run_burst(ctx)
    assert texts_to(twilio_api, "+15550142111") == []
    assert len(smtp.wait_for(1)) == 1


def test_answered_call_gets_no_text_back(alerting, twilio_api, smtp, call_audio):
    service, ctx = alerting
    service.create_account(missed_call_text_back=True)
    before = len(texts_to(twilio_api, CALLER_NUMBER))
    play_call(service, twilio_api, call_audio.path.read_bytes(), heard=CALL_TURNS)
    run_burst(ctx)
    assert len(texts_to(twilio_api, CALLER_NUMBER)) == before




def test_a_text_back_outside_the_fence_is_suppressed_with_its_reason(alerting, twilio_api, smtp):
    from receptionist.core.models import TextBack

    service, ctx = alerting
    service.create_account(missed_call_text_back=True)
    for spoofed in ("+19005551234", "+447911123456", "+15550142367"):  # premium-rate, abroad, no such range
        missed_call(service, caller=spoofed)
    run_burst(ctx)
    assert not [m for m in twilio_api.messages if m.to in ("+19005551234", "+447911123456", "+15550142367")]
    with service.app.state.services.db.session() as session:
        rows = {row.caller: row for row in session.query(TextBack)}
    assert {row.status for row in rows.values()} == {"suppressed"}
    assert "premium-rate" in rows["+19005551234"].error and "GG" in rows["+447911123456"].error
    assert "not a number in use" in rows["+15550142367"].error
    assert len(smtp.wait_for(3)) == 3  # the owner still hears about every call


def test_the_daily_sms_cap_stops_pumping(make_settings, pg_database, make_context, twilio_api, smtp):
    from receptionist.core.models import TextBack
    from tests.support.service import serve as _serve

    settings = make_settings(pg_database, alert_from_number=ALERTS_FROM, sms_daily_cap=3)
    for service in _serve(settings):
        ctx = make_context(settings)
        service.create_account(missed_call_text_back=True, alert_sms=[OWNER_MOBILE])
        callers = [f"+1312555{n:04d}" for n in range(300, 305)]
        calls = [missed_call(service, caller=c) for c in callers]
        run_burst(ctx)
        sent = [m for m in twilio_api.messages if m.to in callers or any(c.call_sid in m.body for c in calls)]
        assert len(sent) == 3  # text-backs and alerts together
        with service.app.state.services.db.session() as session:
            suppressed = session.query(TextBack).filter_by(status="suppressed").all()
        alerts = [a for c in calls for a in service.call(c.call_sid)["alerts"] if a["channel"] == "sms"]
        capped = [a for a in alerts if a["status"] == "suppressed"] + suppressed
        assert len(capped) == 10 - 3
        assert all("cap of 3" in (getattr(x, "error", None) or x["error"]) for x in capped)
        assert len(smtp.wait_for(5)) == 5  # email has no cap


def test_an_alert_that_cannot_be_composed_fails_alone(alerting, twilio_api, smtp, call_audio):
    """A name no mail header can carry (stored before names were validated) fails the email, not the texts."""
    from receptionist.core.models import Account

    service, ctx = alerting
    account = service.create_account(alert_sms=[OWNER_MOBILE], alert_emails=["a@acme.example", "b@acme.example"])
    with service.app.state.services.db.session() as session:
        session.get(Account, account["id"]).name = "Acme\nBcc: attacker@example.com"
    before = len(texts_to(twilio_api, OWNER_MOBILE))
    call = play_call(service, twilio_api, call_audio.path.read_bytes())
    run_burst(ctx)
    alerts = {(a["channel"], a["recipient"]): a for a in service.call(call.call_sid)["alerts"]}
    for email in ("a@acme.example", "b@acme.example"):
        assert alerts[("email", email)]["status"] == "failed"
        assert "could not be composed" in alerts[("email", email)]["error"]
    assert alerts[("sms", OWNER_MOBILE)]["status"] == "sent"
    assert len(texts_to(twilio_api, OWNER_MOBILE)) == before + 1
    assert smtp.messages == []
    assert service.call(call.call_sid)["processing_status"] == "done"  # failed for good, not retried forever


# --- robocall screening (calls.screening) ----------------------------------------------------------

SPAM_CALLER = "+13125550166"


def test_a_suspected_spam_call_alerts_by_email_only_with_the_flag(alerting, twilio_api, smtp, call_audio):
    service, ctx = alerting
    service.create_account(alert_sms=[OWNER_MOBILE])
    before = len(texts_to(twilio_api, OWNER_MOBILE))
    call = play_call(service, twilio_api, call_audio.path.read_bytes(), stir_verstat="TN-Validation-Failed-B")
    run_burst(ctx)

    assert len(texts_to(twilio_api, OWNER_MOBILE)) == before  # no phone woken for a forged caller ID
    [email] = smtp.wait_for(1)
    assert email.subject.startswith("[Suspected spam] URGENT"), email.subject
    assert "Suspected spam: the caller ID failed its STIR/SHAKEN check" in email.text()
    assert "Suspected spam" in email.message.get_body(("html",)).get_content()
    detail = service.call(call.call_sid)
    assert detail["flags"] == ["suspected-spam"]
    sms_alert = next(a for a in detail["alerts"] if a["channel"] == "sms")
    assert sms_alert["status"] == "suppressed" and "suspected spam" in sms_alert["error"]

    # The same call with a caller ID that verified texts the owner as usual.
    play_call(service, twilio_api, call_audio.path.read_bytes(), stir_verstat="TN-Validation-Passed-A")
    run_burst(ctx)
    assert len(texts_to(twilio_api, OWNER_MOBILE)) == before + 1
    assert not smtp.wait_for(2)[1].subject.startswith("[Suspected spam]")


def test_a_suspected_spam_caller_is_not_texted_back(alerting, twilio_api, smtp):
    service, ctx = alerting
    service.create_account(missed_call_text_back=True)
    before = len(texts_to(twilio_api, SPAM_CALLER))
    call = service.player.start(SPAM_CALLER, BUSINESS_NUMBER, stir_verstat="TN-Validation-Failed-A")
    service.player.end(call, duration_s=4)
    run_burst(ctx)
    assert service.call(call.call_sid)["outcome"] == "missed"
    assert texts_to(twilio_api, SPAM_CALLER)[before:] == []
    assert smtp.wait_for(1)[0].subject.startswith("[Suspected spam] Missed call")

    # The same number calling with a caller ID that verified is texted back: nothing was used up.
    missed = service.player.start(SPAM_CALLER, BUSINESS_NUMBER, stir_verstat="TN-Validation-Passed-A")
    service.player.end(missed, duration_s=4)
    run_burst(ctx)
    assert len(texts_to(twilio_api, SPAM_CALLER)) == before + 1


def test_a_blocked_caller_alerts_no_one_and_is_not_texted_back(alerting, twilio_api, smtp):
    service, ctx = alerting
    account = service.create_account(missed_call_text_back=True, alert_sms=[OWNER_MOBILE])
    assert service.http.post(f"/api/accounts/{account['id']}/blocklist", json={"number": SPAM_CALLER},
                             headers=service.admin()).status_code == 201
    texts_before = len(twilio_api.messages)
    call = service.player.start(SPAM_CALLER, BUSINESS_NUMBER)
    assert call.answer.tags == ["Say", "Hangup"]
    service.player.end(call, duration_s=2)
    run_burst(ctx)
    assert len(twilio_api.messages) == texts_before  # neither the owner nor the caller
    assert smtp.messages == []
    detail = service.call(call.call_sid)
    assert detail["outcome"] == "blocked" and detail["alerts"] == []

    # The control: an ordinary missed call of another caller alerts and texts back in the same setup.
    missed_call(service, caller=MISSED_CALLER)
    run_burst(ctx)
    assert len(smtp.wait_for(1)) == 1 and len(twilio_api.messages) > texts_before

"""Deliveries against a real HTTPS receiver (throwaway CA) that verifies every signature with the
`standardwebhooks` package and fails on command: exactly one accepted delivery per event and
endpoint, retries in order with the same webhook-id, the log showing each attempt."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from receptionist.core.db import Database
from receptionist.core.models import Account, Call, User, WebhookDelivery, WebhookEndpoint, new_id
from receptionist.core.templates import Templates
from receptionist.notify.mailer import Mailer
from receptionist.notify.webhook_notice import endpoint_disabled
from receptionist.webhooks import endpoints, events
from receptionist.webhooks.addresses import AddressRefused
from receptionist.webhooks.delivery import RetryPolicy, WebhookSender, resend
from receptionist.webhooks.transport import WebhookTransport
from tests.support.tls import make_tls_files
from tests.support.webhook_receiver import WebhookReceiver

PUBLIC_URL = "https://receptionist.example.com"


class Clock:
    """Real time, moved forward on command (a day of retries in a second)."""

    def __init__(self):
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def at(self, moment: datetime) -> None:
        if moment > self():
            self.offset += moment - self()

    def advance(self, **delta) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_tls_files(tmp_path_factory.mktemp("webhook-tls"))


@pytest.fixture
def receiver(tls):
    with WebhookReceiver(tls, hold_s=2.0) as server:
        yield server


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def sender(db, tls, clock):
    transport = WebhookTransport(timeout_s=0.8, ca_bundle=str(tls.ca))
    yield WebhookSender(db, transport, allow_private=True, timeout_s=0.8, rng=random.Random(7), clock=clock,
                        policy=RetryPolicy(first_delay_s=30, max_delay_s=4 * 3600, window_s=86400))
    transport.close()


def make_account(db) -> str:
    with db.session() as session:
        account = Account(name="Oak Plumbing", alert_emails=["office@oak.example"])
        session.add(account)
        session.flush()
        return account.id


def make_call(db, account_id: str, *, outcome="answered", lead=None, flags=None) -> str:
    sid = "CA" + new_id()
    with db.session() as session:
        session.add(Call(call_sid=sid, account_id=account_id, from_number="+15551230000", to_number="+15557650000",
                         ended_at=datetime.now(timezone.utc), duration_s=42, outcome=outcome,
                         summary="Leaking pipe under the sink.", lead=lead or {"name": "Dana"}, flags=flags))
    return sid


def add_endpoint(db, account_id, receiver, path, events_wanted=events.EVENTS) -> WebhookEndpoint:
    with db.session() as session:
        endpoint = endpoints.create(session, account_id, receiver.url(path), list(events_wanted), allow_private=True)
        session.expunge(endpoint)
    receiver.secrets[path] = endpoint.secret
    return endpoint


def call_ended(db, call_sid) -> list[int]:
    with db.session() as session:
        call = session.scalar(select(Call).where(Call.call_sid == call_sid))
        return events.call_ended(session, call, PUBLIC_URL)


def delivery(db, delivery_id) -> WebhookDelivery:
    with db.session() as session:
        row = session.get(WebhookDelivery, delivery_id)
        session.expunge(row)
        return row


def run_until_settled(sender, clock, delivery_id, db, limit=30) -> list[str]:
    """Send, and after each retry wait (the clock) until it is due again, as the scheduled jobs would."""
    outcomes = []
    for _ in range(limit):
        sent = sender.send(delivery_id)
        outcomes.append(sent.status)
        if sent.status != "retrying":
            return outcomes
        early = sender.send(delivery_id)  # before it is due: nothing is sent
        assert early.status == "skipped"
        clock.at(sent.next_attempt_at)
    return outcomes


def test_an_event_is_delivered_signed_once_per_endpoint(db, receiver, sender):
    account = make_account(db)
    first, second = add_endpoint(db, account, receiver, "/crm"), add_endpoint(db, account, receiver, "/zap")
    sid = make_call(db, account)
    ids = call_ended(db, sid)
    assert len(ids) == 2
    assert call_ended(db, sid) == []  # recording it again records nothing
    for delivery_id in ids:
        assert sender.send(delivery_id).status == "delivered"
        assert sender.send(delivery_id).status == "skipped"  # a duplicate job sends nothing
    assert all(r.verified for r in receiver.received)
    assert len(receiver.accepted("/crm")) == len(receiver.accepted("/zap")) == 1
    assert receiver.accepted("/crm") == receiver.accepted("/zap") == [events.event_id("call.completed", sid)]
    event = receiver.received[0].event
    assert event["type"] == "call.completed" and event["version"] == events.VERSION
    data = event["data"]
    assert data["call_sid"] == sid and data["summary"] == "Leaking pipe under the sink."
    assert data["lead"] == {"name": "Dana"} and data["dashboard_url"] == f"{PUBLIC_URL}/calls/{sid}"
    assert not any(word in receiver.received[0].body.decode().lower() for word in ("recording", "x-amz", ".wav"))
    assert receiver.received[0].host == f"localhost:{receiver.port}"
    row = delivery(db, ids[0])
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 1, 200)
    assert first.id != second.id


def test_retries_in_order_with_the_same_id_until_accepted(db, receiver, sender, clock):
    account = make_account(db)
    add_endpoint(db, account, receiver, "/crm")
    sid = make_call(db, account, outcome="missed")
    [delivery_id] = call_ended(db, sid)
    receiver.plan = ["timeout", 500, (429, {"Retry-After": "7200"}), 503, 200]
    started = clock()
    outcomes = run_until_settled(sender, clock, delivery_id, db)
    assert outcomes == ["retrying"] * 4 + ["delivered"]
    ids = {r.webhook_id for r in receiver.received}
    assert ids == {events.event_id("call.missed", sid)}
    assert [r.answered for r in receiver.received] == ["timeout", 500, 429, 503, 200]
    assert receiver.accepted() == [events.event_id("call.missed", sid)]
    assert receiver.received[0].event["type"] == "call.missed"
    row = delivery(db, delivery_id)
    assert row.status == "delivered" and row.attempts == 5
    assert [entry["status_code"] for entry in row.log] == [None, 500, 429, 503, 200]
    assert row.log[0]["error"].startswith("timeout")
    times = [datetime.fromisoformat(entry["at"]) for entry in row.log]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    assert 15 <= gaps[0] <= 31 and 30 <= gaps[1] <= 61  # doubling, with jitter
    assert gaps[2] >= 7200  # Retry-After honoured (longer than the backoff asked)
    assert gaps[3] < 7200
    assert times[-1] - started < timedelta(days=1)


def test_a_410_is_given_up_at_once_with_the_reason(db, receiver, sender):
    account = make_account(db)
    add_endpoint(db, account, receiver, "/gone")
    [delivery_id] = call_ended(db, make_call(db, account))
    receiver.plan = [410]
    assert sender.send(delivery_id).status == "failed"
    row = delivery(db, delivery_id)
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == ("failed", 1, 410, "HTTP 410")
    assert sender.send(delivery_id).status == "skipped"
    assert len(receiver.received) == 1 and receiver.accepted() == []


def test_send_again_uses_the_same_id_and_is_accepted_once(db, receiver, sender):
    account = make_account(db)
    add_endpoint(db, account, receiver, "/crm")
    [delivery_id] = call_ended(db, make_call(db, account))
    receiver.plan = [404]
    assert sender.send(delivery_id).status == "failed"
    with db.session() as session:
        resend(session, delivery_id)
    assert sender.send(delivery_id).status == "delivered"
    assert [r.answered for r in receiver.received] == [404, 200]
    assert len({r.webhook_id for r in receiver.received}) == 1 and len(receiver.accepted()) == 1
    assert [e["status_code"] for e in delivery(db, delivery_id).log] == [404, 200]


def test_an_endpoint_failing_for_a_day_is_disabled_and_the_owner_emailed(db, receiver, sender, clock, smtp):
    account = make_account(db)
    endpoint = add_endpoint(db, account, receiver, "/down")
    with db.session() as session:
        session.add(User(account_id=account, email="owner@oak.example", role="owner", token_hash=new_id()))
    receiver.plan = [500] * 100
    first = call_ended(db, make_call(db, account))[0]
    outcomes = run_until_settled(sender, clock, first, db, limit=100)
    assert outcomes[-1] == "failed" and set(outcomes[:-1]) == {"retrying"}
    with db.session() as session:
        stored = session.get(WebhookEndpoint, endpoint.id)
        assert stored.enabled is False and "failed for 24 h" in stored.disabled_reason
    row = delivery(db, first)
    assert "disabled" in row.last_error and row.attempts == len(outcomes)
    assert clock() - row.created_at >= timedelta(days=1)
    assert datetime.fromisoformat(row.log[-1]["at"]) - datetime.fromisoformat(row.log[0]["at"]) > timedelta(hours=23)
    assert call_ended(db, make_call(db, account)) == []  # a disabled endpoint is sent nothing new
    sent = endpoint_disabled(db, Mailer(smtp.url), Templates(), "receptionist@example.com", endpoint.id)
    assert sent == 2
    recipients = sorted(m.message["To"] for m in smtp.wait_for(2))
    assert recipients == ["office@oak.example", "owner@oak.example"]
    assert receiver.url("/down") in smtp.messages[0].text() and "turned off" in smtp.messages[0].subject
    assert receiver.accepted() == []


def test_a_private_address_is_refused_at_save_unless_allowed(db, receiver):
    account = make_account(db)
    with db.session() as session:
        with pytest.raises(AddressRefused, match="loopback"):
            endpoints.create(session, account, receiver.url("/x"), ["call.completed"], allow_private=False)
        with pytest.raises(AddressRefused):
            endpoints.create(session, account, receiver.url("/x", host="127.0.0.1"), ["call.completed"],
                             allow_private=False)
        assert endpoints.create(session, account, receiver.url("/x"), ["call.completed"], allow_private=True).id


def test_dns_rebinding_is_refused_at_send(db, receiver, tls, clock):
    """The name resolved to a public address when saved; at send it resolves to loopback: refused,
    nothing connects to the receiver."""
    account = make_account(db)
    answers = {"now": "93.184.215.14"}
    resolve = lambda host, port: [answers["now"]]  # the tests' DNS, answering what it is told
    with db.session() as session:
        endpoint = endpoints.create(session, account, f"https://hooks.example.com:{receiver.port}/r",
                                    ["call.completed"], allow_private=False, resolve=resolve)
    [delivery_id] = call_ended(db, make_call(db, account))
    answers["now"] = "127.0.0.1"
    transport = WebhookTransport(timeout_s=0.8, ca_bundle=str(tls.ca))
    sender = WebhookSender(db, transport, allow_private=False, resolve=resolve, clock=clock)
    assert sender.send(delivery_id).status == "failed"
    transport.close()
    row = delivery(db, delivery_id)
    assert "refused" in row.last_error and "loopback" in row.last_error and row.last_status_code is None
    assert receiver.received == []
    assert endpoint.id


def test_a_certificate_from_an_untrusted_ca_is_a_failed_attempt(db, receiver, clock, tmp_path):
    account = make_account(db)
    add_endpoint(db, account, receiver, "/crm")
    [delivery_id] = call_ended(db, make_call(db, account))
    transport = WebhookTransport(timeout_s=0.8, ca_bundle=str(make_tls_files(tmp_path).ca))
    sent = WebhookSender(db, transport, allow_private=True, clock=clock).send(delivery_id)
    transport.close()
    assert sent.status == "retrying"
    assert "connection" in delivery(db, delivery_id).last_error and receiver.received == []


def test_erasure_drops_what_was_queued_and_only_call_erased_is_sent(db, receiver, sender, clock):
    from receptionist.core.models import Tombstone

    account = make_account(db)
    add_endpoint(db, account, receiver, "/crm")
    sid = make_call(db, account)
    [completed] = call_ended(db, sid)
    with db.session() as session:  # what privacy.erasure does in the erasure's transaction
        session.query(Call).filter(Call.call_sid == sid).delete()
        session.add(Tombstone(call_sid=sid, account_id=account, erased_by="test", reason="request", removed={}))
        session.flush()
        [erased] = events.call_erased(session, account, sid, clock(), "request")
        assert events.lead_captured(session, Call(call_sid=sid, account_id=account, from_number="+1",
                                                  to_number="+1", lead={"name": "x"}), PUBLIC_URL) == []
    assert sender.send(completed).status == "skipped"  # dropped: not due any more
    assert delivery(db, completed).status == "dropped" and delivery(db, completed).payload is None
    assert sender.send(erased).status == "delivered"
    assert [r.event["type"] for r in receiver.received] == ["call.erased"]
    assert receiver.received[0].event["data"] == {"call_sid": sid, "account_id": account,
                                                  "erased_at": receiver.received[0].event["data"]["erased_at"],
                                                  "reason": "request"}
    with db.session() as session:
        with pytest.raises(Exception, match="dropped"):
            resend(session, completed)


def test_rotation_signs_with_both_secrets_for_the_grace(db, receiver, sender):
    from standardwebhooks.webhooks import Webhook

    account = make_account(db)
    endpoint = add_endpoint(db, account, receiver, "/crm")
    with db.session() as session:
        stored = session.get(WebhookEndpoint, endpoint.id)
        new_secret = endpoints.change(session, stored, rotate_secret=True, allow_private=True)
    assert new_secret != endpoint.secret
    [delivery_id] = call_ended(db, make_call(db, account))
    assert sender.send(delivery_id).status == "delivered"  # the receiver still holds the old secret
    got = receiver.received[0]
    assert Webhook(new_secret).verify(got.body, got.headers)
    assert len(got.headers["webhook-signature"].split()) == 2


def test_a_sender_killed_mid_attempt_is_taken_over_once_its_lease_lapses(db, receiver, sender, clock):
    account = make_account(db)
    add_endpoint(db, account, receiver, "/crm")
    [delivery_id] = call_ended(db, make_call(db, account))
    assert sender._claim(delivery_id)[0] == 1  # claimed, then the worker died before sending
    assert sender.send(delivery_id).status == "skipped"  # its lease still holds: nobody else sends
    clock.advance(seconds=sender.lease.total_seconds() + 1)
    assert sender.send(delivery_id).status == "delivered"
    row = delivery(db, delivery_id)
    assert (row.status, row.attempts) == ("delivered", 2) and len(receiver.accepted()) == 1
    assert [entry["attempt"] for entry in row.log] == [2]  # the dead attempt sent nothing and recorded nothing


def test_a_late_answer_from_an_attempt_taken_over_is_not_recorded(db, receiver, sender, clock):
    """The fence: an attempt whose lease lapsed and was taken over records nothing when it finally returns."""
    from receptionist.webhooks.transport import Response

    account = make_account(db)
    add_endpoint(db, account, receiver, "/crm")
    [delivery_id] = call_ended(db, make_call(db, account))
    first = sender._claim(delivery_id)[0]
    clock.advance(seconds=sender.lease.total_seconds() + 1)
    assert sender.send(delivery_id).status == "delivered"
    late = sender._record(delivery_id, first, Response(500, "HTTP 500", None, 5, False), clock())
    assert late.status == "skipped" and delivery(db, delivery_id).status == "delivered"

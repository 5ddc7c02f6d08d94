"""A transferred call through the worker: the person the call went to is `staff` in the stored
transcript, in what the summary is given and in the training export."""

from __future__ import annotations

import json

from sqlalchemy import select

from receptionist.core.models import Call
from receptionist.core.templates import Templates
from receptionist.privacy.training import export_training_set
from receptionist.storage.objects import transcript_key
from sandbox.speech import CALLER, RECEPTIONIST, STAFF, synthesize_call
from tests.support.calls import run_burst
from tests.support.world import BUSINESS_NUMBER, CALLER_NUMBER

GREETING = "Thanks for calling Acme Plumbing. How can I help you today?"
ASKED = "Hi, I would like to talk to a person about a quote for a new water heater."
TRANSFER = "Please hold while I connect you to someone at Acme Plumbing."
STAFF_LINES = ("Hello, this is the office manager speaking. What can I do for you?",
               "Sure, we can send someone on Monday morning to take a look at it.")


def test_the_person_after_a_transfer_is_staff_everywhere(pg_service, make_context, twilio_api, smtp, tmp_path):
    account = pg_service.create_account(transfer_number="+13125550177")
    ctx = make_context(pg_service.settings)
    audio = synthesize_call([(RECEPTIONIST, GREETING), (CALLER, ASKED), (RECEPTIONIST, TRANSFER),
                             (STAFF, STAFF_LINES[0]), (CALLER, "I need a quote for a new water heater, please."),
                             (STAFF, STAFF_LINES[1])], tmp_path / "call.wav", gap_s=0.8)
    call = pg_service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    pg_service.hear(call.call_sid, [(RECEPTIONIST, GREETING), (CALLER, ASKED.lower())])
    with pg_service.app.state.services.db.session() as session:  # as the relay and its action left them
        row = session.scalar(select(Call).where(Call.call_sid == call.call_sid))
        row.handoff = {"reason": "the caller asked for a person", "transfer_to": "+13125550177"}
        row.said = [{"kind": "transfer", "text": TRANSFER, "at": row.started_at.isoformat()}]
    pg_service.player.end(call, duration_s=round(audio.duration_s))
    assert pg_service.player.record(call, audio.path.read_bytes(), "RE" + call.call_sid[2:]) == "completed"
    run_burst(ctx)

    detail = pg_service.call(call.call_sid)
    assert detail["processing_status"] == "done", detail["processing_error"]
    segments = detail["transcript"]
    speakers = [s["speaker"] for s in segments]
    turns = [speaker for i, speaker in enumerate(speakers) if i == 0 or speakers[i - 1] != speaker]
    # (Turns: Whisper may split an utterance, or add a "Thank you." at its end.)
    assert turns == [RECEPTIONIST, CALLER, RECEPTIONIST, STAFF, CALLER, STAFF], segments
    assert [s["text"] for s in segments if s["speaker"] == RECEPTIONIST] == [GREETING, TRANSFER]
    assert "monday" in " ".join(s["text"] for s in segments if s["speaker"] == STAFF).lower()

    # The summary's model is told who spoke: the staff member's words are not the receptionist's.
    told = Templates.packaged().render("summary_user.txt", caller_id=CALLER_NUMBER, conversation=detail["conversation"],
                                       transcript=segments, live_lead="{}")
    assert "Staff: " in told and not any(f"Receptionist: {s['text']}" in told
                                         for s in segments if s["speaker"] == STAFF)

    export = export_training_set(ctx.db, ctx.store, tmp_path / "training", account_id=account["id"])
    records = [json.loads(line) for line in export.records_path.read_text().splitlines()]
    assert [r["call_sid"] for r in records] == [call.call_sid]
    assert [s["speaker"] for s in records[0]["segments"]] == [s["speaker"] for s in segments]
    stored = json.loads(ctx.store.get(transcript_key(account["id"], call.call_sid)))
    assert [s["speaker"] for s in stored["segments"]].count(STAFF) == 2

"""One whole call through HTTP on PostgreSQL, Redis, SeaweedFS and SMTP with real speech."""

from __future__ import annotations

import asyncio
import json

from receptionist.storage.objects import recording_key, transcript_key
from sandbox.speech import synthesize_call
from tests.support.calls import run_burst
from tests.support.world import BUSINESS_NUMBER, CALL_TURNS, CALLER_NUMBER, OWNER_EMAIL

SPEECH_CHARS_PER_S = 300.0  # the receptionist's words play faster than speech, to keep the test short


async def talk(service, call, lines: list[str]) -> None:
    """The caller talks with the receptionist over the ConversationRelay the answer connected, as
    Twilio plays it, then hangs up; the status callback reaches the service before the socket closes."""
    async with service.player.relay(call, chars_per_s=SPEECH_CHARS_PER_S) as relay:
        for line in lines:
            heard = await relay.say(line)
            assert heard.text or heard.end
        await service.player.hang_up(call, relay, status_first=True, duration_s=30)
        assert relay.rejected == [] and relay.withheld == []


def test_whole_call_lands_encrypted_tagged_and_alerted(pg_service, make_context, twilio_api, smtp, tmp_path):
    service = pg_service
    account = service.create_account()
    ctx = make_context(service.settings)
    s3 = ctx.store.client
    s3.put_bucket_versioning(Bucket=ctx.store.bucket, VersioningConfiguration={"Status": "Enabled"})

    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    asyncio.run(talk(service, call, [text for speaker, text in CALL_TURNS if speaker == "caller"]))
    recording_sid = "RE" + call.call_sid[2:]
    # The recording holds what was said: the caller's lines, and on the second channel the
    # receptionist's words as the relay spoke them (real speech, espeak-ng for Twilio's voice).
    spoken = [(t["speaker"], t["text"]) for t in service.call(call.call_sid)["conversation"]]
    call_audio = synthesize_call(spoken, tmp_path / "call.wav")
    # Twilio finishes the recording the answer started (not trimmed: it lines up with the live turns).
    assert service.player.record(call, call_audio.path.read_bytes(), recording_sid) == "completed"
    run_burst(ctx)

    detail = service.call(call.call_sid)
    assert detail["processing_status"] == "done", detail["processing_error"]
    assert {t["speaker"] for t in detail["conversation"]} == {"caller", "receptionist"}  # heard live
    assert detail["outcome"] not in (None, "missed")  # decided once the relay had stored what was said
    assert detail["duration_s"] == 30 and detail["ended_at"] is not None
    # The media came through Twilio's redirect to its storage, and the credentials stayed at Twilio.
    assert any(path.endswith(f"/{recording_sid}.wav") and not authorised
               for path, authorised in twilio_api.storage_requests)
    speakers = {segment["speaker"] for segment in detail["transcript"]}
    assert speakers == {"caller", "receptionist"}
    caller_text = " ".join(s["text"] for s in detail["transcript"] if s["speaker"] == "caller").lower()
    assert "water heater" in caller_text and "springfield" in caller_text
    # The receptionist's lines word for word, each where it was spoken.
    receptionist = [s for s in detail["transcript"] if s["speaker"] == "receptionist"]
    assert [s["text"] for s in receptionist] == [text for speaker, text in spoken if speaker == "receptionist"]
    placed = [t for t in call_audio.turns if t.speaker == "receptionist"]
    assert all(abs(s["start"] - t.start_s) <= 0.5 for s, t in zip(receptionist, placed)), (receptionist, placed)
    starts = [segment["start"] for segment in detail["transcript"]]
    assert starts == sorted(starts)
    turns = [s["speaker"] for s in detail["transcript"]]
    turns = [speaker for i, speaker in enumerate(turns) if i == 0 or turns[i - 1] != speaker]
    assert turns[:3] == ["receptionist", "caller", "receptionist"]  # interleaved in time, as spoken

    expected_tags = {"retention-days": "90", "training": "allowed", "account": account["id"]}
    for key in (recording_key(account["id"], call.call_sid, "wav"), transcript_key(account["id"], call.call_sid)):
        head = s3.head_object(Bucket=ctx.store.bucket, Key=key)
        assert head["ServerSideEncryption"] == "AES256"  # the server reports it encrypted the object
        assert ctx.store.tags(key) == expected_tags
        versions = s3.list_object_versions(Bucket=ctx.store.bucket, Prefix=key).get("Versions", [])
        assert len(versions) == 1
    stored = json.loads(ctx.store.get(transcript_key(account["id"], call.call_sid)))
    assert stored["segments"] == detail["transcript"]
    assert ctx.store.get(recording_key(account["id"], call.call_sid, "wav")) == call_audio.path.read_bytes()

    emails = smtp.wait_for(1)
    assert len(emails) == 1
    assert emails[0].rcpt_tos == (OWNER_EMAIL,)
    assert "(555) 014-2367" in emails[0].subject  # the caller as the owner reads the number (no name was given)
    body = emails[0].text()
    assert "Caller:" in body and "Receptionist:" in body and "water heater" in body.lower()
    # The owner reads the receptionist's own words, not Whisper's copy of them.
    assert all(f"Receptionist: {text}" in " ".join(body.split()) for speaker, text in spoken
               if speaker == "receptionist"), body

    # A duplicate callback after the work is done enqueues nothing and sends nothing.
    service.player.recording_ready(call, twilio_api.recording_url(recording_sid), 10, recording_sid)
    run_burst(ctx)
    assert len(smtp.messages) == 1
    versions = s3.list_object_versions(Bucket=ctx.store.bucket, Prefix=f"accounts/{account['id']}/").get("Versions", [])
    assert len(versions) == 2

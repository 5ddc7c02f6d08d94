"""Assembles one call's receptionist from the app's services and the call as the database has it."""

from __future__ import annotations

from dataclasses import dataclass

from receptionist.agent.events import Voice
from receptionist.agent.lines import Lines
from receptionist.agent.llm import ChatModel
from receptionist.agent.offline import OfflineIntake
from receptionist.agent.profile import BusinessProfile
from receptionist.agent.prompt import system_prompt
from receptionist.agent.receptionist import Receptionist
from receptionist.agent.record import CallRecord
from receptionist.agent.tools import TOOLS, ToolBox
from receptionist.calls.conversations import CallJournal, LiveCall
from receptionist.services import AppServices


@dataclass
class CallSession:
    receptionist: Receptionist
    journal: CallJournal

    async def close(self) -> None:
        """The relay is gone: stop talking, then wait until everything heard is stored."""
        await self.receptionist.close()
        await self.journal.close()


def open_session(svc: AppServices, call: LiveCall, voice: Voice) -> CallSession:
    profile = BusinessProfile.build(name=call.business_name, timezone=call.timezone, business=call.business,
                                    transfer_number=call.transfer_number, business_number=call.to_number,
                                    caller_number=call.from_number)
    record = CallRecord(conversation=call.conversation, lead=call.lead, handoff=call.handoff, outcome=call.outcome,
                        clock=svc.clock)
    journal = CallJournal(svc.conversations.writer, call.call_sid, record.snapshot)
    record.on_change = journal.mark
    lines = Lines(svc.templates)
    tools = ToolBox(profile, record, lines, svc.clock)
    model = ChatModel(svc.llm, svc.settings.llm_model, TOOLS) if svc.llm is not None else None
    greeting = call.greeting or svc.templates.render("greeting.txt", business_name=call.business_name)
    receptionist = Receptionist(
        record=record, voice=voice, lines=lines, tools=tools, offline=OfflineIntake(profile, record, lines, tools),
        model=model, system_prompt=system_prompt(svc.templates, profile, svc.clock()) if model else "",
        greeting=greeting, call_sid=call.call_sid,
    )
    return CallSession(receptionist, journal)

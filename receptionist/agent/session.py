"""Assembles one call's receptionist from the call as the database has it and what the process built once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from receptionist.agent.events import Voice
from receptionist.agent.lines import TOOL_RESULTS_TEMPLATE, Lines
from receptionist.agent.llm import LlmClients
from receptionist.agent.offline import OfflineIntake
from receptionist.agent.profile import BusinessProfile
from receptionist.agent.prompt import system_prompt
from receptionist.agent.receptionist import Receptionist
from receptionist.agent.record import CallRecord
from receptionist.agent.tools import ToolBox, tool_schemas
from receptionist.calls.conversations import CallJournal, ConversationWriter, LiveCall
from receptionist.core.templates import Templates


@dataclass
class CallSession:
    receptionist: Receptionist
    journal: CallJournal

    async def close(self) -> None:
        """The relay is gone: stop talking, then wait until everything heard is stored."""
        await self.receptionist.close()
        await self.journal.close()


def open_session(call: LiveCall, voice: Voice, *, session_id: str, templates: Templates, llm: LlmClients,
                 writer: ConversationWriter, clock: Callable[[], datetime], resumed: bool = False) -> CallSession:
    """`resumed`: a reconnect after a failed session; there is no welcome greeting to record, the
    receptionist carries on from the stored turns."""
    lines = Lines(templates)
    profile = BusinessProfile.build(name=call.business_name, timezone=call.timezone, business=call.business,
                                    transfer_number=call.transfer_number, business_number=call.to_number,
                                    caller_number=call.from_number, lines=lines)
    record = CallRecord(conversation=call.conversation, lead=call.lead, handoff=call.handoff, outcome=call.outcome,
                        clock=clock)
    journal = CallJournal(writer, call.call_sid, session_id, record.snapshot)
    record.on_change = journal.mark
    tools = ToolBox(profile, record, lines, clock, notes=templates.macros(TOOL_RESULTS_TEMPLATE))
    model = llm.chat_model(tool_schemas(templates))
    greeting = "" if resumed else call.greeting or templates.render("greeting.txt", business_name=call.business_name)
    receptionist = Receptionist(
        record=record, voice=voice, lines=lines, tools=tools, offline=OfflineIntake(profile, record, lines, tools),
        model=model, system_prompt=system_prompt(templates, profile, clock()) if model else "",
        greeting=greeting, call_sid=call.call_sid,
    )
    return CallSession(receptionist, journal)

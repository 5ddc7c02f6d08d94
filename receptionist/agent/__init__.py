"""The receptionist's side of the conversation: the only code that talks to an LLM.

It never sees a websocket or a Twilio message. `receptionist.telephony.relay` hands it plain events
(`events.py`: the caller said, interrupted, pressed a key) and a `Voice` to speak through; it
answers with the LLM (`llm.py`, tools in `tools.py`, instructions from `prompt.py`) or, with no LLM
configured or the LLM failing, with the profile-driven intake in `offline.py`.
"""

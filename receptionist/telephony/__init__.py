"""The Twilio edge: the only code that knows Twilio's form parameters, TwiML, signatures,
ConversationRelay messages and REST API.

It hands the rest of the product plain typed events (`receptionist.calls.events`,
`receptionist.agent.events`) and takes plain values back; the domain reaches Twilio's REST API only
through the `TelephonyApi` port (`receptionist.core.ports`), which `rest.TwilioRest` implements.
"""

from __future__ import annotations

from fastapi import FastAPI

from receptionist.settings import Settings
from receptionist.telephony import relay, sms, webhooks
from receptionist.telephony.relay_token import RelayTokens
from receptionist.telephony.signature import SignatureChecker


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the Twilio routes on `app`, checking signatures with the account's auth token."""
    app.state.twilio_signatures = SignatureChecker(settings.twilio_auth_token, settings.public_url)
    app.state.relay_tokens = RelayTokens(settings.twilio_auth_token)
    for router in (webhooks.router, relay.router, sms.router):
        app.include_router(router)

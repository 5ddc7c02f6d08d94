"""Outbound webhooks: endpoints an account chose, events recorded in an outbox, signed per Standard
Webhooks and delivered exactly once per event and endpoint (docs/webhooks.md)."""

"""Telling people: owner alerts by email and SMS (exactly once), who may be texted (STOP/START),
and the missed-call text-back."""

"""The Twilio edge: the only code that knows Twilio's form parameters, TwiML, signatures and REST API.

It hands the rest of the product plain typed events (`events.py`) and takes plain values back.
"""

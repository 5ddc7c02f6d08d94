"""AI receptionist call pipeline: Twilio in, encrypted transcripts and owner alerts out."""

__version__ = "0.1.0"

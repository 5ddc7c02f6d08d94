"""What the worker does with a finished call: download and decode the recording, transcribe it,
summarise it and extract the lead, store it encrypted, and hand it to the owner's alerts."""

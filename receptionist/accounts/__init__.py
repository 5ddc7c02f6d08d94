"""Accounts, users and who may do what: the one code path the API, the dashboard and the CLI share.
No HTTP here: it raises domain errors (`receptionist.core.errors`), which the surfaces translate."""

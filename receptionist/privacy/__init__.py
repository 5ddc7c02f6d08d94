"""The privacy promises as code: retention tiers and re-tagging, the retention sweep, erasure,
export of a caller's or an account's data, the training export and its redaction."""

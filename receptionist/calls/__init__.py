"""A call's life in the database: routing a number to its account, the call row from the voice
webhook to its final status, the live conversation written behind the relay, and the lead."""

"""The admin/owner JSON API."""

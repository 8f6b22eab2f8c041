"""Plumbing the services share: settings base, HTTP client with retries, metrics, database
base, loop runner, error handlers, JSON helpers. No protocol rules live here."""

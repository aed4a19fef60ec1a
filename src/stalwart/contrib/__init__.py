"""Integrations with third-party agent frameworks (each behind its own optional extra)."""

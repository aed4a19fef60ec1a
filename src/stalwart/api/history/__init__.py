"""Temporal API history messages (see ``v1``)."""

"""Temporal API enums (see ``v1``)."""

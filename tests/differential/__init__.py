"""Differential testing against a real Temporal server; see ``harness``."""

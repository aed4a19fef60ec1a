"""Runnable examples of Stalwart workflows."""

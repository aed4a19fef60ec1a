"""See main.py."""

"""See ``stalwart.api``."""

"""The engine: worker loops that claim tasks, run activations and activities, and commit."""

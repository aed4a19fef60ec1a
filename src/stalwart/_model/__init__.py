"""Leaf data types shared by the runtime, the store and the engine. Imports nothing above it."""

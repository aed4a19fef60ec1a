"""The deterministic workflow runtime: history events in, commands out. Knows no SQL, no I/O."""

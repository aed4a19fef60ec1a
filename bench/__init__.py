"""Stalwart's benchmark suite: workloads B1-B6 and the SQLite commit floor."""

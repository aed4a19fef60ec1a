"""One module per workload; each exposes ``NAME`` and ``async run(config) -> metrics``."""

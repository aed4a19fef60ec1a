"""The stalwart command line."""

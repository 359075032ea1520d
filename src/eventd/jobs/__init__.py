"""Scheduled jobs: one scheduler; each feature registers its own jobs."""

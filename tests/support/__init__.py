"""Helpers the test suites share: databases, Redis, live processes."""

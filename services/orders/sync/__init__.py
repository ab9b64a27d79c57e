"""The two-way sync integration: runs beside one instance and talks to its peer over
the peer's public GET, POST and PUT only. See docs/two-way-sync.md."""

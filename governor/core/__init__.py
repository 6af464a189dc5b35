"""The functional core: domain values, TimeSpan, the errors the service understands, and the
rules (`policy/`) as pure functions. Imports nothing with I/O (docs/architecture.md)."""

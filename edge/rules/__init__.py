"""Pure rules: readings and an injected clock in, events out. No I/O here."""

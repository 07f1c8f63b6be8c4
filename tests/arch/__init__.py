"""The architecture checker: the import rules and the code that enforces them."""

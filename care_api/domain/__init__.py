"""The care domain: pure rules and value types, no framework and no I/O."""

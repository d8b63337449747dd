"""The IR: op records, the graph wrapper, verifier, YAML form and shape rules."""

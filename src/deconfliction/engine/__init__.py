"""The rules: model, events, strategic and tactical detection, and the Engine."""

"""sources: read resources from files or a live cluster as plain dicts of one shape."""

"""write: stage the rendered text beside its destination, check it, rename it into place."""

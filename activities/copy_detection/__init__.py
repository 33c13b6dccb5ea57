"""Copy detection for listings (ASSOC-3): image and text signatures and the index that finds near-duplicates."""

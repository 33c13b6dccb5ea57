"""Products: the listing input checks (OPEN-3)."""

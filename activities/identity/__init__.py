"""Identity canonicalisation and name screening: canonical identifiers, homoglyphs, store-name screening."""

"""Worker plumbing: activity supervision, failure kinds and heartbeats."""

"""Local stand-ins for production services: the Temporal dev server and an SMTP sink."""

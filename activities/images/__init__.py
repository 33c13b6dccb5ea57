"""The one bounded image decoder every picture goes through."""

"""The commands of `starter.py`, one module per kind of caller; `starter.py` groups them."""

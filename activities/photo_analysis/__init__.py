"""Photo analysis the identity photo activities call: the card found, straightened and read, and the cues of a live photo (OPEN-1)."""

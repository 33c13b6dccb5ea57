"""The codec, command credentials and signing, and the codec server's access rules."""

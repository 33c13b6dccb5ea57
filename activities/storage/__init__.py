"""Storage the activities use: the blob store and the database engine."""

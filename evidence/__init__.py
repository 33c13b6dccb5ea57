"""The evidence page (issue 25): review items and their evidence for signed-in operators, served by the
codec server beside /decode. `source` reads items and evidence from Temporal and the registry,
`images` re-encodes pictures on the way out, `page` renders and serves them."""

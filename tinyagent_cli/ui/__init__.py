"""Terminal faces: the plan tree, live status, confirmation and the REPL."""

"""The activity index and the behaviour features computed from it."""

"""The data model: canonical columns, column roles, the clean report, ContactBase, Segment."""

"""What leaves segexplore: suppressions, the sendable waterfall, exports, splits, catalogs, privacy."""

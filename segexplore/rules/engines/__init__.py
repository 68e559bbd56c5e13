"""The engines that evaluate a rule: pandas/numpy (the reference) and SQL (sqlglot)."""

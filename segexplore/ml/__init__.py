"""Models over a base: cluster discovery, propensity and churn scores, A/B read-outs."""

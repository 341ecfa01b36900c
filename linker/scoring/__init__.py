"""Scoring: cluster features -> risk in [0, 1] with plain-language reasons.

``features`` measures each cluster on its linked members (identifier reuse, timing, IP
context, held template families and each member's part in them); ``model`` combines
them (logistic, weights in RiskSettings) and scores accounts on their own part;
``reasons`` says why; ``evaluate`` scores a run against labels."""

"""Precision marketing (issue 14, docs/marketing.md): shopper profiles and their tags,
segments, triggers that act within seconds of a visit, one contact budget across every
channel, and the closed loop measured against holdouts."""

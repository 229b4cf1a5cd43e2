"""Pure statistics shared by the domains' reports: a proportion's Wilson score interval and
the difference of two proportions' Newcombe hybrid score interval (ads/reports.py's lift,
marketing/reports.py's uplift against a trigger's holdout)."""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile: a two-sided 95 % interval


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    if n <= 0:
        raise ValueError("no trials")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(x1: int, n1: int, x0: int, n0: int, z: float = Z95) -> tuple[float, float, float]:
    """p1 − p0 and its interval by Newcombe's hybrid score method (1998, method 10): each
    group's Wilson interval (l, u), then d − √((p1−l1)² + (u0−p0)²) … d + √((u1−p1)² +
    (p0−l0)²). Unlike the plain Wald interval it stays sensible with rates of 0 or 1."""
    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = wilson(x1, n1, z)
    l0, u0 = wilson(x0, n0, z)
    d = p1 - p0
    return (
        d,
        d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2),
        d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2),
    )

"""What a worker's profile may hold: the same limits on the phone and at the window."""

from __future__ import annotations

WAGE_MIN_YUAN = 30  # a day's wage asked; below, a mistyped amount
WAGE_MAX_YUAN = 3000
NAME_MAX = 64  # the column's width

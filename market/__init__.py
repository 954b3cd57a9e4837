"""The market's rules: identity checks, phones, matching and reservations."""

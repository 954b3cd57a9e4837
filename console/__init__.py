"""What agents use: the JSON API (the console's pages come later)."""

"""Gigline (零工热线): app factory, settings and command line."""

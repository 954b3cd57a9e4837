"""Prompts: the catalogues of what callers hear and SMS say, used by the dialogues and
by the rules that write SMS."""

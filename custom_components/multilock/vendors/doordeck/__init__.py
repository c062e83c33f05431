"""Doordeck cloud locks."""

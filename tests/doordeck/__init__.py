"""Tests of the Doordeck vendor."""

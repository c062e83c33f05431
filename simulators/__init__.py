"""Vendor-side simulators (no Home Assistant import), used by tests and development scripts."""

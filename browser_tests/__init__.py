"""multilock in a real browser: see test_ui.py."""

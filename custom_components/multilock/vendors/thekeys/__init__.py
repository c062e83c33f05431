"""The Keys locks through their local Wi-Fi gateway."""

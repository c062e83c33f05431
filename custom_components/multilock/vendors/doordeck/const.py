"""Constants of the Doordeck vendor."""

from typing import Final

# The vendor's name: stored in entries, and the prefix of its steps, issues and texts.
VENDOR: Final = "doordeck"
MANUFACTURER: Final = "Doordeck"
# Entry data: the client's credentials dict (tokens, signing key, chain, user id).
CONF_CREDENTIALS: Final = "credentials"
CONF_METHOD: Final = "method"
CONF_CODE: Final = "code"
ACCOUNT_KIND: Final = "account"
# Locks that report whether they are locked, and locks whose state is assumed from our own
# commands: their lock entities differ only in ``assumed_state``.
REPORTING_LOCK_KIND: Final = "lock"
ASSUMED_LOCK_KIND: Final = "assumed_lock"
ADMIN_ROLE: Final = "ADMIN"
ROLES: Final = ("USER", "ADMIN")


# The kind of the repair issue asking for a second factor to renew the signing key.
KEY_RENEWAL_ISSUE: Final = "key_renewal"


def key_renewal_issue_id(entry_id: str) -> str:
    """Return the repair issue id asking for a second factor to renew the signing key."""
    return f"doordeck_key_renewal_{entry_id}"

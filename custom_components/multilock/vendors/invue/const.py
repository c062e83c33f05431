"""Constants of the InVue LIVE Lock vendor."""

from datetime import timedelta
from typing import Final

# The vendor's name: stored in entries, and the prefix of its steps, issues and texts.
VENDOR: Final = "invue"
MANUFACTURER: Final = "InVue"

# Entry data.
CONF_API_KEY: Final = "api_key"
CONF_OWNER: Final = "owner"  # the certificate owner (certificate name) the API key belongs to
CONF_INTERMEDIATE: Final = "intermediate"  # the Customer Intermediate Certificate, PEM
# Subentry data of an enrolled lock (never the enrolment code, never the Key Certificate).
CONF_SERIAL: Final = "serial"
CONF_LOCK_TYPE: Final = "lock_type"
CONF_AREA: Final = "area_id"
# Only in the enrolment form.
CONF_ENROLMENT_CODE: Final = "enrolment_code"

SUBENTRY_LOCK: Final = "invue_lock"
ACCOUNT_KIND: Final = "account"
LOCK_KIND: Final = "lock"

# The intermediate certificate is reported this long before it expires.
RENEWAL_NOTICE: Final = timedelta(days=30)

# Repair issue kinds (translation keys ``invue_<kind>``): one issue per entry, whose kind
# follows the certificate from "expiring" to "expired".
INTERMEDIATE_EXPIRING: Final = "intermediate_expiring"
INTERMEDIATE_EXPIRED: Final = "intermediate_expired"

# What a Key Certificate's validity sensor shows.
VALIDITY_VALID: Final = "valid"
VALIDITY_NOT_YET_VALID: Final = "not_yet_valid"
VALIDITY_EXPIRED: Final = "expired"
VALIDITY_OPTIONS: Final = [VALIDITY_VALID, VALIDITY_NOT_YET_VALID, VALIDITY_EXPIRED]


def intermediate_issue_id(entry_id: str) -> str:
    """Return the repair issue id of an account's expiring or expired intermediate."""
    return f"invue_intermediate_{entry_id}"

"""What differs between the Home Assistant releases multilock supports (2026.8 and newer).

Everything here is a name that moved; delete each line once the floor in hacs.json reaches
the release that moved it.
"""

from __future__ import annotations

# Newer releases validate with probatio, voluptuous's API-compatible successor;
# 2026.8 ships voluptuous only.
try:
    import probatio as vol
except ImportError:  # Home Assistant 2026.8
    import voluptuous as vol  # type: ignore[no-redef]

# 2026.10 moved these device classes into the platforms' const modules.
try:
    from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
except ImportError:  # Home Assistant 2026.8 and 2026.9
    from homeassistant.components.binary_sensor import (  # type: ignore[attr-defined, unused-ignore]
        BinarySensorDeviceClass,
    )
try:
    from homeassistant.components.button.const import ButtonDeviceClass
except ImportError:  # Home Assistant 2026.8 and 2026.9
    from homeassistant.components.button import (  # type: ignore[attr-defined, unused-ignore]
        ButtonDeviceClass,
    )

__all__ = ["BinarySensorDeviceClass", "ButtonDeviceClass", "vol"]

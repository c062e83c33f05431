"""What InVue accounts and locks show in Home Assistant: entity descriptions, no logic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import EntityCategory, Platform

from ...coordinator import Descriptions
from ...sensor import MultilockSensorEntityDescription
from .const import ACCOUNT_KIND, LOCK_KIND, VALIDITY_OPTIONS

if TYPE_CHECKING:
    from .coordinator import InVueData, InVueLockData

LOCK_SENSORS: tuple[MultilockSensorEntityDescription[InVueLockData], ...] = (
    MultilockSensorEntityDescription(
        key="key_certificate",
        translation_key="invue_key_certificate",
        device_class=SensorDeviceClass.ENUM,
        options=VALIDITY_OPTIONS,
        value_fn=lambda lock: None if lock.validity is None else lock.validity.value,
    ),
    MultilockSensorEntityDescription(
        key="enrolled_at",
        translation_key="invue_enrolled_at",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda lock: lock.enrolled_at,
    ),
)

ACCOUNT_SENSORS: tuple[MultilockSensorEntityDescription[InVueData], ...] = (
    MultilockSensorEntityDescription(
        key="intermediate_expiry",
        translation_key="invue_intermediate_expiry",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda data: data.intermediate_certificate.not_valid_after,
    ),
)

# InVue locks open only through InVue's mobile SDK over Bluetooth: there is no lock entity.
DESCRIPTIONS: Descriptions = {
    Platform.SENSOR: {LOCK_KIND: LOCK_SENSORS, ACCOUNT_KIND: ACCOUNT_SENSORS},
}

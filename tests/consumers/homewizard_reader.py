"""Reads p1mux as Home Assistant's homewizard integration does, through
python-homewizard-energy, and prints what it got as one JSON object:

    {"library": VERSION, "device": {...}, "data": {...}}

Works with the library Home Assistant uses today (7 and later:
HomeWizardEnergyV1, combined()) and with 6.x (the newest for Python 3.11:
HomeWizardEnergy, device() and data()). The data's field names are 6.x's
(`total_energy_import_kwh`, `active_power_w`...), later versions' renamed
to them, so that one table of expectations serves both.

    homewizard_reader.py HOST[:PORT]          device and data
    homewizard_reader.py HOST[:PORT] stale    one try at the data, without
                                              the library's retries: the
                                              exception's name, or "ok"
"""

import asyncio
import dataclasses
import importlib.metadata
import json
import re
import sys

try:
    from homewizard_energy import HomeWizardEnergyV1 as Api

    MODERN = True
except ImportError:
    from homewizard_energy import HomeWizardEnergy as Api

    MODERN = False

VERSION = importlib.metadata.version("python-homewizard-energy")

# 7.x and later's names -> 6.x's.
RENAME = {
    "protocol_version": "smr_version",
    "unique_id": "unique_meter_id",
    "tariff": "active_tariff",
    "average_power_15m_w": "active_power_average_w",
    "frequency_hz": "active_frequency_hz",
}


def old_name(name):
    if name in RENAME:
        return RENAME[name]
    if re.match(r"energy_(import|export)", name):
        return "total_" + name
    if re.match(r"(power|voltage|current|apparent_power|reactive_power)(_l\d)?_(w|v|a|va|var)$", name):
        return "active_" + name
    if name.startswith("power_factor"):
        return "active_" + name
    return name


def external(devices):
    """{key: {unique_id, type, value, unit, timestamp}} whatever the version."""
    if devices is None:
        return None
    out = {}
    for key, d in devices.items():
        d = d if isinstance(d, dict) else dataclasses.asdict(d)
        kind = d.get("type", d.get("meter_type"))
        kind = getattr(kind, "name", kind)
        out[key] = {
            "unique_id": d["unique_id"],
            "type": str(kind).lower(),
            "value": d["value"],
            "unit": d["unit"],
            "timestamp": str(d["timestamp"]),
        }
    return out


async def read(api):
    if MODERN:
        combined = await api.combined()
        device, measurement = combined.device, combined.measurement
        data = {old_name(k): v for k, v in dataclasses.asdict(measurement).items()}
    else:
        device = await api.device()
        data = dataclasses.asdict(await api.data())
    data["external_devices"] = external(data.get("external_devices"))
    fields = ("product_name", "product_type", "serial", "api_version", "firmware_version")
    return {
        "library": VERSION,
        "device": {k: str(getattr(device, k)) for k in fields},
        "data": data,
    }


async def main(host, mode):
    async with Api(host, timeout=5) as api:
        if mode == "stale":
            # The request method retries with back-off; Home Assistant's
            # coordinator then marks the sensors unavailable. One try
            # says the same.
            request = Api._request if MODERN else Api.request
            try:
                await request.__wrapped__(api, "api/v1/data")
                print(json.dumps({"result": "ok"}))
            except Exception as e:  # noqa: BLE001 - the name is the answer
                print(json.dumps({"result": type(e).__name__, "text": str(e)}))
            return
        print(json.dumps(await read(api), default=str))


asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "read"))

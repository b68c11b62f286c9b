"""Reads p1mux as Home Assistant's homewizard integration does, through
python-homewizard-energy, and prints what it got as one JSON object.

    homewizard_reader.py HOST:PORT          device and data
    homewizard_reader.py HOST:PORT stale    one try at the data, without
                                            the library's retries: the
                                            exception's name, or "ok"
"""

import asyncio
import dataclasses
import json
import sys

from homewizard_energy import HomeWizardEnergy


async def main(host, mode):
    async with HomeWizardEnergy(host, timeout=5) as api:
        if mode == "stale":
            # request() retries with back-off; Home Assistant's coordinator
            # then marks the sensors unavailable. One try says the same.
            try:
                await HomeWizardEnergy.request.__wrapped__(api, "api/v1/data")
                print(json.dumps({"result": "ok"}))
            except Exception as e:  # noqa: BLE001 - the name is the answer
                print(json.dumps({"result": type(e).__name__, "text": str(e)}))
            return
        device = await api.device()
        data = await api.data()
        out = {
            "device": {k: v for k, v in dataclasses.asdict(device).items() if k != "product"},
            "data": dataclasses.asdict(data),
        }
        print(json.dumps(out, default=str))


asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "read"))

"""Home Assistant's own DSMR config flow against a p1mux port (issue 18).

When a user adds the DSMR integration (connection type "network"), Home
Assistant's config flow connects with dsmr_parser and closes the connection
from the first telegram's callback, through a variable that is assigned
only once the connect call has returned. A telegram in the very first read
therefore logs an ERROR (NameError: cannot access free variable
'transport'). This runs that validation (homeassistant.components.dsmr.
config_flow._validate_dsmr_connection, the step the flow runs) SETUPS times
against `p1mux serve --demo --listen 127.0.0.1:PORT` and counts the setups
that logged an error.

Not part of `cargo test` (Home Assistant is a large install, and needs
Python 3.13): a reproduction to run by hand.

    python3.13 -m venv /tmp/ha && /tmp/ha/bin/pip install homeassistant dsmr_parser
    target/release/p1mux serve --demo --listen 127.0.0.1:28125 &
    /tmp/ha/bin/python tests/consumers/ha_dsmr_config_flow.py 28125 20

Measured with Home Assistant 2025.4.4 (dsmr_parser 1.11.2): p1mux before the
held replay, 15 of 20 setups logged the NameError; with it, 0 of 20.
"""

import asyncio
import logging
import sys
import tempfile
import time

from homeassistant.components.dsmr.config_flow import _validate_dsmr_connection
from homeassistant.components.dsmr.const import DSMR_PROTOCOL
from homeassistant.core import HomeAssistant


class Errors(logging.Handler):
    """Every ERROR record, from any logger."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records = []

    def emit(self, record):
        self.records.append(record)


async def main(port: int, setups: int) -> int:
    hass = HomeAssistant(tempfile.mkdtemp())
    errors = Errors()
    logging.getLogger().addHandler(errors)
    bad = 0
    for i in range(setups):
        before = len(errors.records)
        started = time.monotonic()
        data = {"host": "127.0.0.1", "port": port, "dsmr_version": "5"}
        info = await _validate_dsmr_connection(hass, data, DSMR_PROTOCOL)
        took = time.monotonic() - started
        new = [
            f"{r.getMessage().splitlines()[0]} {r.exc_info[1]!r}" if r.exc_info else r.getMessage()
            for r in errors.records[before:]
        ]
        bad += bool(new)
        print(f"setup {i + 1}: serial id {info.get('serial_id')!r} in {took:.2f}s; errors: {new}")
        # The demo meter sends a telegram a second: after this pause the
        # next setup is a newcomer to it again, and gets the replay.
        await asyncio.sleep(1.5)
    print(f"{bad} of {setups} setups logged an error")
    return 1 if bad else 0


if __name__ == "__main__":
    # ERROR and above reach the counter (and nothing prints the tracebacks).
    logging.getLogger().setLevel(logging.ERROR)
    sys.exit(asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]))))

"""Reads p1mux the way Home Assistant's DSMR integration does.

Home Assistant connects with dsmr_parser's create_tcp_dsmr_reader (connection
type "network"); this script does the same and prints, for each telegram it
parsed, the values Home Assistant shows: one line of key=value pairs. Time
stamps are printed as the UTC times dsmr_parser made of them, so that the
meaning of the W/S suffix (CET/CEST) is checked too.

usage: dsmr_parser_reader.py HOST PORT DSMR_VERSION COUNT
Prints "connected" once the TCP connection is up, then COUNT telegram lines.
Exits 1 if COUNT telegrams did not arrive within 20 seconds.
"""

import asyncio
import sys

from dsmr_parser.clients.protocol import create_tcp_dsmr_reader

FIELDS = {
    "used_t1": "ELECTRICITY_USED_TARIFF_1",
    "used_t2": "ELECTRICITY_USED_TARIFF_2",
    "delivered_t1": "ELECTRICITY_DELIVERED_TARIFF_1",
    "delivered_t2": "ELECTRICITY_DELIVERED_TARIFF_2",
    "power_used": "CURRENT_ELECTRICITY_USAGE",
    "power_delivered": "CURRENT_ELECTRICITY_DELIVERY",
}
GAS = ("MBUS_METER_READING", "HOURLY_GAS_METER_READING", "GAS_METER_READING")


def values(telegram, version):
    out = {}
    for key, name in FIELDS.items():
        obj = getattr(telegram, name, None)
        if obj is not None:
            out[key] = obj.value
    stamp = getattr(telegram, "P1_MESSAGE_TIMESTAMP", None)
    if stamp is not None:
        out["time"] = stamp.value.isoformat()
    gas = None
    # With several M-Bus devices the gas meter is the one reading m3.
    for device in getattr(telegram, "MBUS_DEVICES", []) or []:
        for name in GAS:
            obj = getattr(device, name, None)
            if obj is not None and obj.unit == "m3":
                gas = obj
    for name in GAS:
        if gas is None:
            gas = getattr(telegram, name, None)
    if gas is not None:
        out["gas"] = gas.value
        # DSMR 4/5 stamp the reading on its own line; 2.2 has no time zone.
        if version != "2.2":
            out["gas_time"] = gas.datetime.isoformat()
    return out


async def main(host, port, version, count):
    done = asyncio.get_running_loop().create_future()
    seen = []

    def on_telegram(telegram):
        fields = values(telegram, version)
        print(" ".join(f"{k}={fields[k]}" for k in sorted(fields)), flush=True)
        seen.append(fields)
        if len(seen) >= count and not done.done():
            done.set_result(None)

    conn = create_tcp_dsmr_reader(host, port, version, on_telegram,
                                  loop=asyncio.get_running_loop())
    transport, _ = await asyncio.wait_for(conn, 10)
    print("connected", flush=True)
    try:
        await asyncio.wait_for(done, 20)
    finally:
        transport.close()


if __name__ == "__main__":
    host, port, version, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    try:
        asyncio.run(main(host, port, version, count))
    except asyncio.TimeoutError:
        print("timed out", file=sys.stderr)
        sys.exit(1)

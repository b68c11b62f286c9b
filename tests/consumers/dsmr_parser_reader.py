"""Reads p1mux the way Home Assistant's DSMR integration does.

Home Assistant connects with dsmr_parser's create_tcp_dsmr_reader (connection
type "network"); this script does the same and prints, for each telegram it
parsed, the values Home Assistant shows: one line of key=value pairs. Time
stamps are printed as the UTC times dsmr_parser made of them, so that the
meaning of the W/S suffix (CET/CEST) is checked too.

usage: dsmr_parser_reader.py [--smarty] [--key KEY AUTH_KEY] HOST PORT DSMR_VERSION COUNT

By default a Dutch meter's values (tariffs, gas, time stamps); with
--smarty an encrypted Luxembourg Smarty's. With --key (32 hex digits each)
dsmr_parser decrypts the frames itself, as it does for a meter type with
encryption (MSn), from the frames p1mux passes through; without, it reads
plain telegrams (5L for the ones p1mux decrypted).
Prints "connected" once the TCP connection is up, then COUNT telegram lines.
Exits 1 if COUNT telegrams did not arrive within 20 seconds.
"""

import argparse
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
SMARTY_FIELDS = {
    "imported": "ELECTRICITY_IMPORTED_TOTAL",
    "exported": "ELECTRICITY_EXPORTED_TOTAL",
    "power_used": "CURRENT_ELECTRICITY_USAGE",
    "power_delivered": "CURRENT_ELECTRICITY_DELIVERY",
    "voltage_l1": "INSTANTANEOUS_VOLTAGE_L1",
    "equipment": "LUXEMBOURG_EQUIPMENT_IDENTIFIER",
}
GAS = ("MBUS_METER_READING", "HOURLY_GAS_METER_READING", "GAS_METER_READING")


def fields_of(telegram, fields):
    out = {}
    for key, name in fields.items():
        obj = getattr(telegram, name, None)
        if obj is not None:
            out[key] = obj.value
    return out


def values(telegram, version):
    out = fields_of(telegram, FIELDS)
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


async def main(args):
    done = asyncio.get_running_loop().create_future()
    seen = []

    def on_telegram(telegram):
        if args.smarty:
            fields = fields_of(telegram, SMARTY_FIELDS)
        else:
            fields = values(telegram, args.version)
        print(" ".join(f"{k}={fields[k]}" for k in sorted(fields)), flush=True)
        seen.append(fields)
        if len(seen) >= args.count and not done.done():
            done.set_result(None)

    key, auth_key = args.key or ("", "")
    conn = create_tcp_dsmr_reader(args.host, args.port, args.version, on_telegram,
                                  loop=asyncio.get_running_loop(),
                                  encryption_key=key, authentication_key=auth_key)
    transport, _ = await asyncio.wait_for(conn, 10)
    print("connected", flush=True)
    try:
        await asyncio.wait_for(done, 20)
    finally:
        transport.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smarty", action="store_true")
    parser.add_argument("--key", nargs=2, metavar=("KEY", "AUTH_KEY"))
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("version")
    parser.add_argument("count", type=int)
    try:
        asyncio.run(main(parser.parse_args()))
    except asyncio.TimeoutError:
        print("timed out", file=sys.stderr)
        sys.exit(1)

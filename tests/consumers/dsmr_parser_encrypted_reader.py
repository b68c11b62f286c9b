"""Reads an encrypted meter through p1mux the way Home Assistant's DSMR
integration does: dsmr_parser's TCP reader (connection type "network").

usage: dsmr_parser_encrypted_reader.py HOST PORT DSMR_VERSION COUNT [KEY AUTH_KEY]

With KEY (32 hex digits) dsmr_parser decrypts the frames itself, as it does
for a meter type with encryption (MSn: the Luxembourg Smarty), from the
frames p1mux passes through; without, it reads the plain telegrams p1mux
decrypted (5L). Prints "connected" once the TCP connection is up, then for
each telegram one line of key=value pairs, the values Home Assistant shows.
Exits 1 if COUNT telegrams did not arrive within 20 seconds.
"""

import asyncio
import sys

from dsmr_parser.clients.protocol import create_tcp_dsmr_reader

FIELDS = {
    "imported": "ELECTRICITY_IMPORTED_TOTAL",
    "exported": "ELECTRICITY_EXPORTED_TOTAL",
    "power_used": "CURRENT_ELECTRICITY_USAGE",
    "power_delivered": "CURRENT_ELECTRICITY_DELIVERY",
    "voltage_l1": "INSTANTANEOUS_VOLTAGE_L1",
    "equipment": "LUXEMBOURG_EQUIPMENT_IDENTIFIER",
}


async def main(host, port, version, count, key, auth_key):
    done = asyncio.get_running_loop().create_future()
    seen = []

    def on_telegram(telegram):
        fields = {}
        for name, attribute in FIELDS.items():
            obj = getattr(telegram, attribute, None)
            if obj is not None:
                fields[name] = obj.value
        print(" ".join(f"{k}={fields[k]}" for k in sorted(fields)), flush=True)
        seen.append(fields)
        if len(seen) >= count and not done.done():
            done.set_result(None)

    conn = create_tcp_dsmr_reader(host, port, version, on_telegram,
                                  loop=asyncio.get_running_loop(),
                                  encryption_key=key, authentication_key=auth_key)
    transport, _ = await asyncio.wait_for(conn, 10)
    print("connected", flush=True)
    try:
        await asyncio.wait_for(done, 20)
    finally:
        transport.close()


if __name__ == "__main__":
    host, port, version, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    key, auth_key = (sys.argv[5], sys.argv[6]) if len(sys.argv) > 6 else ("", "")
    try:
        asyncio.run(main(host, port, version, count, key, auth_key))
    except asyncio.TimeoutError:
        print("timed out", file=sys.stderr)
        sys.exit(1)

"""Prints what Home Assistant's parser, dsmr_parser, reads from telegrams.

usage: dsmr_parser_values.py SPEC=FILE...
SPEC is a dsmr_parser.telegram_specifications name (V2_2, V5, SWEDEN...).
For each FILE one JSON line: {"file": FILE, "values": [...]}, each value
{"obis", "kind", "value", "unit", "time"} with numbers as dsmr_parser's
Decimal text and times as Unix seconds; or {"file": FILE, "error": "..."}.
"""

import json
import sys
from copy import deepcopy
from datetime import datetime
from decimal import Decimal

from dsmr_parser import telegram_specifications
from dsmr_parser.objects import CosemObject, MBusObject, MBusObjectPeak, ProfileGenericObject
from dsmr_parser.parsers import TelegramParser


def plain(value):
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, Decimal):
        return str(value)
    return None if value is None else str(value)


def entry(obis, obj):
    if isinstance(obj, ProfileGenericObject):
        events = [[plain(e.datetime), plain(e.value)] for e in obj.buffer]
        return {"obis": obis, "kind": "events", "value": events, "unit": None, "time": None}
    if isinstance(obj, (MBusObject, MBusObjectPeak)):
        return {"obis": obis, "kind": "timed", "value": plain(obj.value),
                "unit": obj.unit, "time": plain(obj.datetime)}
    if isinstance(obj, CosemObject):
        return {"obis": obis, "kind": "plain", "value": plain(obj.value), "unit": obj.unit, "time": None}
    return None


def parse(spec_name, path):
    spec = deepcopy(getattr(telegram_specifications, spec_name))
    spec.pop("general_global_cipher", None)  # the samples are decrypted text
    parser = TelegramParser(spec, apply_checksum_validation=True)
    text = open(path, "rb").read().decode("ascii")
    values = []
    for obj_spec in spec["objects"]:
        pattern = parser.telegram_specification_regexes[obj_spec["obis_reference"]]
        for match in pattern.findall(text):
            parsed = obj_spec["value_parser"].parse(match)
            found = entry(match.split("(")[0].strip(), parsed)
            if found is not None:
                values.append(found)
    return values


def main():
    for arg in sys.argv[1:]:
        spec_name, path = arg.split("=", 1)
        try:
            print(json.dumps({"file": path, "values": parse(spec_name, path)}), flush=True)
        except Exception as err:  # reported, so the Rust test names the file
            print(json.dumps({"file": path, "error": repr(err)}), flush=True)


if __name__ == "__main__":
    main()

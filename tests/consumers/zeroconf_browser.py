"""Browses _hwenergy._tcp as Home Assistant's zeroconf discovery does,
with python-zeroconf, and prints one JSON line per event, as it happens:

    {"event": "add"|"update"|"remove", "name": ..., "addresses": [...],
     "port": ..., "txt": {...}}

zeroconf_browser.py [v6]   (v6: IPv6 only). Runs until killed.
"""

import json
import sys
import time

from zeroconf import IPVersion, ServiceBrowser, ServiceListener, Zeroconf

TYPE = "_hwenergy._tcp.local."


class Listener(ServiceListener):
    def report(self, zc, event, name):
        out = {"event": event, "name": name}
        if event != "remove":
            info = zc.get_service_info(TYPE, name, timeout=1500)
            if info is not None:
                out["addresses"] = info.parsed_addresses()
                out["port"] = info.port
                out["txt"] = {
                    k.decode(): (v.decode() if v is not None else None)
                    for k, v in info.properties.items()
                }
        print(json.dumps(out), flush=True)

    def add_service(self, zc, type_, name):
        self.report(zc, "add", name)

    def update_service(self, zc, type_, name):
        self.report(zc, "update", name)

    def remove_service(self, zc, type_, name):
        self.report(zc, "remove", name)


version = IPVersion.V6Only if sys.argv[1:] == ["v6"] else IPVersion.V4Only
zc = Zeroconf(ip_version=version)
browser = ServiceBrowser(zc, TYPE, Listener())
print(json.dumps({"event": "browsing"}), flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    zc.close()

"""
Runs in a lab guest (python3, stdlib only): WORKERS threads each open a new TLS connection to
ADDRESS:PORT (SNI and name check: FQDN; trusted: only the CA file CA) every INTERVAL s for
DURATION s and ask ``GET PATH``; each request's handshake gets the certificate served at that
moment. It stops after DURATION s, or earlier once the file STOP exists. Prints one JSON line:
every request's ``[time, ok, serial (hex) or null, status or error]``.

usage: python3 tls_client.py ADDRESS PORT FQDN CA DURATION [WORKERS] [INTERVAL] [PATH] [STOP]
"""

import json
import os
import socket
import ssl
import sys
import threading
import time


def request(address, port, fqdn, context, path):
    with socket.create_connection((address, port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=fqdn) as tls:
            serial = tls.getpeercert().get("serialNumber")
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {fqdn}\r\nConnection: close\r\n\r\n".encode())
            status = tls.recv(64).split(b"\r\n", 1)[0].decode(errors="replace")
    return serial, status


def main():
    address, port, fqdn, ca, duration = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
    workers = int(sys.argv[6]) if len(sys.argv) > 6 else 4
    interval = float(sys.argv[7]) if len(sys.argv) > 7 else 0.1
    path = sys.argv[8] if len(sys.argv) > 8 else "/v3"
    stop = sys.argv[9] if len(sys.argv) > 9 else None
    context = ssl.create_default_context(cafile=ca)
    end, results, lock = time.time() + duration, [], threading.Lock()

    def worker():
        while time.time() < end and not (stop and os.path.exists(stop)):
            began = time.time()
            try:
                serial, status = request(address, port, fqdn, context, path)
                entry = [round(began, 4), status.startswith("HTTP/1.1 200"), serial, status]
            except (OSError, ssl.SSLError) as exc:
                entry = [round(began, 4), False, None, f"{type(exc).__name__}: {exc}"[:200]]
            with lock:
                results.append(entry)
            time.sleep(max(0.0, interval - (time.time() - began)))

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print("JSON:" + json.dumps({"requests": sorted(results)}), flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""wire.py: a delaying point-to-point IP link into a network namespace.

Usage: wire.py --ns NS --host-dev DEV --ns-dev DEV --host-ip IP --ns-ip IP
               [--rtt MS] [--stats FILE]

A packet-level stand-in for `tc qdisc ... netem delay`, which this kernel
lacks. Two TUN devices: HOST-DEV stays in the current namespace with
HOST-IP, NS-DEV moves into namespace NS (which must exist) with NS-IP.
Every IP packet read from one device is written to the other RTT/2
later, in order. A client run in NS (nsenter --net=/run/netns/NS) that
connects to HOST-IP reaches the servers listening there through real
TCP stacks on both ends, so its Nagle and delayed-ACK stalls, and the
server's, cost what they cost on a real link: the relay (delay.py)
cannot show those, as its TCP peer acknowledges at once on loopback.

Round trips are counted per TCP connection as delay.py counts them (the
connect, plus each flight of server payload after the client last sent
payload) and one line per connection is appended to FILE when it ends:
    conn=PORT rounds=R c2s=BYTES s2c=BYTES ms=MILLISECONDS

--trace FILE logs every packet of those connections (client port, ms
since the SYN, direction, TCP flags, payload bytes), as a packet capture
would: where a stall is, and whose.

Prints "ready" once the link is up. The devices are not persistent: they
disappear when this process ends.
"""

import argparse
import collections
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def tun_open(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(),
                                           IFF_TUN | IFF_NO_PI))
    return fd


def ip(*args):
    subprocess.run(("ip",) + args, check=True)


class Flows:
    """Round trips per TCP connection, from the packets' payload sizes."""

    def __init__(self, stats, trace):
        self.stats = open(stats, "a") if stats else None
        self.trace = open(trace, "a") if trace else None
        self.flows = {}

    def packet(self, pkt, from_client, now):
        if self.stats is None or len(pkt) < 20 or pkt[0] >> 4 != 4 \
                or pkt[9] != 6:
            return
        ihl = (pkt[0] & 15) * 4
        total = struct.unpack("!H", pkt[2:4])[0]
        tcp = pkt[ihl:]
        if len(tcp) < 20:
            return
        sport, dport = struct.unpack("!HH", tcp[:4])
        flags = tcp[13]
        payload = total - ihl - (tcp[12] >> 4) * 4
        key = sport if from_client else dport
        f = self.flows.get(key)
        if f is None:
            if not (from_client and flags & 0x02):   # a SYN opens a flow
                return
            f = self.flows[key] = {"t0": now, "rounds": 1, "last": "c",
                                   "c2s": 0, "s2c": 0, "fin": set()}
        if self.trace:
            names = "FSRPA"
            fl = "".join(n for i, n in enumerate(names) if flags & (1 << i))
            print("%d %9.1f %s %-5s %5d" % (
                key, (now - f["t0"]) * 1000, "c>s" if from_client else "s>c",
                fl, payload), file=self.trace, flush=True)
        if payload > 0:
            if from_client:
                f["c2s"] += payload
                f["last"] = "c"
            else:
                f["s2c"] += payload
                if f["last"] == "c":
                    f["rounds"] += 1
                    f["last"] = "s"
        if flags & 0x01:
            f["fin"].add(from_client)
        if flags & 0x04 or len(f["fin"]) == 2:
            del self.flows[key]
            print("conn=%d rounds=%d c2s=%d s2c=%d ms=%.1f" % (
                key, f["rounds"], f["c2s"], f["s2c"], (now - f["t0"]) * 1000),
                file=self.stats, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ns", required=True)
    p.add_argument("--host-dev", required=True)
    p.add_argument("--ns-dev", required=True)
    p.add_argument("--host-ip", required=True)
    p.add_argument("--ns-ip", required=True)
    p.add_argument("--rtt", type=float, default=50.0)
    p.add_argument("--stats")
    p.add_argument("--trace", help="one line per packet: port ms dir flags len")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    half = args.rtt / 2000.0

    host = tun_open(args.host_dev)
    nsd = tun_open(args.ns_dev)
    ip("link", "set", args.ns_dev, "netns", args.ns)
    ip("addr", "add", args.host_ip, "peer", args.ns_ip, "dev", args.host_dev)
    ip("link", "set", args.host_dev, "up")
    ip("-n", args.ns, "link", "set", "lo", "up")
    ip("-n", args.ns, "addr", "add", args.ns_ip, "peer", args.host_ip,
       "dev", args.ns_dev)
    ip("-n", args.ns, "link", "set", args.ns_dev, "up")
    print("ready", flush=True)

    flows = Flows(args.stats, args.trace)
    # Packets from the namespace (the client) go to the host and back.
    queues = {host: collections.deque(), nsd: collections.deque()}
    other = {host: nsd, nsd: host}
    while True:
        now = time.monotonic()
        for dest, q in queues.items():
            while q and q[0][0] <= now:
                os.write(dest, q.popleft()[1])
        dues = [q[0][0] for q in queues.values() if q]
        timeout = max(0.0, min(dues) - now) if dues else None
        ready, _, _ = select.select([host, nsd], [], [], timeout)
        now = time.monotonic()
        for fd in ready:
            pkt = os.read(fd, 65536)
            flows.packet(pkt, fd == nsd, now)
            queues[other[fd]].append((now + half, pkt))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

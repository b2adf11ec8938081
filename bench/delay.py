#!/usr/bin/env python3
"""delay.py: a TCP relay that adds a round-trip delay and counts round trips.

Usage: delay.py --listen PORT --target PORT [--rtt MS] [--stats FILE]

Listens on 127.0.0.1:PORT and relays each connection to 127.0.0.1:TARGET.
Every chunk read from either side is held for RTT/2 before it is written
to the other side; each direction has its own queue, so the order of the
bytes is kept. Both sockets have TCP_NODELAY, so the relay adds no Nagle
stall of its own. This stands in for `tc qdisc ... netem`, which the
kernel of the benchmark machines lacks.

The connection itself costs a round trip as on a real link: the server
sees it (and sends its greeting) 1.5 RTT after the client connected (SYN,
SYN-ACK, ACK), so the greeting reaches the client 2 RTT after connect();
data the client sends before that (a TLS ClientHello) waits for it too.

Round trips are counted as the client sees them: one for the connect,
plus one for each server flight, that is each time data reaches the
client after the client last sent (or after the connect: the greeting).
A client that waits for a reply waits one round trip per server flight,
so wall time is about (round trips x RTT) plus stalls and CPU.

The relay cannot reproduce a client's own Nagle / delayed-ACK stalls: the
client's TCP peer is the relay on loopback, which acknowledges at once.

When a connection ends, one line is appended to FILE (default: stdout):
    conn=N rounds=R c2s=BYTES s2c=BYTES ms=MILLISECONDS
"""

import argparse
import collections
import heapq
import itertools
import selectors
import signal
import socket
import sys
import time

CHUNK = 256 * 1024


class Side:
    """One socket and the queue of data waiting to be written to it."""

    def __init__(self, sock):
        self.sock = sock
        self.queue = collections.deque()  # (due, bytes or None for EOF)
        self.out = b""                     # due data the socket did not take
        self.eof_read = False
        self.shut = False                  # EOF forwarded to this socket
        self.want_write = False


class Conn:
    ids = itertools.count(1)

    def __init__(self, relay, sock, now):
        self.relay = relay
        self.id = next(Conn.ids)
        self.t0 = now
        self.client = Side(sock)
        self.server = None
        self.last = "c"    # the connect counts as the client's move
        self.rounds = 1
        self.c2s = 0
        self.s2c = 0
        self.closed = False

    def other(self, side):
        return self.server if side is self.client else self.client


class Relay:
    def __init__(self, args):
        self.target = ("127.0.0.1", args.target)
        self.half = args.rtt / 2000.0
        self.sel = selectors.DefaultSelector()
        self.timers = []
        self.seq = itertools.count()
        self.stats = open(args.stats, "a") if args.stats else sys.stdout
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", args.listen))
        self.lsock.listen(128)
        self.lsock.setblocking(False)
        self.sel.register(self.lsock, selectors.EVENT_READ, None)

    def timer(self, due, fn):
        heapq.heappush(self.timers, (due, next(self.seq), fn))

    def accept(self, now):
        try:
            sock, _ = self.lsock.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Conn(self, sock, now)
        self.sel.register(sock, selectors.EVENT_READ, (conn, conn.client))
        self.timer(now + 3 * self.half, lambda: self.connect(conn))

    def connect(self, conn):
        if conn.closed:
            return
        try:
            sock = socket.create_connection(self.target, timeout=5)
        except OSError as e:
            print("delay.py: connect to %s:%d: %s" % (self.target + (e,)),
                  file=sys.stderr)
            self.close(conn)
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.server = Side(sock)
        # What the client sent meanwhile was queued on a placeholder.
        if hasattr(conn, "early"):
            conn.server.queue = conn.early
            for due, _ in conn.early:
                self.timer(due, lambda: self.flush(conn, conn.server))
        self.sel.register(sock, selectors.EVENT_READ, (conn, conn.server))
        self.flush(conn, conn.server)

    def read(self, conn, side, now):
        try:
            data = side.sock.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        dest = conn.other(side)
        if dest is None:
            # The upstream connection is not made yet (the handshake).
            if not hasattr(conn, "early"):
                conn.early = collections.deque()
            queue = conn.early
        else:
            queue = dest.queue
        if side is conn.client:
            conn.last = "c"
            conn.c2s += len(data)
        else:
            conn.s2c += len(data)
        if not data:
            side.eof_read = True
            queue.append((now + self.half, None))
        else:
            queue.append((now + self.half, data))
        if dest is not None:
            self.timer(now + self.half, lambda: self.flush(conn, dest))

    def flush(self, conn, dest):
        if conn.closed or dest is None:
            return
        now = time.monotonic()
        while dest.out or (dest.queue and dest.queue[0][0] <= now):
            if not dest.out:
                _, data = dest.queue.popleft()
                if data is None:
                    try:
                        dest.sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    dest.shut = True
                    break
                dest.out = data
                if dest is conn.client and conn.last == "c":
                    conn.rounds += 1
                    conn.last = "s"
            try:
                n = dest.sock.send(dest.out)
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError:
                self.close(conn)
                return
            dest.out = dest.out[n:]
            if dest.out:
                break
        want = bool(dest.out)
        if want != dest.want_write:
            dest.want_write = want
            self.reregister(conn, dest)
        self.maybe_close(conn)

    def reregister(self, conn, side):
        events = 0 if side.eof_read else selectors.EVENT_READ
        if side.want_write:
            events |= selectors.EVENT_WRITE
        try:
            self.sel.unregister(side.sock)
        except (KeyError, ValueError):
            pass
        if events:
            self.sel.register(side.sock, events, (conn, side))

    def maybe_close(self, conn):
        # Both directions ended: each side got the other's EOF.
        if conn.server is not None and conn.client.shut and conn.server.shut:
            self.close(conn)

    def close(self, conn):
        if conn.closed:
            return
        conn.closed = True
        for side in (conn.client, conn.server):
            if side is None:
                continue
            try:
                self.sel.unregister(side.sock)
            except (KeyError, ValueError):
                pass
            side.sock.close()
        ms = (time.monotonic() - conn.t0) * 1000.0
        print("conn=%d rounds=%d c2s=%d s2c=%d ms=%.1f" % (
            conn.id, conn.rounds, conn.c2s, conn.s2c, ms),
            file=self.stats, flush=True)

    def run(self):
        while True:
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, fn = heapq.heappop(self.timers)
                fn()
                now = time.monotonic()
            timeout = None
            if self.timers:
                timeout = max(0.0, self.timers[0][0] - now)
            for key, events in self.sel.select(timeout):
                now = time.monotonic()
                if key.data is None:
                    self.accept(now)
                    continue
                conn, side = key.data
                if conn.closed:
                    continue
                if events & selectors.EVENT_WRITE:
                    self.flush(conn, side)
                if not conn.closed and events & selectors.EVENT_READ \
                        and not side.eof_read:
                    self.read(conn, side, now)
                    if side.eof_read:
                        self.reregister(conn, side)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--listen", type=int, required=True)
    p.add_argument("--target", type=int, required=True)
    p.add_argument("--rtt", type=float, default=50.0, help="milliseconds")
    p.add_argument("--stats", help="append one line per connection here")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    relay = Relay(args)
    try:
        relay.run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

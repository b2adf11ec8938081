#!/usr/bin/env python3
"""sink.py - a recording SMTP server for the queue tests (tests/queue*.sh).

    sink.py DIR PORTFILE [CERT KEY]

Listens on 127.0.0.1, an ephemeral port written to PORTFILE once it
accepts; runs until SIGTERM or SIGINT. ESMTP with PIPELINING, 8BITMIME,
SIZE, DSN, ENHANCEDSTATUSCODES, SMTPUTF8; no AUTH. With CERT and KEY
(PEM files) every connection is implicit TLS (TLS 1.3, one context for
the whole run, so its session tickets resume), and sessions.log says
"S tls resumed" or "S tls full" (or "S tls failed: WHY").

Records in DIR:
  msgs/S-N       message N of session S accepted (2xx after end of data):
                 "session S", "mail ARGS", one "rcpt ARGS" a recipient,
                 an empty line, then the data (CRLF lines, dots unstuffed)
  acks           "S-N acked" once the client sent any byte after the
                 250 to its end of data had been written (RSET, MAIL,
                 QUIT...), "S-N unacked" when the session ended without
  sessions.log   "S open", "S< LINE" every command line, "S> LINE" every
                 reply line, "S close"; the data itself is not logged

Behaviour comes from DIR/rules.json (JSON; missing = all accepted), read
again at the start of every session, so a test may change it between runs:
  "greeting", "ehlo", "mail", "rcpt", "data", "eod": the reply for that
      stage instead of the normal one; a string ("451 4.2.0 try later",
      lines joined by "\\n"), or {"match": SUBSTR, "reply": R}, applied
      only when SUBSTR is in the command line (for "eod": in the message)
      case-insensitively, or a list of those, the first that matches wins
  "eod_delay": seconds to wait before replying to the end of data; a
      number or [MIN, MAX] for a random delay in that range
  "close_at": a stage at which to hang up without replying
  "close_after": N: hang up, without replying, at the first command after
      the session's Nth accepted message
"""
import json
import os
import random
import select
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time

STAGES = ("greeting", "ehlo", "mail", "rcpt", "data", "eod")
EHLO = ["sink.test", "PIPELINING", "8BITMIME", "SIZE 10485760", "DSN",
        "ENHANCEDSTATUSCODES", "SMTPUTF8"]
MAXLINE = 1 << 20

lock = threading.Lock()
state = {"sessions": 0}
TLS = None  # the server's ssl.SSLContext with CERT and KEY


def record(name, text):
    with lock:
        with open(os.path.join(DIR, name), "a", encoding="utf-8",
                  errors="surrogateescape") as f:
            f.write(text)


def load_rules():
    try:
        with open(os.path.join(DIR, "rules.json"), encoding="utf-8") as f:
            rules = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        sys.stderr.write("sink: rules.json: %s\n" % e)
        return {}
    return rules if isinstance(rules, dict) else {}


def override(rules, stage, subject):
    """The reply rules give for this stage and subject text, or None."""
    r = rules.get(stage)
    for rule in (r if isinstance(r, list) else [r]):
        if isinstance(rule, str):
            return rule
        if isinstance(rule, dict) and "reply" in rule:
            m = rule.get("match")
            if m is None or m.lower() in subject.lower():
                return rule["reply"]
    return None


class Session(socketserver.BaseRequestHandler):
    def setup(self):
        with lock:
            state["sessions"] += 1
            self.num = state["sessions"]
        self.rules = load_rules()
        self.buf = b""
        self.rx = 0          # bytes received so far
        self.pending = None  # accepted message whose 250 is not acked yet
        self.mark = 0        # rx when that 250 was sent
        self.nmsg = 0
        self.sock = self.request
        self.sock.settimeout(120)
        # Nagle would hold a pipelined group's second reply for the
        # client's delayed ACK: 40 ms a group.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reset()

    def reset(self):
        self.mail = None
        self.rcpts = []

    def log(self, text):
        record("sessions.log", "%d%s\n" % (self.num, text))

    def settle(self, acked):
        if self.pending is not None:
            record("acks", "%s %s\n" % (self.pending,
                                        "acked" if acked else "unacked"))
            self.pending = None

    def fill(self, block=True):
        try:
            if not block and not select.select([self.sock], [], [], 0)[0]:
                return True
            b = self.sock.recv(65536)
        except OSError:
            return False
        if not b:
            return False
        self.buf += b
        self.rx += len(b)
        if self.pending is not None and self.rx > self.mark:
            self.settle(True)
        return True

    def readline(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                return line
            if len(self.buf) > MAXLINE or not self.fill():
                return None

    def reply(self, text):
        lines = text.split("\n")
        code, out = lines[0][:3], []
        for i, l in enumerate(lines):
            if l[:3].isdigit():
                l = l[4:]
            sep = " " if i == len(lines) - 1 else "-"
            out.append(code + sep + l)
        for l in out:
            self.log("> " + l)
        try:
            self.sock.sendall("".join(l + "\r\n" for l in out).encode())
        except OSError:
            return False
        return True

    def staged(self, stage, normal, subject=""):
        """Reply for stage: None to hang up, else the reply sent."""
        if self.rules.get("close_at") == stage:
            self.log(" hang up at " + stage)
            return None
        text = override(self.rules, stage, subject) or normal
        return text if self.reply(text) else None

    def handle(self):
        self.log(" open")
        try:
            if TLS is not None and not self.start_tls():
                return
            self.converse()
        finally:
            self.settle(self.rx > self.mark)
            self.log(" close")

    def start_tls(self):
        try:
            self.sock = TLS.wrap_socket(self.request, server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.log(" tls failed: %s" % e)
            return False
        self.log(" tls " + ("resumed" if self.sock.session_reused else
                            "full"))
        return True

    def converse(self):
        greet = self.staged("greeting", "220 sink.test ESMTP")
        if greet is None:
            return
        while True:
            raw = self.readline()
            if raw is None:
                return
            line = raw.rstrip(b"\r\n").decode("utf-8", "surrogateescape")
            self.log("< " + line)
            if self.nmsg == self.rules.get("close_after", -1):
                self.log(" hang up after %d messages" % self.nmsg)
                return
            verb = line.split(" ", 1)[0].upper()
            arg = line[len(verb):].strip()
            if greet[0] != "2" and verb != "QUIT":
                ok = self.reply("503 5.5.1 no service")
            elif verb == "EHLO":
                ok = self.staged("ehlo", "\n".join("250 " + e for e in EHLO))
            elif verb == "HELO":
                ok = self.staged("ehlo", "250 sink.test")
            elif verb == "MAIL":
                ok = self.on_mail(arg)
            elif verb == "RCPT":
                ok = self.on_rcpt(arg)
            elif verb == "DATA":
                ok = self.on_data()
            elif verb == "RSET":
                self.reset()
                ok = self.reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                ok = self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                ok = self.reply("502 5.5.2 command not recognized")
            if not ok:
                return

    def on_mail(self, arg):
        if self.mail is not None:
            return self.reply("503 5.5.1 nested MAIL")
        r = self.staged("mail", "250 2.1.0 Ok", arg)
        if r is not None and r[0] == "2":
            self.mail = arg
        return r

    def on_rcpt(self, arg):
        if self.mail is None:
            return self.reply("503 5.5.1 need MAIL")
        r = self.staged("rcpt", "250 2.1.5 Ok", arg)
        if r is not None and r[0] == "2":
            self.rcpts.append(arg)
        return r

    def on_data(self):
        if not self.rcpts:
            return self.reply("554 5.5.1 no valid recipients")
        r = self.staged("data", "354 End data with <CR><LF>.<CR><LF>")
        if r is None or r[0] != "3":
            return r
        data = []
        while True:
            raw = self.readline()
            if raw is None:
                return None
            if raw.rstrip(b"\r\n") == b".":
                break
            data.append(raw[1:] if raw.startswith(b".") else raw)
        body = b"".join(data)
        delay = self.rules.get("eod_delay", 0)
        if isinstance(delay, list):
            delay = random.uniform(delay[0], delay[1])
        if delay:
            time.sleep(delay)
        # Bytes the client pipelined before this reply are no answer to it.
        self.fill(block=False)
        self.nmsg += 1
        mid = "%d-%d" % (self.num, self.nmsg)
        subject = body.decode("utf-8", "surrogateescape")
        text = override(self.rules, "eod", subject) or \
            "250 2.0.0 Ok: queued as " + mid
        if self.rules.get("close_at") == "eod":
            self.log(" hang up at eod")
            return None
        if text[0] == "2":
            self.save(mid, body)
            self.mark = self.rx
            self.pending = mid
        self.reset()
        return self.reply(text)

    def save(self, mid, body):
        head = ["session %d" % self.num, "mail " + self.mail]
        head += ["rcpt " + r for r in self.rcpts]
        path = os.path.join(DIR, "msgs", mid)
        with open(path + ".tmp", "wb") as f:
            f.write(("\n".join(head) + "\n\n").encode("utf-8",
                                                      "surrogateescape"))
            f.write(body)
        os.rename(path + ".tmp", path)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    global DIR, TLS
    if len(sys.argv) not in (3, 5):
        sys.stderr.write("usage: sink.py DIR PORTFILE [CERT KEY]\n")
        return 2
    DIR, portfile = sys.argv[1], sys.argv[2]
    if len(sys.argv) == 5:
        TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        TLS.minimum_version = ssl.TLSVersion.TLSv1_3
        TLS.load_cert_chain(sys.argv[3], sys.argv[4])
    os.makedirs(os.path.join(DIR, "msgs"), exist_ok=True)
    srv = Server(("127.0.0.1", 0), Session)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    t = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    t.start()
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(portfile + ".tmp", portfile)
    while not stop.wait(1):
        pass
    srv.shutdown()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

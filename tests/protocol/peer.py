#!/usr/bin/env python3
"""The scripted SMTP peer for postie's protocol tests (standard library only).

As a module (used by cases.tap): Peer plays one case script on a listening
socket on 127.0.0.1 and records exactly what the client sent: the raw bytes
and which of them arrived in which recv() call.

As a program:
    peer.py --sink [--port-file FILE] [--timeout SECONDS]
A throwaway SMTP server that accepts one session (EHLO offers PIPELINING,
SIZE and 8BITMIME), prints the port it listens on (to FILE, else as the
first line of standard output), and when the session ends prints the
envelope (the MAIL FROM and RCPT TO lines) and the message it received.
Exit status 0 when a message was received, 1 otherwise.

Script steps (one a line; README has the whole case format):
    S: text       send text + CRLF; consecutive S lines go out in one write
    S+ escaped    send bytes with \\r \\n \\t \\\\ \\xNN escapes, no CRLF added
    S* N text     send text N times, no CRLF added (long lines)
    C: text       the client must send exactly text + CRLF
    C| text       as C:, and it must have arrived in the same recv() as the
                  end of the previous C line (proof of one write)
    C+ escaped    the client must send exactly these bytes
    C* N text     the client must send N lines, each text + CRLF
    C? text       the client may send this line, or may close instead
    C: <eof>      the client must close without sending anything more
    sleep SECS    flush, then wait (less if the client process ends)
    close         flush, then close the connection (the script ends)
    abort         close with a TCP reset
    drain [N]     consume whatever the client sends: N bytes, or up to EOF
"""

import bisect
import os
import select
import socket
import sys
import threading
import time


def unescape(text):
    """Decode \\r \\n \\t \\0 \\\\ \\xNN in text; other characters as UTF-8."""
    out = bytearray()
    i = 0
    simple = {'r': b'\r', 'n': b'\n', 't': b'\t', '0': b'\0', '\\': b'\\',
              'e': b'\x1b'}
    while i < len(text):
        c = text[i]
        if c != '\\' or i + 1 >= len(text):
            out += c.encode('utf-8')
            i += 1
            continue
        n = text[i + 1]
        if n in simple:
            out += simple[n]
            i += 2
        elif n == 'x' and _ishex(text[i + 2:i + 4]):
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        else:
            raise ValueError('bad escape \\%s in %r' % (n, text))
    return bytes(out)


def _ishex(s):
    return len(s) == 2 and all(c in '0123456789abcdefABCDEF' for c in s)


def show(data):
    """Bytes as one printable line: CR LF and control bytes escaped."""
    out = []
    for b in data:
        if b == 13:
            out.append('\\r')
        elif b == 10:
            out.append('\\n')
        elif b == 9:
            out.append('\\t')
        elif b == 92:
            out.append('\\\\')
        elif 0x20 <= b < 0x7f:
            out.append(chr(b))
        else:
            out.append('\\x%02x' % b)
    return ''.join(out)


class ScriptError(Exception):
    """A malformed script line (the case file is wrong, not the client)."""


def parse_script(lines):
    """Parse script lines [(lineno, text)] into steps (lineno, op, arg)."""
    steps = []
    for lineno, text in lines:
        s = text.strip()
        if not s or s.startswith('#'):
            continue
        if text[:2] in ('S:', 'C:', 'C|', 'C?'):
            op, rest = text[:2], text[2:]
            if rest.startswith(' '):
                rest = rest[1:]
            if op == 'C:' and rest.strip() == '<eof>':
                steps.append((lineno, 'eof', None))
            else:
                steps.append((lineno, op, rest.encode('utf-8') + b'\r\n'))
        elif text[:2] == 'C*':
            count, _, rep = text[2:].strip().partition(' ')
            steps.append((lineno, 'C*', (int(count),
                                         rep.encode('utf-8') + b'\r\n')))
        elif text[:2] == 'S*':
            count, _, rep = text[2:].strip().partition(' ')
            steps.append((lineno, 'S+', rep.encode('utf-8') * int(count)))
        elif text[:2] in ('S+', 'C+'):
            try:
                data = unescape(text[2:].lstrip(' '))
            except ValueError as e:
                raise ScriptError('line %d: %s' % (lineno, e))
            steps.append((lineno, text[:2], data))
        else:
            words = s.split()
            if words[0] == 'sleep' and len(words) == 2:
                steps.append((lineno, 'sleep', float(words[1])))
            elif words[0] in ('close', 'abort') and len(words) == 1:
                steps.append((lineno, words[0], None))
            elif words[0] == 'drain' and len(words) <= 2:
                n = int(words[1]) if len(words) == 2 else None
                steps.append((lineno, 'drain', n))
            else:
                raise ScriptError('line %d: unknown script step %r'
                                  % (lineno, s))
    return steps


class Failure(Exception):
    """The client did not do what the script expects."""


class Peer:
    """Plays one script for one connection accepted on lsock.

    run() is meant for a thread; set client_exited when the client process
    has ended so that a peer still waiting for a connection gives up.
    After run(): failures (list of str), rx (all client bytes), events
    (transcript [(who, bytes)]), connected, extra_connections.
    """

    def __init__(self, lsock, steps, deadline, expect_connection=True):
        self.lsock = lsock
        self.steps = steps
        self.deadline = deadline
        self.expect_connection = expect_connection
        self.client_exited = threading.Event()
        self.failures = []
        self.rx = bytearray()
        self.chunk_starts = []  # offset in rx where each recv() began
        self.pos = 0            # bytes of rx the script has consumed
        self.eof = False
        self.events = []
        self.connected = False
        self.extra_connections = 0
        self.conn = None
        self.pending_tx = bytearray()
        self.closed_by_peer = False

    # --- connection ---------------------------------------------------
    def _accept(self):
        while True:
            r, _, _ = select.select([self.lsock], [], [], 0.05)
            if r:
                conn, _ = self.lsock.accept()
                return conn
            if self.client_exited.is_set():
                # One last look: the client may have connected and exited.
                r, _, _ = select.select([self.lsock], [], [], 0)
                if r:
                    conn, _ = self.lsock.accept()
                    return conn
                return None
            if time.monotonic() > self.deadline:
                return None

    def run(self):
        try:
            self._run()
        except Failure as e:
            self.failures.append(str(e))
        except Exception as e:  # a harness bug must not hang the suite
            self.failures.append('peer crashed: %r' % (e,))
        finally:
            if self.conn is not None:
                try:
                    self.conn.close()
                except OSError:
                    pass

    def _run(self):
        if not self.expect_connection:
            self.client_exited.wait(max(0, self.deadline - time.monotonic()))
            r, _, _ = select.select([self.lsock], [], [], 0)
            if r:
                self.connected = True
                self.failures.append('the client connected, but the case '
                                     'expects no connection at all')
            return
        self.conn = self._accept()
        if self.conn is None:
            raise Failure('the client never connected')
        self.connected = True
        self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for step in self.steps:
            if self.closed_by_peer:
                raise Failure('script line %d: step after close' % step[0])
            self._step(*step)
        self._flush(None)
        if not self.closed_by_peer:
            self._expect_eof(None, 'after the end of the script')
        r, _, _ = select.select([self.lsock], [], [], 0)
        if r:
            self.extra_connections += 1
            self.failures.append('the client opened a second connection')

    # --- receiving ----------------------------------------------------
    def _recv(self, nonblocking=False):
        """One recv() into rx; returns False at EOF or on timeout."""
        if self.eof:
            return False
        try:
            if nonblocking:
                # select, not MSG_DONTWAIT: a socket with a timeout polls
                # for that long before any recv().
                r, _, _ = select.select([self.conn], [], [], 0)
                if not r:
                    return False
                self.conn.settimeout(1)
                data = self.conn.recv(65536)
            else:
                left = self.deadline - time.monotonic()
                if left <= 0:
                    raise Failure('timed out waiting for the client')
                self.conn.settimeout(left)
                data = self.conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            return False
        except socket.timeout:
            raise Failure('timed out waiting for the client')
        except (ConnectionResetError, BrokenPipeError):
            data = b''
        if not data:
            self.eof = True
            self.events.append(('C', None))
            return False
        self.chunk_starts.append(len(self.rx))
        self.rx += data
        self.events.append(('C', bytes(data)))
        return True

    def chunk_of(self, offset):
        return bisect.bisect_right(self.chunk_starts, offset) - 1

    def _line(self):
        """The next CRLF-terminated line (or what is left at EOF)."""
        while True:
            i = self.rx.find(b'\r\n', self.pos)
            if i >= 0:
                return bytes(self.rx[self.pos:i + 2])
            if not self._recv():
                return bytes(self.rx[self.pos:])

    def _expect_eof(self, lineno, where):
        while self.pos == len(self.rx) and self._recv():
            pass
        if self.pos < len(self.rx):
            got = self._line()
            raise Failure('%sexpected the client to close %s, got %r'
                          % (_at(lineno), where, show(got)))

    # --- sending ------------------------------------------------------
    def _flush(self, lineno):
        if not self.pending_tx or self.conn is None:
            return
        # Nothing may be waiting from the client when the server speaks:
        # bytes here were sent before the reply they depend on (pipelining
        # without PIPELINING, or a command group split wrongly).
        while self._recv(nonblocking=True):
            pass
        if self.pos < len(self.rx):
            early = self._line()
            raise Failure('%sthe client sent %r before the server\'s reply'
                          % (_at(lineno), show(early)))
        data = bytes(self.pending_tx)
        self.pending_tx.clear()
        self.events.append(('S', data))
        try:
            self.conn.sendall(data)
        except OSError as e:
            self.events.append(('S', ('(send failed: %s)' % e).encode()))

    # --- the steps ----------------------------------------------------
    def _step(self, lineno, op, arg):
        if op in ('S:', 'S+'):
            self.pending_tx += arg
            return
        self._flush(lineno)
        if op in ('C:', 'C|', 'C?'):
            self._expect_line(lineno, op, arg)
        elif op == 'C+':
            self._expect_bytes(lineno, arg)
        elif op == 'C*':
            count, want = arg
            for k in range(count):
                got = self._line()
                if got != want:
                    raise Failure('%sline %d of %d: expected %r\n  got      %r'
                                  % (_at(lineno), k + 1, count, show(want),
                                     show(got) if got else '<eof>'))
                self.pos += len(got)
        elif op == 'eof':
            self._expect_eof(lineno, 'here')
        elif op == 'sleep':
            # A stall only matters while the client lives to see it.
            self.client_exited.wait(arg)
        elif op in ('close', 'abort'):
            if op == 'abort':
                self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     b'\1\0\0\0\0\0\0\0')
            self.conn.close()
            self.conn = None
            self.closed_by_peer = True
            self.events.append(('S', b'' if op == 'close' else None))
        elif op == 'drain':
            if arg is None:
                while self._recv():
                    pass
            else:
                while len(self.rx) - self.pos < arg and self._recv():
                    pass
            self.pos = len(self.rx)

    def _expect_line(self, lineno, op, want):
        start = self.pos
        if op == 'C?':
            while self.pos == len(self.rx) and self._recv():
                pass
            if self.pos == len(self.rx):
                return  # the client closed instead: allowed
        got = self._line()
        if got != want:
            if not got:
                got_s = '<eof>'
            elif not got.endswith(b'\r\n'):
                got_s = show(got) + '<eof>'
            else:
                got_s = show(got)
            raise Failure('%sexpected %r\n  got      %r'
                          % (_at(lineno), show(want), got_s))
        self.pos += len(got)
        if op == 'C|' and start > 0 and \
                self.chunk_of(start) != self.chunk_of(start - 1):
            raise Failure('%s%r arrived in a separate recv() from the line '
                          'before it (expected one write)'
                          % (_at(lineno), show(want)))

    def _expect_bytes(self, lineno, want):
        while len(self.rx) - self.pos < len(want) and self._recv():
            pass
        got = bytes(self.rx[self.pos:self.pos + len(want)])
        if got != want:
            raise Failure('%sexpected bytes %r\n  got            %r'
                          % (_at(lineno), show(want), show(got)))
        self.pos += len(want)

    # --- reporting ----------------------------------------------------
    def transcript(self, max_lines=40):
        """The session as 'S: ...' / 'C: ...' lines (long data elided);
        'C| ...' marks a line that came in the same recv() as the one
        before it ('S| ...': the same write)."""
        lines = []
        for who, data in self.events:
            if data is None:
                lines.append('%s: <eof>' % who if who == 'C' else
                             'S: <reset>')
                continue
            if data == b'' and who == 'S':
                lines.append('S: <close>')
                continue
            parts = data.split(b'\r\n')
            if parts and parts[-1] == b'':
                parts.pop()
                ends = True
            else:
                ends = False
            for k, part in enumerate(parts):
                last = k == len(parts) - 1
                mark = '' if (not last or ends) else ' (no CRLF yet)'
                if k == 3 and len(parts) > 6:
                    lines.append('%s  ... %d more lines in this recv/send'
                                 % (who, len(parts) - 4))
                    part = parts[-1]
                    lines.append('%s| %s%s' % (who, show(part)[:200], mark))
                    break
                sep = ':' if k == 0 else '|'
                lines.append('%s%s %s%s' % (who, sep, show(part)[:200], mark))
        if len(lines) > max_lines:
            lines = ['... (%d lines before)' % (len(lines) - max_lines)] + \
                lines[-max_lines:]
        return lines


def _at(lineno):
    return 'script line %d: ' % lineno if lineno else ''


# --- the sink -----------------------------------------------------------

class _Sink:
    def __init__(self, conn, deadline):
        self.conn = conn
        self.deadline = deadline
        self.buf = bytearray()
        self.envelope = []
        self.message = None

    def readline(self):
        while True:
            i = self.buf.find(b'\n')
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            left = self.deadline - time.monotonic()
            if left <= 0:
                return None
            self.conn.settimeout(left)
            try:
                data = self.conn.recv(65536)
            except OSError:
                return None
            if not data:
                return None
            self.buf += data

    def say(self, text):
        try:
            self.conn.sendall(text.encode('ascii') + b'\r\n')
        except OSError:
            pass

    def session(self):
        self.say('220 sink.test ESMTP postie test sink')
        mail = []
        while True:
            line = self.readline()
            if line is None:
                return
            cmd = line.rstrip(b'\r\n')
            verb = cmd.split(b' ', 1)[0].split(b':', 1)[0].upper()
            if verb == b'EHLO':
                self.say('250-sink.test\r\n250-PIPELINING\r\n'
                         '250-SIZE 10485760\r\n250 8BITMIME')
            elif verb == b'HELO':
                self.say('250 sink.test')
            elif verb == b'MAIL':
                mail = [cmd]
                self.say('250 2.1.0 sender ok')
            elif verb == b'RCPT':
                mail.append(cmd)
                self.say('250 2.1.5 recipient ok')
            elif verb == b'DATA':
                self.say('354 end with <CRLF>.<CRLF>')
                data = self.read_data()
                if data is None:
                    return
                self.envelope, self.message = mail, data
                self.say('250 2.0.0 queued')
            elif verb in (b'RSET', b'NOOP'):
                mail = [] if verb == b'RSET' else mail
                self.say('250 ok')
            elif verb == b'QUIT':
                self.say('221 bye')
                return
            else:
                self.say('502 5.5.2 not implemented')

    def read_data(self):
        out = bytearray()
        while True:
            line = self.readline()
            if line is None:
                return None
            if line in (b'.\r\n', b'.\n'):
                return bytes(out)
            if line.startswith(b'.'):
                line = line[1:]
            out += line


def sink_main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog='peer.py --sink')
    ap.add_argument('--sink', action='store_true', required=True)
    ap.add_argument('--port-file')
    ap.add_argument('--timeout', type=float, default=30)
    args = ap.parse_args(argv)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(('127.0.0.1', 0))
    lsock.listen(1)
    port = lsock.getsockname()[1]
    if args.port_file:
        tmp = args.port_file + '.tmp'
        with open(tmp, 'w') as f:
            f.write('%d\n' % port)
        os.rename(tmp, args.port_file)  # readers never see half a number
    else:
        print(port, flush=True)
    deadline = time.monotonic() + args.timeout
    lsock.settimeout(args.timeout)
    try:
        conn, _ = lsock.accept()
    except socket.timeout:
        print('sink: no connection within %g s' % args.timeout,
              file=sys.stderr)
        return 1
    lsock.close()
    sink = _Sink(conn, deadline)
    sink.session()
    conn.close()
    if sink.message is None:
        print('sink: no message received', file=sys.stderr)
        return 1
    out = sys.stdout.buffer
    for line in sink.envelope:
        out.write(line + b'\n')
    out.write(b'\n')
    out.write(sink.message.replace(b'\r\n', b'\n'))
    out.flush()
    return 0


if __name__ == '__main__':
    if '--sink' in sys.argv[1:]:
        sys.exit(sink_main(sys.argv[1:]))
    print(__doc__.strip(), file=sys.stderr)
    sys.exit(64)

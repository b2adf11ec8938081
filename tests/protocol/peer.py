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
    S* N escaped  send these bytes N times, no CRLF added (long lines,
                  endless replies: S* 1000 250-more\\r\\n)
    C: text       the client must send exactly text + CRLF
    C| text       as C:, and it must have arrived in the same recv() as the
                  end of the previous C line (proof of one write)
    C+ escaped    the client must send exactly these bytes
    C* N text     the client must send N lines, each text + CRLF
    C? text       the client may send this line, or may close instead
    C: <eof>      the client must close without sending anything more
    sleep SECS    flush, then wait (less if the client process ends)
    close         flush, then close the connection (the script ends); with
                  watch_after_close (the hostile-* cases) a half-close:
                  the last S lines leave with FIN, then the client's bytes
                  are read until it closes too
    abort         close with a TCP reset
    reconnect     the client must close; then accept its next connection
                  and go on with the steps after this one there
    drain [N]     consume whatever the client sends: N bytes, or up to EOF;
                  after "drain N" the bytes still arriving when the next S
                  lines go out count as drained (a reply mid-data)
    tls CERT [OPTION...]
                  flush, then play the TLS server with CERT.pem / CERT.key
                  from the certificate directory. Options: tls1.1 (to be
                  refused), tls1.2, tls1.3
                  (that version only), client-cert (require a client
                  certificate signed by ca.pem), sni=NAME or sni=- (the
                  server name the client must send, or none), may-fail (the
                  client may refuse the handshake or close before it)
    tls-client-auth CERT [OPTION...]   tls CERT client-cert ...
    hello         the client must start a TLS handshake now; its ClientHello
                  is read and not answered
    scram SHA-1|SHA-256 USER PASSWORD [OPTION...]
                  the server side of SCRAM (RFC 5802, RFC 7677) from the
                  AUTH command on. Options: plus (SCRAM-*-PLUS, channel
                  binding checked), bad-signature (a wrong v=; the client
                  must then close without sending anything), initial /
                  no-initial (the AUTH line must / must not carry the
                  client-first message), flag=n / flag=y (the gs2
                  channel binding flag required without -PLUS)
In S: C: C| C? S+ C+ lines {b64:ESCAPED} is replaced by the base64 of the
unescaped bytes, e.g. C: AUTH PLAIN {b64:\\0alice\\0secret}.
"""

import base64
import bisect
import hashlib
import hmac
import os
import re
import select
import socket
import ssl
import sys
import threading
import time
import warnings


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


_B64 = re.compile(r'\{b64:([^}]*)\}')


def expand_b64(text):
    """Replace each {b64:ESCAPED} in text by the base64 of its bytes."""
    def one(m):
        return base64.b64encode(unescape(m.group(1))).decode('ascii')
    return _B64.sub(one, text)


TLS_OPTIONS = {'tls1.1', 'tls1.2', 'tls1.3', 'client-cert', 'may-fail'}
SCRAM_OPTIONS = {'plus', 'bad-signature', 'initial', 'no-initial',
                 'flag=n', 'flag=y'}


def parse_script(lines):
    """Parse script lines [(lineno, text)] into steps (lineno, op, arg)."""
    steps = []
    for lineno, text in lines:
        s = text.strip()
        if not s or s.startswith('#'):
            continue
        if text[:2] in ('S:', 'C:', 'C|', 'C?', 'S+', 'C+'):
            try:
                text = expand_b64(text)
            except ValueError as e:
                raise ScriptError('line %d: %s' % (lineno, e))
        if text[:2] in ('S:', 'C:', 'C|', 'C?'):
            op, rest = text[:2], text[2:]
            if rest.startswith(' '):
                rest = rest[1:]
            if op == 'C:' and rest.strip() == '<eof>':
                steps.append((lineno, 'eof', None))
            else:
                steps.append((lineno, op, rest.encode('utf-8') + b'\r\n'))
        elif text[:2] == 'C~':
            rest = text[2:]
            if rest.startswith(' '):
                rest = rest[1:]
            try:
                rx = re.compile(rest.encode('utf-8'))
            except re.error as e:
                raise ScriptError('line %d: bad regex: %s' % (lineno, e))
            steps.append((lineno, 'C~', rx))
        elif text[:2] == 'C*':
            count, _, rep = text[2:].strip().partition(' ')
            steps.append((lineno, 'C*', (int(count),
                                         rep.encode('utf-8') + b'\r\n')))
        elif text[:2] == 'S*':
            count, _, rep = text[2:].strip().partition(' ')
            try:
                rep = unescape(rep)
            except ValueError as e:
                raise ScriptError('line %d: %s' % (lineno, e))
            steps.append((lineno, 'S+', rep * int(count)))
        elif text[:2] in ('S+', 'C+'):
            try:
                data = unescape(text[2:].lstrip(' '))
            except ValueError as e:
                raise ScriptError('line %d: %s' % (lineno, e))
            steps.append((lineno, text[:2], data))
        else:
            steps.append(_parse_word_step(lineno, s))
    return steps


def _parse_word_step(lineno, s):
    words = s.split()
    if words[0] == 'sleep' and len(words) == 2:
        return (lineno, 'sleep', float(words[1]))
    if words[0] in ('close', 'abort', 'hello', 'reconnect') and \
            len(words) == 1:
        return (lineno, words[0], None)
    if words[0] == 'drain' and len(words) <= 2:
        n = int(words[1]) if len(words) == 2 else None
        return (lineno, 'drain', n)
    if words[0] in ('tls', 'tls-client-auth') and len(words) >= 2:
        opts = set(words[2:])
        if words[0] == 'tls-client-auth':
            opts.add('client-cert')
        sni = [o for o in opts if o.startswith('sni=')]
        bad = opts - TLS_OPTIONS - set(sni)
        if bad or len(sni) > 1 or not re.match(r'^[\w.-]+$', words[1]):
            raise ScriptError('line %d: bad tls step %r' % (lineno, s))
        return (lineno, 'tls', (words[1], opts - set(sni),
                                sni[0][4:] if sni else None))
    if words[0] == 'scram' and len(words) >= 4:
        opts = set(words[4:])
        if words[1] not in ('SHA-1', 'SHA-256') or opts - SCRAM_OPTIONS:
            raise ScriptError('line %d: bad scram step %r' % (lineno, s))
        return (lineno, 'scram', (words[1], words[2], words[3], opts))
    raise ScriptError('line %d: unknown script step %r' % (lineno, s))


class Failure(Exception):
    """The client did not do what the script expects."""


class Peer:
    """Plays one script for one connection accepted on lsock.

    run() is meant for a thread; set client_exited when the client process
    has ended so that a peer still waiting for a connection gives up.
    After run(): failures (list of str), rx (all client bytes, decrypted
    after TLS began), tls_at (offset in rx where TLS began, or None),
    events (transcript [(who, bytes)]; who 'T' holds a TLS note as str),
    connected, extra_connections. certs is the certificate directory for
    tls steps (None: a tls step fails the case).
    """

    def __init__(self, lsock, steps, deadline, expect_connection=True,
                 certs=None):
        self.lsock = lsock
        self.certs = certs
        self.tls_at = None
        self.sni = []
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
        # "close" as a half-close that goes on recording until the client
        # closes too, so that nothing it sends after the server hung up
        # escapes the checks (the hostile-* cases).
        self.watch_after_close = False
        # After a drain step the client may still be streaming: bytes that
        # arrive before the next reply count as drained, not as early.
        self.streaming = False

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
            if nonblocking and self.tls_at is not None:
                # Decrypted bytes may wait inside the TLS layer, where
                # select() cannot see them.
                if not self.conn.pending():
                    r, _, _ = select.select([self.conn], [], [], 0)
                    if not r:
                        return False
                self.conn.settimeout(0)
                data = self.conn.recv(65536)
            elif nonblocking:
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
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
            return False
        except socket.timeout:
            raise Failure('timed out waiting for the client')
        except (ConnectionResetError, BrokenPipeError):
            data = b''
        except ssl.SSLError as e:
            # An alert, or bytes that are not TLS records (plaintext after
            # the handshake): the session is over; the script's next
            # expectation reports it.
            self.events.append(('T', 'TLS error from the client: %s'
                                % _ssl_reason(e)))
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
        if self.streaming:
            # Speak now; what the client is still sending is read later.
            self.streaming = False
        else:
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
        if op == 'close' and self.watch_after_close:
            self._half_close(lineno)
            return
        self._flush(lineno)
        if op != 'sleep':
            self.streaming = False
        if op in ('C:', 'C|', 'C?'):
            self._expect_line(lineno, op, arg)
        elif op == 'C+':
            self._expect_bytes(lineno, arg)
        elif op == 'C~':
            got = self._line()
            if not got.endswith(b'\r\n') or \
                    not arg.fullmatch(got[:-2]):
                raise Failure('%sexpected a line matching %r\n  got      %r'
                              % (_at(lineno), arg.pattern.decode('utf-8', 'replace'),
                                 show(got) if got else '<eof>'))
            self.pos += len(got)
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
        elif op == 'reconnect':
            self._reconnect(lineno)
        elif op == 'tls':
            self._tls(lineno, *arg)
        elif op == 'hello':
            self._hello(lineno)
        elif op == 'scram':
            _Scram(self, lineno, *arg).run()
        elif op == 'drain':
            if arg is None:
                while self._recv():
                    pass
            else:
                while len(self.rx) - self.pos < arg and self._recv():
                    pass
                self.streaming = True
            self.pos = len(self.rx)

    def _half_close(self, lineno):
        # The last S lines and the end of the stream leave in one segment
        # (corked, then shutdown sends the data with FIN): a client that
        # has read them has the end of the stream too, so whether it
        # looks before it writes is tested, not the scheduler. Then
        # socket.shutdown itself, not SSLSocket's, which would drop the
        # TLS layer: the client sees the end of the stream (without
        # close_notify, as with a plain close) and what it still sends is
        # read and decrypted as before.
        self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        self._flush(lineno)
        self.events.append(('S', b''))
        try:
            socket.socket.shutdown(self.conn, socket.SHUT_WR)
        except OSError:
            pass
        try:
            while self._recv():
                pass
        except Failure:
            pass
        self.conn.close()
        self.conn = None
        self.closed_by_peer = True

    def starttls_violations(self):
        """RFC 3207 §4/§5 as seen on the wire: STARTTLS is the last command
        of its group, and after a 2xx reply to it the client's next byte
        begins a TLS record (0x16) or the client closes. Returns the
        violations as text."""
        out = []
        state = 'clear'
        line = bytearray()
        for who, data in self.events:
            if who == 'T':
                if state == 'wait-tls' and data.startswith('TLS on'):
                    state = 'tls'
                continue
            if state == 'tls':
                break
            if who == 'S':
                if state == 'sent':
                    state = 'wait-tls' if data and data[:1] == b'2' \
                        else 'clear'
                continue
            if data is None:
                break
            if state == 'sent':
                out.append('the client sent %r after STARTTLS before its '
                           'reply (STARTTLS must end a command group)'
                           % show(data[:80]))
                break
            if state == 'wait-tls':
                if data[:1] != b'\x16':
                    out.append('the client sent %r in clear after the 2xx '
                               'reply to STARTTLS (only a TLS handshake or '
                               'a close may follow)' % show(data[:80]))
                break
            line += data
            while b'\n' in line:
                i = line.index(b'\n')
                cmd, line = bytes(line[:i + 1]), line[i + 1:]
                if cmd.rstrip(b'\r\n').upper() == b'STARTTLS':
                    state = 'sent'
                    if line:
                        out.append('the client sent %r after STARTTLS in '
                                   'the same write (STARTTLS must end a '
                                   'command group)' % show(bytes(line[:80])))
                        return out
                    break
        return out

    def _reconnect(self, lineno):
        # One session over, the client (-bs relaying its next message)
        # must open the next; rx goes on accumulating across both.
        if self.tls_at is not None:
            raise ScriptError('line %d: reconnect after tls is not '
                              'supported' % lineno)
        self._expect_eof(lineno, 'before its next connection')
        self.conn.close()
        self.conn = self._accept()
        if self.conn is None:
            raise Failure('%sthe client never opened its next connection'
                          % _at(lineno))
        self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pos = len(self.rx)
        self.eof = False
        self.events.append(('T', 'next connection'))

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

    # --- TLS --------------------------------------------------------------
    def clear_bytes(self):
        """What the client sent before TLS began (all of it without TLS)."""
        end = len(self.rx) if self.tls_at is None else self.tls_at
        return bytes(self.rx[:end])

    def _peek_start(self, lineno, what):
        """Wait for the client's first byte after our last reply; returns
        it, or b'' when the client closed first. Peeks: the bytes stay in
        the socket for the TLS layer."""
        if self.pos < len(self.rx):
            raise Failure('%sthe client sent %r in clear where %s was '
                          'expected' % (_at(lineno), show(self._line()), what))
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise Failure('%stimed out waiting for %s' % (_at(lineno),
                                                               what))
            self.conn.settimeout(left)
            try:
                return self.conn.recv(1, socket.MSG_PEEK)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return b''

    def _not_handshake(self, lineno, what):
        self._recv()
        raise Failure('%sthe client sent %r in clear where %s was expected'
                      % (_at(lineno), show(self._line()), what))

    def _hello(self, lineno):
        """The client must begin a TLS handshake; read it, do not answer."""
        first = self._peek_start(lineno, 'a TLS ClientHello')
        if not first:
            raise Failure('%sthe client closed instead of starting TLS'
                          % _at(lineno))
        if first != b'\x16':
            self._not_handshake(lineno, 'a TLS ClientHello')
        # The whole record: a 5-byte header holding the length.
        while len(self.rx) - self.pos < 5 and self._recv():
            pass
        head = self.rx[self.pos:self.pos + 5]
        end = self.pos + 5 + (int.from_bytes(head[3:5], 'big')
                              if len(head) == 5 else 0)
        while len(self.rx) < end and self._recv():
            pass
        self.events.append(('T', 'the client sent a TLS ClientHello (%d '
                            'bytes); not answered' % (len(self.rx) -
                                                      self.pos)))
        self.pos = len(self.rx)

    def _tls_context(self, cert, opts, sni):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(self.certs, cert + '.pem'),
                            os.path.join(self.certs, cert + '.key'))
        if 'tls1.1' in opts:
            # Only to prove the client refuses it: OpenSSL 3 needs
            # security level 0 for TLS 1.1 at all.
            ctx.set_ciphers('DEFAULT:@SECLEVEL=0')
        for ver in ('1.1', '1.2', '1.3'):
            if 'tls' + ver in opts:
                v = getattr(ssl.TLSVersion, 'TLSv' + ver.replace('.', '_'))
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore', DeprecationWarning)
                    ctx.minimum_version = ctx.maximum_version = v
        if 'client-cert' in opts:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(os.path.join(self.certs, 'ca.pem'))

        def on_sni(sslobj, name, context):
            if name is not None:
                self.sni.append(name)
        ctx.sni_callback = on_sni
        return ctx

    def _tls(self, lineno, cert, opts, sni):
        """Become the TLS server now (after STARTTLS's 220, or first thing
        for implicit TLS)."""
        if self.certs is None:
            raise Failure('%sno certificates for a tls step' % _at(lineno))
        if self.tls_at is not None:
            raise Failure('%sTLS is already on' % _at(lineno))
        self._flush(lineno)
        first = self._peek_start(lineno, 'the TLS handshake')
        if not first:
            self.events.append(('T', 'the client closed instead of '
                                'starting TLS'))
            if 'may-fail' not in opts:
                raise Failure('%sthe client closed instead of starting TLS'
                              % _at(lineno))
            self.eof = True
            return
        if first != b'\x16':
            self._not_handshake(lineno, 'the TLS handshake')
        ctx = self._tls_context(cert, opts, sni)
        self.conn = ctx.wrap_socket(self.conn, server_side=True,
                                    do_handshake_on_connect=False)
        self.tls_at = len(self.rx)
        self.conn.settimeout(max(0.1, self.deadline - time.monotonic()))
        try:
            self.conn.do_handshake()
        except (ssl.SSLError, OSError) as e:
            why = _ssl_reason(e)
            self.events.append(('T', 'TLS handshake with %s failed: %s'
                                % (cert, why)))
            if 'may-fail' not in opts:
                raise Failure('%sthe TLS handshake failed: %s'
                              % (_at(lineno), why))
            self.eof = True
            return
        self._tls_started(lineno, cert, opts, sni)

    def _tls_started(self, lineno, cert, opts, sni):
        note = 'TLS on: %s %s, certificate %s' % (
            self.conn.version(), self.conn.cipher()[0], cert)
        note += ', SNI %s' % (self.sni[0] if self.sni else 'none')
        if 'client-cert' in opts:
            peer = self.conn.getpeercert() or {}
            names = [v for rdn in peer.get('subject', ()) for k, v in rdn
                     if k == 'commonName']
            note += ', client certificate CN=%s' % ','.join(names)
        self.events.append(('T', note))
        if sni == '-' and self.sni:
            raise Failure('%sthe client sent the server name %r (SNI); '
                          'none was expected' % (_at(lineno), self.sni[0]))
        if sni not in (None, '-') and self.sni != [sni]:
            raise Failure('%sexpected the server name (SNI) %r, got %s'
                          % (_at(lineno), sni,
                             repr(self.sni[0]) if self.sni else 'none'))

    def channel_binding(self, lineno, cbtype):
        """The channel binding data of the TLS session, as the server sees
        it: tls-unique (TLS 1.2) from ssl; tls-exporter (TLS 1.3) through
        OpenSSL directly (see _tls_exporter)."""
        if self.tls_at is None:
            raise Failure('%sthe client asked for channel binding %r '
                          'without TLS' % (_at(lineno), cbtype))
        if cbtype == 'tls-unique':
            data = self.conn.get_channel_binding('tls-unique')
        elif cbtype == 'tls-exporter':
            data = _tls_exporter(self.conn)
        else:
            data = None
        if data is None:
            raise Failure('%sthe peer cannot compute %r channel binding '
                          'data on %s' % (_at(lineno), cbtype,
                                          self.conn.version()))
        return data

    def send_line(self, lineno, data):
        self.pending_tx += data + b'\r\n'
        self._flush(lineno)

    def take_line(self, lineno, what):
        got = self._line()
        if not got.endswith(b'\r\n'):
            raise Failure('%sexpected %s, got %r<eof>' % (_at(lineno), what,
                                                          show(got)))
        self.pos += len(got)
        return got[:-2]

    # --- reporting ----------------------------------------------------
    def transcript(self, max_lines=40):
        """The session as 'S: ...' / 'C: ...' lines (long data elided);
        'C| ...' marks a line that came in the same recv() as the one
        before it ('S| ...': the same write)."""
        lines = []
        for who, data in self.events:
            if who == 'T':
                lines.append('-- %s --' % data)
                continue
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


def _ssl_reason(e):
    if isinstance(e, ssl.SSLError) and e.reason:
        return e.reason.lower().replace('_', ' ')
    return str(e) or e.__class__.__name__


def _tls_exporter(sslsock):
    """RFC 9266 tls-exporter data (32 bytes of the exporter with the label
    "EXPORTER-Channel-Binding" and an empty context) for a TLS 1.3 session.
    Python's ssl module has no exporter, so this calls OpenSSL's
    SSL_export_keying_material through ctypes on the SSL pointer that
    CPython's _ssl._SSLSocket keeps right after its socket weak reference;
    SSL_version() on that pointer must agree with ssl before it is used.
    Returns None when any of that does not hold."""
    import ctypes
    import ctypes.util
    obj = sslsock._sslobj
    if obj is None or sslsock.version() != 'TLSv1.3':
        return None
    try:
        lib = ctypes.CDLL(_loaded_libssl() or ctypes.util.find_library('ssl'))
    except OSError:
        return None
    ptr = ctypes.c_void_p.from_address(
        id(obj) + object.__basicsize__ + ctypes.sizeof(ctypes.c_void_p)).value
    lib.SSL_version.argtypes = [ctypes.c_void_p]
    lib.SSL_version.restype = ctypes.c_int
    if not ptr or lib.SSL_version(ptr) != 0x0304:
        return None
    lib.SSL_export_keying_material.argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
        ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
    out = ctypes.create_string_buffer(32)
    label = b'EXPORTER-Channel-Binding'
    if lib.SSL_export_keying_material(ptr, out, 32, label, len(label), b'',
                                      0, 1) != 1:
        return None
    return out.raw


def _loaded_libssl():
    """The libssl this process loaded for the ssl module (not some other
    one on the library path)."""
    try:
        with open('/proc/self/maps') as f:
            for line in f:
                path = line.split()[-1]
                if re.search(r'/libssl\.so[.\d]*$', path):
                    return path
    except OSError:
        pass
    return None


class _Scram:
    """The server side of one SCRAM exchange (RFC 5802; SHA-256: RFC 7677),
    starting at the client's AUTH command. Every check failing fails the
    case: a wrong user, a wrong proof, a wrong nonce, channel binding
    data that differs from the session's."""

    ITERATIONS = 4096

    def __init__(self, peer, lineno, hname, user, password, opts):
        self.peer = peer
        self.lineno = lineno
        self.hash = {'SHA-1': hashlib.sha1, 'SHA-256': hashlib.sha256}[hname]
        self.mech = 'SCRAM-%s%s' % (hname, '-PLUS' if 'plus' in opts else '')
        self.user = user.encode('utf-8')
        self.password = password.encode('utf-8')
        self.opts = opts

    def fail(self, text):
        raise Failure('%s%s: %s' % (_at(self.lineno), self.mech, text))

    def b64(self, data, what):
        try:
            return base64.b64decode(data, validate=True)
        except ValueError:
            self.fail('%s is not base64: %r' % (what, show(data)))

    def run(self):
        first = self.read_auth()
        gs2, bare = self.check_client_first(first)
        cnonce = dict(a.split(b'=', 1) for a in bare.split(b',')
                      if b'=' in a)[b'r']
        salt = os.urandom(16)
        nonce = cnonce + base64.b64encode(os.urandom(18))
        server_first = b'r=%s,s=%s,i=%d' % (nonce, base64.b64encode(salt),
                                             self.ITERATIONS)
        self.peer.send_line(self.lineno,
                            b'334 ' + base64.b64encode(server_first))
        final = self.b64(self.peer.take_line(self.lineno,
                                             'the client-final message'),
                         'the client-final message')
        salted = hashlib.pbkdf2_hmac(self.hash().name, self.password, salt,
                                     self.ITERATIONS)
        auth_msg = self.check_client_final(final, gs2, nonce, salted, bare,
                                           server_first)
        server_key = self.hmac(salted, b'Server Key')
        sig = bytearray(self.hmac(server_key, auth_msg))
        if 'bad-signature' in self.opts:
            sig[0] ^= 0x55
        self.peer.send_line(self.lineno, b'334 ' + base64.b64encode(
            b'v=' + base64.b64encode(bytes(sig))))
        if 'bad-signature' in self.opts:
            self.peer._expect_eof(self.lineno, 'after a server signature '
                                  'that does not verify (no "*", no QUIT)')
            return
        got = self.peer.take_line(self.lineno, 'an empty line after the '
                                  'server-final message')
        if got != b'':
            self.fail('expected an empty line after the server-final '
                      'message, got %r' % show(got))
        self.peer.pending_tx += b'235 2.7.0 Authentication successful\r\n'

    def hmac(self, key, msg):
        return hmac.new(key, msg, self.hash).digest()

    def read_auth(self):
        line = self.peer.take_line(self.lineno, 'AUTH ' + self.mech)
        cmd = b'AUTH ' + self.mech.encode()
        if line == cmd:
            if 'initial' in self.opts:
                self.fail('expected an initial response with AUTH')
            self.peer.send_line(self.lineno, b'334 ')
            first = self.peer.take_line(self.lineno, 'the client-first '
                                        'message')
        elif line.startswith(cmd + b' '):
            if 'no-initial' in self.opts:
                self.fail('expected AUTH without an initial response')
            first = line[len(cmd) + 1:]
        else:
            self.fail('expected %r, got %r' % (cmd.decode(), show(line)))
        self.peer.events.append(('T', '%s client-first: %s' % (
            self.mech, show(self.b64(first, 'the client-first message')))))
        return self.b64(first, 'the client-first message')

    def check_client_first(self, first):
        parts = first.split(b',', 2)
        if len(parts) != 3:
            self.fail('malformed client-first message %r' % show(first))
        flag, authzid, bare = parts
        if 'plus' in self.opts:
            if not flag.startswith(b'p='):
                self.fail('expected channel binding (p=...), got %r'
                          % show(flag))
            self.cb = self.peer.channel_binding(self.lineno,
                                                flag[2:].decode())
        elif flag not in (b'n', b'y'):
            self.fail('expected the flag n or y, got %r' % show(flag))
        elif 'flag=' + flag.decode() not in self.opts and \
                self.opts & {'flag=n', 'flag=y'}:
            self.fail('expected the channel binding flag %r, got %r (RFC '
                      '5802 section 6: y = the client could bind but the '
                      'server offers no -PLUS)' % (
                          ''.join(self.opts & {'flag=n', 'flag=y'})[5:],
                          show(flag)))
        else:
            self.cb = b''
        if authzid:
            self.fail('unexpected authorization identity %r'
                      % show(authzid))
        attrs = bare.split(b',')
        if len(attrs) < 2 or not attrs[0].startswith(b'n=') or \
                not attrs[1].startswith(b'r=') or len(attrs[1]) < 10:
            self.fail('malformed client-first-bare %r' % show(bare))
        name = attrs[0][2:].replace(b'=2C', b',').replace(b'=3D', b'=')
        if name != self.user:
            self.fail('expected the user %r, got %r' % (show(self.user),
                                                        show(name)))
        return flag + b',' + authzid + b',', bare

    def check_client_final(self, final, gs2, nonce, salted, bare,
                           server_first):
        i = final.rfind(b',p=')
        if i < 0:
            self.fail('no proof in %r' % show(final))
        without_proof, proof = final[:i], self.b64(final[i + 3:], 'p=')
        attrs = without_proof.split(b',')
        want_c = b'c=' + base64.b64encode(gs2 + self.cb)
        if attrs[0] != want_c:
            self.fail('channel binding attribute %r, expected %r' % (
                show(attrs[0]), show(want_c)))
        if len(attrs) < 2 or attrs[1] != b'r=' + nonce:
            self.fail('the nonce does not match: %r' % show(without_proof))
        auth_msg = bare + b',' + server_first + b',' + without_proof
        client_key = self.hmac(salted, b'Client Key')
        stored = self.hash(client_key).digest()
        sig = self.hmac(stored, auth_msg)
        want = bytes(a ^ b for a, b in zip(client_key, sig))
        if proof != want:
            self.fail('the client proof is wrong (wrong password, or a '
                      'different AuthMessage)')
        return auth_msg


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

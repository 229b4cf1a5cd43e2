"""A small SMTP server on a loopback socket, for the tests of the SMTP adapter and of the mail
the console sends through it (tests/accounts/test_email.py, test_invitations.py, ...): it
speaks RFC 5321's commands as smtplib sends them (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT),
keeps what it received, and can refuse the recipients or hold its answer to a message."""

from __future__ import annotations

import base64
import contextlib
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from accounts.email import SmtpEmailProvider
from kernel.embedded import free_port

HOLD_SECONDS = 10.0  # the longest a held message waits for the test


@dataclass
class Received:
    auth: list[str] = field(default_factory=list)
    envelopes: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    refuse_rcpt: bool = False  # answer every RCPT 550 (no such mailbox)
    # When set: a message is kept, `arrived` set, and the server's answer to it waits for `hold`.
    hold: threading.Event | None = None
    arrived: threading.Event = field(default_factory=threading.Event)


class _SmtpHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        box: Received = self.server.received  # type: ignore[attr-defined]
        self._say("220 test.local ESMTP")
        sender, recipients = "", []
        while line := self.rfile.readline():
            command = line.decode().rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self._say("250-test.local", "250-AUTH PLAIN", "250 8BITMIME")
            elif verb == "AUTH":
                box.auth.append(base64.b64decode(command.split()[2]).decode())
                self._say("235 2.7.0 ok")
            elif verb == "MAIL":
                sender, recipients = command[10:].strip("<>").split(">")[0], []
                self._say("250 ok")
            elif verb == "RCPT":
                if box.refuse_rcpt:
                    self._say("550 5.1.1 no such mailbox")
                    continue
                recipients.append(command[8:].strip("<>"))
                self._say("250 ok")
            elif verb == "DATA":
                self._say("354 go on")
                data = b""
                while (chunk := self.rfile.readline()) != b".\r\n":
                    data += chunk
                box.envelopes.append((sender, recipients, data))
                box.arrived.set()
                if box.hold is not None:
                    box.hold.wait(HOLD_SECONDS)
                self._say("250 queued")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:
                self._say("250 ok")

    def _say(self, *lines: str) -> None:
        self.wfile.write("".join(f"{line}\r\n" for line in lines).encode())


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[int, Received]]:
    """(port, what it received) of a server on 127.0.0.1, for the block's time."""
    port = free_port()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), _SmtpHandler)
    server.daemon_threads = True
    server.received = Received()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port, server.received  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def provider(port: int) -> SmtpEmailProvider:
    """The SMTP adapter, talking plain SMTP with AUTH to the server on `port`."""
    return SmtpEmailProvider(
        host="127.0.0.1",
        port=port,
        security="none",
        username="portico",
        password="s3cret",
        sender="Portico <no-reply@portico.test>",
        timeout=5,
    )

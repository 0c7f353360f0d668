"""Block network access from Python when KEXUE_NO_NETWORK=1 (fallback of tools/offline).

Python imports ``sitecustomize`` at start-up from ``sys.path``; tools/offline puts this
folder on PYTHONPATH, so the test process and every Jupyter kernel it starts load it.
Connections to loopback and Unix sockets stay allowed (kernels use them); anything else
raises at once, so a notebook that reaches for the network fails instead of hanging.
"""

import os
import socket

if os.environ.get("KEXUE_NO_NETWORK") == "1":

    class NetworkBlockedError(OSError):
        """Raised for any attempt to reach a non-loopback host while tests run offline."""

    _LOCAL = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "", None}

    def _is_local(host):
        return host in _LOCAL or (isinstance(host, str) and host.startswith("127."))

    _real_getaddrinfo = socket.getaddrinfo
    _real_connect = socket.socket.connect
    _real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host, *args, **kwargs):
        if not _is_local(host if not isinstance(host, bytes) else host.decode()):
            raise NetworkBlockedError(f"DNS lookup is blocked while running offline: {host!r}")
        return _real_getaddrinfo(host, *args, **kwargs)

    def _check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            raise NetworkBlockedError(
                f"network access is blocked while running offline: {address!r}"
            )

    def connect(self, address):
        _check(self, address)
        return _real_connect(self, address)

    def connect_ex(self, address):
        _check(self, address)
        return _real_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex

"""--connect HOST:PORT: the classic interactive client."""
import socket
import sys

from ._server import StartupError, format_address


def run_client(host, port):
    """Send each stdin line, print the reply; 1 if the server closes first."""
    try:
        sock = socket.create_connection((host, port))
    except OSError as exc:
        raise StartupError(f"cannot connect to {format_address(host, port)}: "
                           f"{exc.strerror or exc}") from None
    with sock:
        for line in sys.stdin:
            payload = line.encode()
            sock.sendall(payload)
            reply = b""
            while len(reply) < len(payload):
                chunk = sock.recv(65536)
                if not chunk:
                    print("connection closed by the server", file=sys.stderr)
                    return 1
                reply += chunk
            sys.stdout.write(reply.decode(errors="replace"))
            sys.stdout.flush()
    return 0

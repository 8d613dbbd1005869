#!/usr/bin/env python3
"""Records what an openvpn management socket writes, byte for byte.

record.py server SOCKET OUT: the management client of a server started with
  --management-client-auth and --management-hold. Asks for byte counts
  every 5 s, releases the hold, lets the first client in with client-auth and
  ifconfig-push / ifconfig-ipv6-push lines, answers a REAUTH (a TLS
  renegotiation) with client-auth-nt, 6 s after it is established asks
  `status 3` and `client-kill`s it; does the same the second time it comes
  back, denies its third attempt with client-deny, then sends
  `signal SIGTERM` and records to the end of the stream.
record.py client SOCKET OUT: sends `state on` and `bytecount 2`, answers
  every >HOLD: with `hold release`, records until openvpn closes the socket.

Everything received goes to OUT unchanged; what was sent goes to OUT.sent.
Bounded: gives up after 90 s.
"""
import socket
import sys
import time

role, path, out_path = sys.argv[1:4]
deadline = time.time() + 90

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
while True:
    try:
        sock.connect(path)
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("no socket at " + path)
        time.sleep(0.05)

out = open(out_path, "wb")
sent = open(out_path + ".sent", "wb")


def send(text):
    sent.write(text.encode())
    sent.flush()
    sock.sendall(text.encode())


# Both daemons run with --management-hold: nothing happens before this
# recorder is connected (a server that gets a client while no management
# client is connected fails it with AUTH_FAILED).
if role == "client":
    send("state on\nbytecount 2\n")
else:
    send("bytecount 5\nhold release\n")

buffer = b""
block = None
connects = 0
kill_at = None
cid = None
sock.settimeout(0.2)
while time.time() < deadline:
    try:
        data = sock.recv(4096)
    except socket.timeout:
        data = None
    if data == b"":
        break
    if data:
        out.write(data)
        out.flush()
        buffer += data
    if kill_at and time.time() >= kill_at:
        kill_at = None
        send("status 3\nclient-kill %s\n" % cid)
    while b"\n" in buffer:
        line, buffer = buffer.split(b"\n", 1)
        line = line.rstrip(b"\r").decode("utf-8", "replace")
        if role != "server":
            # The client holds again at each restart (--management-hold is
            # kept): release it every time, so it reconnects.
            if line.startswith(">HOLD:"):
                send("hold release\n")
            continue
        if line.startswith(">CLIENT:CONNECT,") or line.startswith(">CLIENT:REAUTH,"):
            block = line.split(":", 1)[1].split(",")
        elif line == ">CLIENT:ENV,END" and block:
            kind, first = block[0], block[1:]
            if kind == "REAUTH":
                send("client-auth-nt %s %s\n" % (first[0], first[1]))
            elif kind == "CONNECT":
                connects += 1
                if connects <= 2:
                    send("client-auth %s %s\n"
                         "ifconfig-push 10.8.0.50 255.255.255.0\n"
                         "ifconfig-ipv6-push fd00:8::50/64 fd00:8::1\n"
                         "END\n" % (first[0], first[1]))
                else:
                    send('client-deny %s %s "no session for \\"you\\"" "ask the gateway"\n'
                         % (first[0], first[1]))
                    kill_at = None
                    time.sleep(1)
                    send("signal SIGTERM\n")
            block = None
        elif line.startswith(">CLIENT:ESTABLISHED,"):
            cid = line.split(",")[1]
            if connects <= 2:
                kill_at = time.time() + 6
out.close()
sent.close()

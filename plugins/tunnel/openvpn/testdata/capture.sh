#!/usr/bin/env bash
# Captures the management transcripts in this folder (see README.md): a real
# openvpn server and client in two network namespaces joined by a veth pair,
# over IPv6, each with a management socket recorded by record.py. Run as
# root; removes what it creates. Writes into the directory given (default .).
set -euo pipefail
out=$(cd "${1:-.}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/mnigs-ovpn-capture.XXXXXX)
gw=mnigs-ovcap-gw-$$
sub=mnigs-ovcap-sub-$$
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  ip netns del "$gw" 2>/dev/null || true
  ip netns del "$sub" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cd "$work"
for who in server:mnigs-gw client:sub-1; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=${who#*:}" -keyout "${who%%:*}.key" -out "${who%%:*}.crt" 2>/dev/null
done
fingerprint=$(openssl x509 -noout -fingerprint -sha256 -in server.crt | sed 's/.*=//')
client_fingerprint=$(openssl x509 -noout -fingerprint -sha256 -in client.crt | sed 's/.*=//')

ip netns add "$gw"
ip netns add "$sub"
ip link add vovg netns "$gw" type veth peer name vovs netns "$sub"
ip -n "$gw" link set lo up
ip -n "$sub" link set lo up
ip -n "$gw" addr add fd99:1::1/64 dev vovg nodad
ip -n "$sub" addr add fd99:1::2/64 dev vovs nodad
ip -n "$gw" link set vovg up
ip -n "$sub" link set vovs up

server=(openvpn --server 10.8.0.0 255.255.255.0 --server-ipv6 fd00:8::/64 --topology subnet
  --dev tun --proto udp6 --local fd99:1::1 --lport 1194 --cert server.crt --key server.key
  --ca client.crt --dh none --management "$work/server.sock" unix --management-client-auth
  --management-hold --auth-user-pass-optional --keepalive 2 10 --reneg-sec 4 --verb 3)
client=(openvpn --client --dev tun --proto udp6 --remote fd99:1::1 1194 --nobind
  --cert client.crt --key client.key --peer-fingerprint "$fingerprint"
  --management "$work/client.sock" unix --management-hold --connect-retry 1 1 --verb 3)
printf '%s\n' "${server[*]}" > "$out/commands.txt"
printf '%s\n' "${client[*]}" >> "$out/commands.txt"

ip netns exec "$gw" "${server[@]}" > server.log 2>&1 &
pids+=($!)
python3 "$here/record.py" server "$work/server.sock" "$out/server.mgmt" &
recorder=$!
ip netns exec "$sub" "${client[@]}" > client.log 2>&1 &
pids+=($!)
python3 "$here/record.py" client "$work/client.sock" "$out/client.mgmt" &
client_recorder=$!
wait "$recorder"
# The client exits after its denial; its recorder then sees the end.
wait "$client_recorder"
cp server.log "$out/server.log"
cp client.log "$out/client.log"
echo "server certificate SHA-256: $fingerprint" > "$out/fingerprints.txt"
echo "client certificate SHA-256: $client_fingerprint" >> "$out/fingerprints.txt"

#!/bin/sh
# The compose demo's mnigs nodes (compose.yaml): the image's default config
# with the node's keys, its routes, then mnigsd.
#   node.sh gateway UPLINK_ROUTER | node.sh subscriber GATEWAY...
set -eu
conf=/etc/mnigs/mnigs.yaml
role=$1
shift
case $role in
gateway)
	# The gateway's uplink: the "Internet" router on the uplink network (in
	# place of the default route Docker gives it, to the host's bridge).
	ip route replace default via "$1"
	mnigs-cli -f "$conf" --set "main.name=$(hostname)" --set gateway.enabled=true \
		--set gateway.tunnels=forwarding,websocket >/dev/null
	;;
subscriber)
	# No way out but through a gateway: Docker gives even a container on an
	# internal network a default route to the host's side of the bridge.
	ip route del default 2>/dev/null || true
	if [ -n "$(ip route show default)" ]; then
		echo "node.sh: the default route to the host is still there; not starting" >&2
		exit 1
	fi
	# The gateways it asks (a mesh protocol would tell it); auto mode
	# chooses, connects, keeps a standby and switches. The relay that
	# puts the web UI on the host's loopback counts as local.
	peers=$(echo "$@" | tr ' ' ',')
	mnigs-cli -f "$conf" --set "main.name=$(hostname)" --set subscriber.auto=true \
		--set "static.peers=$peers" --set scan.interval=15 \
		--set "daemon.authorizedNetworks=127.0.0.0/8,::1/128,$MNIGS_UI_RELAY/32" >/dev/null
	;;
*)
	echo "node.sh: gateway ROUTER | subscriber GATEWAY..." >&2
	exit 2
	;;
esac
exec mnigsd -f "$conf"

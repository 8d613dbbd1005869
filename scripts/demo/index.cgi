#!/bin/sh
# The page of the demo's "internet" host; busybox httpd runs it for "/".
# It prints the address the request came from: behind the gateway's NAT that
# is the gateway's uplink address, not the subscriber's mesh address.
printf 'Content-Type: text/plain\r\n\r\n'
printf 'Hello from the internet host.\n'
printf 'Your request came from %s.\n' "${REMOTE_ADDR:-an unknown address}"

#!/bin/sh
# Start the bridged profile: two national brokers on 127.0.0.1, each party running its
# own, joined by a bridge. Ports $1 and $2 (default 1885 and 1886), state in $3
# (default out/broker-bridged, one directory per broker). Prints the two broker URLs,
# one per line: give each party's posts its own. Stop them with:
#   kill $(cat DIR/a/pid) $(cat DIR/b/pid)
set -eu
here=$(dirname "$0")
port_a=${1:-1885}
port_b=${2:-1886}
dir=$(realpath -m "${3:-out/broker-bridged}")
"$here/../mosquitto.sh" "$here/national.conf.in" "$port_a" "$dir/a"
PEER="127.0.0.1:$port_a" "$here/../mosquitto.sh" "$here/bridging.conf.in" "$port_b" "$dir/b"

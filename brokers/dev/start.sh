#!/bin/sh
# Start the dev profile: mosquitto on 127.0.0.1 (port $1, default 1884), state in $2
# (default out/broker-dev). Prints the broker URL; stop it with: kill $(cat DIR/pid)
set -eu
port=${1:-1884}
dir=$(realpath -m "${2:-out/broker-dev}")
exec "$(dirname "$0")/../mosquitto.sh" "$(dirname "$0")/mosquitto.conf.in" "$port" "$dir"

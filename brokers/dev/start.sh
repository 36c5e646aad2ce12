#!/bin/sh
# Start the dev profile: mosquitto on 127.0.0.1 (port $1, default 1884), state in $2
# (default out/broker-dev). Prints the broker URL; stop it with: kill $(cat DIR/pid)
set -eu
port=${1:-1884}
dir=$(realpath -m "${2:-out/broker-dev}")
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$mosquitto" ] || { echo "mosquitto is not installed: apt-get install mosquitto" >&2; exit 2; }
mkdir -p "$dir/data"
user=""
[ "$(id -u)" = 0 ] && user="user root"
sed -e "s|@PORT@|$port|" -e "s|@DIR@|$dir|g" -e "s|@USER@|$user|" \
    "$(dirname "$0")/mosquitto.conf.in" > "$dir/mosquitto.conf"
"$mosquitto" -c "$dir/mosquitto.conf" -d
for _ in $(seq 50); do
    if pid=$(pgrep -f -n "mosquitto -c $dir/mosquitto.conf"); then
        echo "$pid" > "$dir/pid"
        echo "mqtt://127.0.0.1:$port"
        exit 0
    fi
    sleep 0.1
done
echo "mosquitto did not start; see $dir/mosquitto.log" >&2
exit 1

#!/bin/sh
# Shared by the mosquitto profiles: fill in a profile's mosquitto.conf.in and start it.
#   brokers/mosquitto.sh TEMPLATE PORT DIR [SCHEME]
# @PORT@ and @DIR@ in TEMPLATE become PORT and DIR, @PEER@ the value of $PEER (a bridged
# broker's other side); @USER@ keeps the broker running as
# root when started as root (it would drop to user "mosquitto", which cannot write DIR,
# and its persistence would fail silently). Prints the broker URL; the broker's pid goes
# to DIR/pid (stop it with: kill $(cat DIR/pid)).
set -eu
template=$1
port=$2
dir=$3
scheme=${4:-mqtt}
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$mosquitto" ] || { echo "mosquitto is not installed: apt-get install mosquitto" >&2; exit 2; }
mkdir -p "$dir/data"
user=""
[ "$(id -u)" = 0 ] && user="user root"
sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" -e "s|@PEER@|${PEER:-}|g" -e "s|@USER@|$user|" "$template" > "$dir/mosquitto.conf"
"$mosquitto" -c "$dir/mosquitto.conf" -d
for _ in $(seq 50); do
    if pid=$(pgrep -f -n "mosquitto -c $dir/mosquitto.conf"); then
        echo "$pid" > "$dir/pid"
        echo "$scheme://127.0.0.1:$port"
        exit 0
    fi
    sleep 0.1
done
echo "mosquitto did not start; see $dir/mosquitto.log" >&2
exit 1

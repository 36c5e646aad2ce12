#!/bin/sh
# Start the NATS profile: a three-node NATS cluster with JetStream and the MQTT gateway
# on 127.0.0.1, state in $1 (default out/broker-nats). Node i (1..3) takes ports
# BASE+i for MQTT, BASE+10+i for NATS clients and BASE+20+i for cluster routes
# (BASE is $2, default 4300). Prints the MQTT URLs of the nodes, comma-separated: give
# them all to a post (or to `hotline exercise run --broker`) and it fails over between
# them. Stop the cluster with: kill $(cat DIR/n*/pid)
set -eu
here=$(dirname "$0")
dir=$(realpath -m "${1:-out/broker-nats}")
base=${2:-4300}
server=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$server" ] || { echo "nats-server is not installed: apt-get install nats-server" >&2; exit 2; }
routes="nats-route://127.0.0.1:$((base + 21)), nats-route://127.0.0.1:$((base + 22)), nats-route://127.0.0.1:$((base + 23))"
urls=""
for i in 1 2 3; do
    name="n$i"
    mkdir -p "$dir/$name"
    sed -e "s|@NAME@|$name|g" -e "s|@DIR@|$dir|g" -e "s|@CLIENT@|$((base + 10 + i))|" \
        -e "s|@ROUTE@|$((base + 20 + i))|" -e "s|@MQTT@|$((base + i))|" -e "s|@ROUTES@|$routes|" \
        "$here/node.conf.in" > "$dir/$name/nats.conf"
    "$server" -c "$dir/$name/nats.conf" -l "$dir/$name/nats.log" -P "$dir/$name/pid" \
        >/dev/null 2>&1 </dev/null &
    urls="$urls${urls:+,}mqtt://127.0.0.1:$((base + i))"
done
# MQTT needs JetStream, which needs the cluster to elect its metadata leader
for _ in $(seq 300); do
    if grep -qs "JetStream cluster new metadata leader\|Self is new JetStream cluster metadata leader" \
        "$dir"/n1/nats.log "$dir"/n2/nats.log "$dir"/n3/nats.log \
        && [ -s "$dir/n1/pid" ] && [ -s "$dir/n2/pid" ] && [ -s "$dir/n3/pid" ]; then
        echo "$urls"
        exit 0
    fi
    sleep 0.1
done
echo "the NATS cluster did not form; see $dir/n*/nats.log" >&2
exit 1

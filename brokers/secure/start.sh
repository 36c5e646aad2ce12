#!/bin/sh
# Start the secure profile: mosquitto with TLS on 127.0.0.1 (port $1, default 8884),
# state in $2 (default out/broker-secure). Posts connect with their client certificate
# and may only read their own inboxes and write to inboxes on their channels.
#
# The certificates and the ACL are DIR/tls/, from `hotline certs issue`. If they are not
# there yet, give the keyring as $3 and they are created from it (every station its own
# post; to group stations into posts, run `hotline certs issue --post ...` first).
# Prints the broker URL (mqtts://); stop it with: kill $(cat DIR/pid)
set -eu
port=${1:-8884}
dir=$(realpath -m "${2:-out/broker-secure}")
keyring=${3:-}
if [ ! -f "$dir/tls/acl" ]; then
    [ -n "$keyring" ] || { echo "no $dir/tls/ yet: give the keyring as the third argument" >&2; exit 2; }
    hotline=$(command -v hotline || echo "$(dirname "$0")/../../.venv/bin/hotline")
    "$hotline" certs issue --keyring "$keyring" --dir "$dir/tls" >&2
fi
exec "$(dirname "$0")/../mosquitto.sh" "$(dirname "$0")/mosquitto.conf.in" "$port" "$dir" mqtts

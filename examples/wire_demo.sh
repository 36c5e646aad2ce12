#!/bin/sh
# The signed wire format end to end: two stations get keys, one notifies, the other
# acknowledges the exact notice it read, a tampered copy is rejected, and the protocol
# vectors verify. Run it with `make demo`; it writes only under out/demo/.
set -eu
dir=out/demo
rm -rf "$dir" && mkdir -p "$dir"
step() { printf '\n== %s\n' "$*"; }

step "Each air-operations centre creates its key; the public halves go into one keyring"
hotline keys generate --station US-CAOC --party US --channels air,general-officer \
    --keyring "$dir/keyring.json" --out "$dir/US-CAOC.key"
hotline keys generate --station RU-HMEIMIM --party RU --channels air,general-officer \
    --keyring "$dir/keyring.json" --out "$dir/RU-HMEIMIM.key"

step "US-CAOC signs a FLASH strike notice for RU-HMEIMIM on the air line"
hotline sign --key "$dir/US-CAOC.key" --channel air --kind notify --to RU-HMEIMIM \
    --incident US-CAOC:0001 --precedence flash \
    --body '{"activity": "strike", "area": {"lat": 35.24, "lon": 40.19, "radius_km": 5}}' \
    -o "$dir/notice.bin"

step "RU-HMEIMIM inspects and verifies it"
hotline inspect "$dir/notice.bin" --keyring "$dir/keyring.json" --channel air | tee "$dir/notice.json"
digest=$(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["digest"])' "$dir/notice.json")

step "RU-HMEIMIM acknowledges exactly that notice (ref = its digest)"
hotline sign --key "$dir/RU-HMEIMIM.key" --channel air --kind ack --to US-CAOC \
    --incident US-CAOC:0001 --precedence flash --ref "$digest" -o "$dir/ack.bin"
hotline inspect "$dir/ack.bin" --keyring "$dir/keyring.json" \
    | python -c 'import json,sys; r=json.load(sys.stdin); print(r["verdict"], r["envelope"]["k"], "ref", r["envelope"]["ref"])'

step "A copy of the notice with one byte changed is rejected (exit code 3)"
python -c 'import sys; d=bytearray(open(sys.argv[1],"rb").read()); d[40]^=1; open(sys.argv[2],"wb").write(d)' \
    "$dir/notice.bin" "$dir/tampered.bin"
if hotline inspect "$dir/tampered.bin" --keyring "$dir/keyring.json" > "$dir/tampered.json"; then
    echo "tampered notice was accepted: this is a bug" >&2; exit 1
fi
python -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["verdict"], "-", r["reason"])' "$dir/tampered.json"

step "The protocol test vectors (protocol/vectors/) all give their expected verdict"
hotline vectors check --quiet

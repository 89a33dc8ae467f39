#!/usr/bin/env bash
# The five-minute tour as a script: scaffold a fleet, validate it, commit it, change it
# the way a pull request would, and plan the change. Leaves the fleet in ${1:-demo-fleet}.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
vmsctl() { node "$repo/bin/run.js" "$@"; }
dir="${1:-demo-fleet}"

rm -rf "$dir"
vmsctl init "$dir"
vmsctl validate "$dir"
vmsctl capacity "$dir"

git -C "$dir" init -q -b main
git -C "$dir" add .
git -C "$dir" -c user.name=demo -c user.email=demo@example.invalid commit -q -m "Initial fleet"

# A pull request: a fourth camera and a tighter ANPR threshold.
cams="$dir/tenants/acme/sites/hq/cameras.yaml"
sed -i 's/confidenceThreshold: 0.7/confidenceThreshold: 0.8/' "$cams"
cat >>"$cams" <<'YAML'
---
apiVersion: vmsctl.io/v1alpha1
kind: Camera
metadata:
  name: gate-cam
  namespace: acme
spec:
  site: hq
  zone: main/ground/entrance
  source:
    type: rtsp
    url: rtsp://10.0.10.14:554/stream1
  auth:
    type: basic
    secretRef:
      name: gate-cam-credentials
  streams:
    main: { codec: H264, resolution: 1920x1080, fps: 25, bitrate: 4Mbps }
  models:
    - name: anpr
    - name: intrusion-detection
YAML
vmsctl validate "$dir"
vmsctl config explain acme/gate-cam models.anpr --dir "$dir"
set +e
vmsctl plan "$dir" --against HEAD
code=$?
set -e
echo "plan exit code: $code (0 no changes, 1 changes, 2 error)"
[ "$code" -le 1 ]

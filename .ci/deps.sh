#!/bin/sh
# Installs everything tessera needs to build and test, from Debian's repositories and npm.
# Idempotent; uses sudo when not run as root.
set -eu
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
PKGS="build-essential cmake pkg-config clang-format
  libmicrohttpd-dev libssl-dev libjansson-dev libcjose-dev libcurl4-openssl-dev libldap2-dev
  libexpat1-dev liblmdb-dev zlib1g-dev libxmlsec1-dev xmlsec1
  curl python3 python3-boto3 python3-pytest python3-requests python3-prometheus-client python3-lmdb awscli faketime slapd ldap-utils
  wrk nginx-light rclone s3cmd chromium valgrind etcd-server etcd-client haproxy
  ceph-mon ceph-osd radosgw ceph-common"
# Node.js >= 18 for the JavaScript clients: use the one on PATH when there is one.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PKGS="$PKGS nodejs npm"
fi
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  # slapd asks questions on install; the tests run their own slapd with their own config.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
# The JavaScript clients used by the integration tests (AWS SDK v3, minio-js).
here="$(cd "$(dirname "$0")/.." && pwd)"
for d in "$here"/tests/integration/js "$here"/tests/integration/oidc "$here"/tests/integration/browser; do
  if [ -f "$d/package-lock.json" ] && [ ! -d "$d/node_modules" ]; then
    (cd "$d" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done

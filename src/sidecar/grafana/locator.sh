#!/bin/sh
# pgpulse locator: the executable Grafana launches for the pgpulse datasource
# (dist/gpx_pgpulse_linux_amd64 and _arm64 are copies of this file).
#
# POSIX sh only: it must run under busybox ash (stock Alpine Grafana image, no Node, no bash)
# and Debian's dash. Grafana >= 12.4 may start plugins with no host environment (no PATH), so
# the usual directories are appended to PATH here. Settings come from the ini section [plugin.pgpulse-postgres-datasource],
# which Grafana passes as GF_PLUGIN_<KEY>:
#
#   mode            GF_PLUGIN_MODE            remote (default) | local
#   sidecar_address GF_PLUGIN_SIDECAR_ADDRESS remote mode: host:port of the sidecar's gRPC
#                                             listener (default 127.0.0.1:7701)
#   wait_seconds    GF_PLUGIN_WAIT_SECONDS    remote mode: how long to wait for the sidecar (45)
#   node_path       GF_PLUGIN_NODE_PATH       local mode: absolute path to Node >= 22 (/usr/bin/node)
#   sidecar_entry   GF_PLUGIN_SIDECAR_ENTRY   local mode: the sidecar's plugin entry
#                                             (default <plugin dir>/../build/sidecar/grafana/plugin-entry.js)
#
# Remote mode prints go-plugin's handshake line with the sidecar's address and stays alive, so
# Grafana talks gRPC to the sidecar directly. stdout carries only the handshake line (anything
# before it breaks the handshake); messages go to stderr as hclog JSON, which Grafana logs.

PATH=${PATH:+$PATH:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

# Print one hclog-shaped JSON line on stderr (no @timestamp: Grafana adds its own).
log() {
  _level=$1
  shift
  _msg=$(printf '%s' "$*" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | tr -d '\n\r\t')
  printf '{"@level":"%s","@message":"%s","@module":"pgpulse-locator"}\n' "$_level" "$_msg" >&2
}

die() {
  log error "$*"
  exit 1
}

mode=${GF_PLUGIN_MODE:-remote}

case "$mode" in
  local)
    node=${GF_PLUGIN_NODE_PATH:-/usr/bin/node}
    case "$0" in
      */*) plugin_dir=${0%/*} ;;
      *) plugin_dir=. ;;
    esac
    entry=${GF_PLUGIN_SIDECAR_ENTRY:-$plugin_dir/../build/sidecar/grafana/plugin-entry.js}
    case "$node" in
      /*) ;;
      *) die "pgpulse locator (local mode): node_path must be an absolute path, got '$node'; set node_path in [plugin.pgpulse-postgres-datasource] (GF_PLUGIN_NODE_PATH)" ;;
    esac
    [ -x "$node" ] || die "pgpulse locator (local mode): no executable node at $node; install Node 24 LTS (or 22) on the Grafana host and set node_path in [plugin.pgpulse-postgres-datasource] (GF_PLUGIN_NODE_PATH), or use remote mode"
    # An older node would fail later inside the sidecar (native modules built for Node >= 22)
    # with a stack trace Grafana logs as a crash loop; say which node and what to install instead.
    version=$("$node" -p 'process.versions.node' 2>/dev/null) || version=
    major=${version%%.*}
    case "$major" in
      '' | *[!0-9]*) die "pgpulse locator (local mode): $node did not report a Node version; point node_path in [plugin.pgpulse-postgres-datasource] (GF_PLUGIN_NODE_PATH) at Node 24 LTS (or 22)" ;;
    esac
    [ "$major" -ge 22 ] || die "pgpulse locator (local mode): $node is Node $version, pgpulse needs Node 22 or newer (24 LTS recommended); install it on the Grafana host and set node_path in [plugin.pgpulse-postgres-datasource] (GF_PLUGIN_NODE_PATH), or use remote mode"
    [ -f "$entry" ] || die "pgpulse locator (local mode): sidecar entry $entry not found; run 'npm ci && npm run build' in the pgpulse checkout or set sidecar_entry (GF_PLUGIN_SIDECAR_ENTRY)"
    # exec: Grafana's SIGKILL and Shutdown must reach node itself, not this shell.
    exec "$node" "$entry"
    ;;
  remote) ;;
  *)
    die "pgpulse locator: mode must be 'remote' or 'local', got '$mode'; fix mode in [plugin.pgpulse-postgres-datasource] (GF_PLUGIN_MODE)"
    ;;
esac

address=${GF_PLUGIN_SIDECAR_ADDRESS:-127.0.0.1:7701}
address=${address#tcp://}
host=${address%:*}
port=${address##*:}
case "$port" in
  '' | *[!0-9]*) die "pgpulse locator: sidecar_address '$address' is not host:port; set sidecar_address in [plugin.pgpulse-postgres-datasource] (GF_PLUGIN_SIDECAR_ADDRESS), e.g. sidecar:7701" ;;
esac
[ -n "$host" ] && [ "$host" != "$address" ] || die "pgpulse locator: sidecar_address '$address' has no host; set sidecar_address in [plugin.pgpulse-postgres-datasource] (GF_PLUGIN_SIDECAR_ADDRESS), e.g. sidecar:7701"
# [::1]:7701 → ::1 for nc; the handshake keeps the brackets (Go's net.ResolveTCPAddr wants them).
probe_host=$host
case "$probe_host" in
  \[*\]) probe_host=${probe_host#\[}; probe_host=${probe_host%\]} ;;
esac

wait_seconds=${GF_PLUGIN_WAIT_SECONDS:-45}
case "$wait_seconds" in
  '' | *[!0-9]*) wait_seconds=45 ;;
esac

# One connection attempt. `nc HOST PORT </dev/null` works with busybox's small and "bloaty"
# nc and with netcat-openbsd: it connects, sees EOF on stdin and exits 0; refused → non-zero.
# bash's /dev/tcp is the fallback where there is no nc (Debian images have bash).
probe() {
  if command -v nc >/dev/null 2>&1; then
    nc -w 2 "$probe_host" "$port" </dev/null >/dev/null 2>&1
  elif command -v bash >/dev/null 2>&1; then
    bash -c 'exec 3<>"/dev/tcp/$1/$2"' probe "$probe_host" "$port" </dev/null >/dev/null 2>&1
  else
    return 2
  fi
}

start=$(date +%s)
announced=0
while :; do
  probe
  rc=$?
  if [ "$rc" -eq 0 ]; then
    break
  fi
  if [ "$rc" -eq 2 ]; then
    log warn "pgpulse locator: neither nc nor bash is available to check $address; handing it to Grafana unchecked"
    break
  fi
  now=$(date +%s)
  if [ $((now - start)) -ge "$wait_seconds" ]; then
    die "pgpulse locator: the pgpulse sidecar at $address did not accept connections within $wait_seconds s; start it (pgpulse serve, gRPC on PGPULSE_GRPC_ADDR) or fix sidecar_address in [plugin.pgpulse-postgres-datasource] (GF_PLUGIN_SIDECAR_ADDRESS)"
  fi
  if [ "$announced" -eq 0 ]; then
    log info "pgpulse locator: waiting for the pgpulse sidecar at $address"
    announced=1
  fi
  sleep 1
done

printf '1|2|tcp|%s:%s|grpc\n' "$host" "$port"
log info "pgpulse locator: Grafana will use the pgpulse sidecar at $address"
# Stay alive: if this process exits, Grafana restarts the plugin about every second.
exec sleep 2147483647

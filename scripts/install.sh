#!/usr/bin/env bash
# storegate installer for a shop's mini-PC (README "Install (technicians)").
#
#   sudo ./install.sh [--store ID] [--upstream URL] [--api-key-file FILE] [--mode connected|hybrid|offline]
#                     [--terminal ID]... [--port N] [--binary FILE] [--no-start] [--root DIR]
#   sudo ./install.sh --uninstall [--purge] [--root DIR]
#
# Installs the single binary as /usr/local/bin/storegate, the system user `storegate`, /etc/storegate/config.json
# (root:storegate 0640) from the answers, the Talon.One API key in /etc/storegate/api-key (storegate 0600), the
# systemd unit, the udev rule for USB scanners and the modules they need; then enables and starts the service
# when systemd runs, and ends with `storegate doctor`. Missing answers are asked for (one line each on stdin).
# Idempotent: a second run replaces the binary, unit and rules, and keeps config, key and data as they are.
# `--root DIR` installs into DIR as if it were / (no systemd, no udev): for tests and image builds.
# `--uninstall` stops and removes the service, binary, unit and rules; config and data (the journal may hold
# records Talon.One has not received yet) stay unless `--purge`.
set -euo pipefail
# useradd, userdel and modprobe live in sbin, which a plain user's PATH (and some sudo setups) leave out.
PATH=$PATH:/usr/sbin:/sbin

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "storegate install: $*"; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root="" store="" upstream="" key_file="" mode="" port="8080" binary="" start=1 uninstall=0 purge=0
terminals=()
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    --store) store=${2:?--store needs an id}; shift 2 ;;
    --upstream) upstream=${2:?--upstream needs a URL}; shift 2 ;;
    --api-key-file) key_file=${2:?--api-key-file needs a file}; shift 2 ;;
    --mode) mode=${2:?--mode needs connected, hybrid or offline}; shift 2 ;;
    --terminal) terminals+=("${2:?--terminal needs an id}"); shift 2 ;;
    --port) port=${2:?--port needs a number}; shift 2 ;;
    --binary) binary=${2:?--binary needs a file}; shift 2 ;;
    --no-start) start=0; shift ;;
    --uninstall) uninstall=1; shift ;;
    --purge) purge=1; shift ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

if [ -n "$root" ]; then
  mkdir -p "$root" || die "cannot create $root"
  root=$(cd "$root" && pwd)
  [ "$root" != / ] || root=""
fi
[ -n "$root" ] || [ "$(id -u)" -eq 0 ] || die "run it as root (sudo), or with --root DIR"
use_systemd=0
[ -z "$root" ] && [ -d /run/systemd/system ] && use_systemd=1

BIN=$root/usr/local/bin/storegate
ETC=$root/etc/storegate
CONFIG=$ETC/config.json
KEY=$ETC/api-key
DATA=$root/var/lib/storegate
UNIT=$root/etc/systemd/system/storegate.service
RULES=$root/etc/udev/rules.d/60-storegate-scanners.rules
MODULES=$root/etc/modules-load.d/storegate.conf

# The release folder holds everything beside this script; a source checkout has it in dist/ and systemd/.
find_file() {
  local f
  for f in "$here/$1" "$here/../dist/$1" "$here/../systemd/$1"; do
    [ -f "$f" ] && { echo "$f"; return 0; }
  done
  die "$1 not found beside $0 (run npm run build:binary in a checkout, or use the release folder)"
}

# --- users: the system's own tools; in a --root tree they write that tree's /etc/passwd and /etc/group -------
user_exists() {
  if [ -n "$root" ]; then grep -q '^storegate:' "$root/etc/passwd" 2>/dev/null; else getent passwd storegate >/dev/null; fi
}
ids_of_storegate() { # prints "uid gid" of storegate (in the tree for --root)
  if [ -n "$root" ]; then awk -F: '$1 == "storegate" { print $3, $4 }' "$root/etc/passwd"; else echo "$(id -u storegate) $(id -g storegate)"; fi
}
can_chown=1
[ "$(id -u)" -eq 0 ] || can_chown=0
own() { # own OWNER GROUP MODE PATH (OWNER/GROUP: root or storegate)
  chmod "$3" "$4"
  [ $can_chown -eq 1 ] || return 0
  local u=0 g=0 sg
  sg=$(ids_of_storegate)
  [ "$1" = storegate ] && u=${sg% *}
  [ "$2" = storegate ] && g=${sg#* }
  chown "$u:$g" "$4"
}

uninstall() {
  if [ $use_systemd -eq 1 ]; then
    systemctl disable --now storegate.service 2>/dev/null || true
  fi
  rm -f "$UNIT" "$RULES" "$MODULES" "$BIN"
  if [ $use_systemd -eq 1 ]; then
    systemctl daemon-reload
    command -v udevadm >/dev/null && udevadm control --reload-rules || true
  fi
  if [ $purge -eq 1 ]; then
    rm -rf "$ETC" "$DATA"
    if user_exists; then
      if [ -n "$root" ]; then userdel --prefix "$root" storegate 2>/dev/null || true; else userdel storegate 2>/dev/null || true; fi
    fi
    say "removed the service, binary, config, API key, data and user storegate"
  else
    say "removed the service, binary, unit and rules; kept $ETC and $DATA (the journal may hold records Talon.One has not received: --purge deletes them) and user storegate"
  fi
}

if [ $uninstall -eq 1 ]; then
  uninstall
  exit 0
fi

# --- the binary ------------------------------------------------------------------------------------------------
case "$(uname -m)" in
  x86_64|amd64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) die "no storegate binary for $(uname -m)" ;;
esac
[ -n "$binary" ] || binary=$(find_file "storegate-linux-$arch")
[ -f "$binary" ] || die "$binary not found"
if [ -f "$binary.sha256" ]; then
  want=$(cut -d' ' -f1 "$binary.sha256")
  got=$(sha256sum "$binary" | cut -d' ' -f1)
  [ "$want" = "$got" ] || die "$binary does not match $binary.sha256 (damaged download?)"
fi
"$binary" version >/dev/null || die "$binary does not run on this machine"

# --- answers ---------------------------------------------------------------------------------------------------
ask() { # ask VAR "question": one line from stdin
  local answer=""
  printf '%s: ' "$2" >&2
  IFS= read -r answer || true
  [ -t 0 ] || echo >&2
  printf -v "$1" '%s' "$answer"
}
if [ ! -f "$CONFIG" ]; then
  [ -n "$store" ] || ask store "Talon.One store integration id (e.g. store-042)"
  [[ "$store" =~ ^[^[:space:]\"\\]{1,1000}$ ]] || die "store id \"$store\" is empty or has spaces, quotes or backslashes"
  [ -n "$upstream" ] || ask upstream "Talon.One deployment URL (e.g. https://acme.europe-west1.talon.one; empty = offline only)"
  [ -z "$upstream" ] || [[ "$upstream" =~ ^https?://[^[:space:]\"\\]+$ ]] || die "upstream URL \"$upstream\" must start with https:// (or http://)"
  [ -n "$mode" ] || { [ -n "$upstream" ] && mode=connected || mode=offline; }
  case "$mode" in connected|hybrid|offline) ;; *) die "--mode must be connected, hybrid or offline" ;; esac
  [ "$mode" = offline ] || [ -n "$upstream" ] || die "mode $mode needs the Talon.One URL (--upstream)"
  [[ "$port" =~ ^[0-9]{1,5}$ ]] && [ "$port" -le 65535 ] || die "--port must be a number up to 65535"
  for t in "${terminals[@]}"; do [[ "$t" =~ ^[A-Za-z0-9._-]{1,100}$ ]] || die "terminal id \"$t\" must match [A-Za-z0-9._-]"; done
fi
api_key=""
if [ ! -f "$KEY" ] && { [ -n "$upstream" ] || [ -n "$key_file" ]; }; then
  if [ -n "$key_file" ]; then
    IFS= read -r api_key <"$key_file" || true
  else
    printf 'Talon.One Integration API key (not shown): ' >&2
    if [ -t 0 ]; then IFS= read -rs api_key || true; else IFS= read -r api_key || true; fi
    echo >&2
  fi
  api_key=${api_key//$'\r'/}
  [ -n "$api_key" ] || die "the API key is empty"
fi

# --- user, folders, files --------------------------------------------------------------------------------------
if ! user_exists; then
  if [ -n "$root" ]; then
    if [ $can_chown -eq 1 ]; then
      mkdir -p "$root/etc"
      useradd --prefix "$root" --system --user-group --home-dir /var/lib/storegate --no-create-home --shell /usr/sbin/nologin storegate
    fi
  else
    useradd --system --user-group --home-dir /var/lib/storegate --no-create-home --shell /usr/sbin/nologin storegate
  fi
  user_exists && say "created system user storegate"
fi
user_exists || can_chown=0 # a --root tree made without root: modes only

mkdir -p "$(dirname "$BIN")" "$ETC" "$DATA" "$(dirname "$UNIT")" "$(dirname "$RULES")" "$(dirname "$MODULES")"
own root storegate 0750 "$ETC"
own storegate storegate 0750 "$DATA"

# Replaced by rename, so a running daemon keeps its old binary until the restart below.
cp "$binary" "$BIN.new"
own root root 0755 "$BIN.new"
mv -f "$BIN.new" "$BIN"
for pair in "storegate.service:$UNIT" "60-storegate-scanners.rules:$RULES" "storegate-modules.conf:$MODULES"; do
  cp "$(find_file "${pair%%:*}")" "${pair#*:}"
  own root root 0644 "${pair#*:}"
done
"$BIN" schema >"$ETC/schema.json.new"
own root root 0644 "$ETC/schema.json.new"
mv -f "$ETC/schema.json.new" "$ETC/schema.json"

if [ -n "$api_key" ]; then
  (umask 077 && printf '%s\n' "$api_key" >"$KEY.new")
  own storegate storegate 0600 "$KEY.new"
  mv -f "$KEY.new" "$KEY"
  say "API key written to $KEY (0600)"
fi

if [ -f "$CONFIG" ]; then
  say "kept the existing $CONFIG (edit it, then: systemctl restart storegate)"
else
  admin_token=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
  terminal_lines=""
  for t in "${terminals[@]}"; do
    out=$("$BIN" keys terminal "$t")
    token=$(sed -n 2p <<<"$out" | tr -d ' ')
    line=$(sed -n 4p <<<"$out" | sed 's/^ *//')
    terminal_lines+="${terminal_lines:+,}"$'\n'"    $line"
    say "terminal $t token: $token (enter it in that POS as its API key; it is stored nowhere else)"
  done
  terminals_json="[]"
  [ -z "$terminal_lines" ] || terminals_json="[${terminal_lines}"$'\n'"  ]"
  upstream_json=null key_json=null
  [ -z "$upstream" ] || upstream_json="\"$upstream\""
  [ ! -f "$KEY" ] || key_json='"api-key"'
  (umask 027 && cat >"$CONFIG.new" <<EOF
{
  "\$schema": "./schema.json",
  "store": { "integrationId": "$store" },
  "mode": "$mode",
  "dataDir": "/var/lib/storegate",
  "http": { "host": "0.0.0.0", "port": $port },
  "adminToken": "$admin_token",
  "terminals": $terminals_json,
  "upstream": { "baseUrl": $upstream_json, "apiKeyFile": $key_json },
  "log": { "level": "info" }
}
EOF
  )
  own root storegate 0640 "$CONFIG.new"
  mv -f "$CONFIG.new" "$CONFIG"
  say "wrote $CONFIG (store $store, mode $mode, port $port)"
fi

# --- start -----------------------------------------------------------------------------------------------------
if [ $use_systemd -eq 1 ]; then
  command -v modprobe >/dev/null && { modprobe usbserial 2>/dev/null || true; modprobe cdc_acm 2>/dev/null || true; }
  if command -v udevadm >/dev/null; then udevadm control --reload-rules && udevadm trigger --subsystem-match=tty || true; fi
  systemctl daemon-reload
  systemctl enable storegate.service >/dev/null 2>&1
  if [ $start -eq 1 ]; then
    # restart, not start: a second run (an upgrade) must run the new binary.
    systemctl restart storegate.service || { journalctl -u storegate.service -n 30 --no-pager >&2 || true; die "storegate did not start (above: its last log lines)"; }
    say "service started: systemctl status storegate"
  fi
elif [ -z "$root" ]; then
  say "systemd is not running here: start the daemon with  storegate run --config /etc/storegate/config.json"
fi

# --- check -----------------------------------------------------------------------------------------------------
if "$BIN" doctor --help >/dev/null 2>&1; then
  say "checking with storegate doctor:"
  # A --root tree's data dir is inside the tree (the config names /var/lib/storegate as installed).
  # The installation is done either way: doctor's fail lines say what to fix, and the exit status stays the
  # installer's own (an image build with --root has no Talon.One or daemon to reach).
  if [ -n "$root" ]; then doctor_ok=1; STOREGATE_DATA_DIR=$DATA "$BIN" doctor --config "$CONFIG" || doctor_ok=0
  else doctor_ok=1; "$BIN" doctor --config "$CONFIG" || doctor_ok=0; fi
  if [ $doctor_ok -eq 0 ]; then say "installed, but storegate doctor reports problems: fix the fail lines above, then run  storegate doctor"; fi
else
  say "done. This binary has no doctor command yet; check by hand:"
  say "  systemctl status storegate        (active (running))"
  say "  journalctl -u storegate -n 20     (a \"storegate listening\" line, no errors)"
  say "  curl -s http://127.0.0.1:$port/readyz   ({\"ready\":true,…})"
fi

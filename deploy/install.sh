#!/bin/sh
# Installs the compiled clank binary as the systemd service `twitch-ollama-chatbot`.
#
# Run it again to upgrade: the binary, the unit, the logrotate file and the docs are replaced, while
# config.toml, the env file (secrets) and the database are never touched once they exist.
#
#   deno task compile && sudo deploy/install.sh
#
# Environment (all optional):
#   BINARY       compiled binary to install              (default: dist/clank next to this script's repo)
#   PREFIX       where bin/clank and share/doc go        (default: /usr/local)
#   DESTDIR      stage everything under this directory   (default: empty, i.e. the real system);
#                with DESTDIR set no user is created, nothing is chown'ed and systemctl is not called
#   SYSTEMD_DIR  where the unit goes                     (default: /etc/systemd/system)
#   SYSCONF_DIR  parent of the config directory          (default: /etc)
#   NO_SYSTEMCTL=1  do not call systemctl (same as --no-systemctl)
#   LOG_TO_FILE=1   write the bot's output to /var/log/twitch-ollama-chatbot/clank.log (same as --log-to-file)
set -eu

NAME=twitch-ollama-chatbot
SERVICE_USER=$NAME
SCRIPT_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
REPO_DIR=$(dirname -- "$SCRIPT_DIR")

BINARY=${BINARY:-$REPO_DIR/dist/clank}
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
SYSTEMD_DIR=${SYSTEMD_DIR:-/etc/systemd/system}
SYSCONF_DIR=${SYSCONF_DIR:-/etc}
NO_SYSTEMCTL=${NO_SYSTEMCTL:-0}
LOG_TO_FILE=${LOG_TO_FILE:-0}

CONF_DIR=$SYSCONF_DIR/$NAME
DATA_DIR=/var/lib/$NAME
LOG_DIR=/var/log/$NAME
DOC_DIR=$PREFIX/share/doc/$NAME

usage() {
  sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
  echo
  echo "Options: --binary PATH, --no-systemctl, --log-to-file, --help"
}

while [ $# -gt 0 ]; do
  case $1 in
    --binary) [ $# -ge 2 ] || { echo "install.sh: --binary needs a path" >&2; exit 2; }; BINARY=$2; shift 2 ;;
    --binary=*) BINARY=${1#--binary=}; shift ;;
    --no-systemctl) NO_SYSTEMCTL=1; shift ;;
    --log-to-file) LOG_TO_FILE=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1 (allowed: --binary PATH, --no-systemctl, --log-to-file, --help)" >&2; exit 2 ;;
  esac
done

say() { printf '%s\n' "$*"; }

# A staged install (DESTDIR) or a non-root run must not touch users, ownership or services.
SYSTEM_INSTALL=0
if [ -z "$DESTDIR" ] && [ "$(id -u)" -eq 0 ]; then SYSTEM_INSTALL=1; fi
if [ -z "$DESTDIR" ] && [ "$SYSTEM_INSTALL" -eq 0 ]; then
  echo "install.sh: run as root to install into the system, or set DESTDIR to stage the files" >&2
  exit 1
fi

if [ ! -f "$BINARY" ] || [ ! -x "$BINARY" ]; then
  echo "install.sh: binary $BINARY does not exist or is not executable; build it with 'deno task compile' or pass --binary PATH" >&2
  exit 1
fi

# Replaces $2 with $1 only when they differ, through a temporary file and rename so that a running
# binary is never overwritten in place ("Text file busy").
put_file() {
  src=$1 dest=$2 mode=$3
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    chmod "$mode" "$dest"
    return 0
  fi
  mkdir -p "$(dirname -- "$dest")"
  cp "$src" "$dest.new.$$"
  chmod "$mode" "$dest.new.$$"
  mv -f "$dest.new.$$" "$dest"
  say "  installed $dest"
}

# Writes stdin to $1 only if $1 does not exist yet: user files survive reinstalls.
put_once() {
  dest=$1 mode=$2
  if [ -e "$dest" ]; then
    cat >/dev/null
    say "  kept      $dest"
    return 0
  fi
  mkdir -p "$(dirname -- "$dest")"
  (umask 077 && cat >"$dest.new.$$")
  chmod "$mode" "$dest.new.$$"
  mv -f "$dest.new.$$" "$dest"
  say "  created   $dest"
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

say "Installing $NAME into ${DESTDIR:-/} (prefix $PREFIX)"

# 1. Service user: a system account without a login shell or home of its own.
if [ "$SYSTEM_INSTALL" -eq 1 ]; then
  if ! getent passwd "$SERVICE_USER" >/dev/null; then
    nologin=/usr/sbin/nologin
    [ -x "$nologin" ] || nologin=/sbin/nologin
    useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home --shell "$nologin" "$SERVICE_USER"
    say "  created   user $SERVICE_USER"
  else
    say "  kept      user $SERVICE_USER"
  fi
fi

# 2. The binary.
put_file "$BINARY" "$DESTDIR$PREFIX/bin/clank" 0755

# 3. The unit, pointing at this PREFIX and config directory.
sed -e "s#/usr/local/#$PREFIX/#g" -e "s#/etc/$NAME#$CONF_DIR#g" \
  "$SCRIPT_DIR/systemd/$NAME.service" >"$TMP/$NAME.service"
put_file "$TMP/$NAME.service" "$DESTDIR$SYSTEMD_DIR/$NAME.service" 0644

# 4. Optional file logging: a drop-in, so the unit itself stays the same for everyone.
if [ "$LOG_TO_FILE" = 1 ]; then
  cat >"$TMP/10-log-file.conf" <<EOF
# Written by deploy/install.sh --log-to-file; rotated by $SYSCONF_DIR/logrotate.d/$NAME.
[Service]
Environment=LOG_FORMAT=json
StandardOutput=append:$LOG_DIR/clank.log
StandardError=append:$LOG_DIR/clank.log
EOF
  put_file "$TMP/10-log-file.conf" "$DESTDIR$SYSTEMD_DIR/$NAME.service.d/10-log-file.conf" 0644
  mkdir -p "$DESTDIR$LOG_DIR"
  chmod 0750 "$DESTDIR$LOG_DIR"
fi
put_file "$SCRIPT_DIR/logrotate/$NAME" "$DESTDIR$SYSCONF_DIR/logrotate.d/$NAME" 0644

# 5. Config directory: readable by the service group only, because the env file holds secrets.
mkdir -p "$DESTDIR$CONF_DIR/plugins.d"
chmod 0750 "$DESTDIR$CONF_DIR" "$DESTDIR$CONF_DIR/plugins.d"
put_once "$DESTDIR$CONF_DIR/config.toml" 0640 <<EOF
# clank configuration. Every key with its default, range and environment variable is listed in
# $DOC_DIR/CONFIGURATION.md. Secrets go in $CONF_DIR/env, not here.
# Environment variables (from the env file) override the values below.

# Drop-in plugins (*.ts, *.js) are loaded from here, each in its own sandbox.
plugins_dir = "$CONF_DIR/plugins.d"

[ollama]
url = "http://127.0.0.1:11434"
model = "llama3.1"

[http]
# Health, metrics and the settings API; keep it on loopback unless a reverse proxy fronts it.
listen = "127.0.0.1:8080"
EOF
put_once "$DESTDIR$CONF_DIR/env" 0640 <<'EOF'
# Secrets and per-host settings for clank, read by systemd (EnvironmentFile=). Mode 0640.
# KEY=value, one per line, no quotes needed. See CONFIGURATION.md for every variable.
TWITCH_BOT_USERNAME=
# An OAuth token with chat:read and chat:edit, "oauth:" prefix optional. A token pasted here has no
# refresh token, so the bot cannot renew it: when it expires, paste a new one. For a token the bot
# refreshes itself, leave this empty and run `clank auth` (see INSTALLATION.md).
TWITCH_OAUTH_TOKEN=
# Comma-separated channel logins.
TWITCH_CHANNELS=
# Your Twitch application: `clank auth` needs the client id, and the bot uses it to refresh the token
# auth stored. The secret only for a confidential client.
TWITCH_CLIENT_ID=
TWITCH_CLIENT_SECRET=
# Key that encrypts the token stored by `clank auth`: openssl rand -base64 32. Unset, the key file
# /var/lib/twitch-ollama-chatbot/data/secret.key is used (created on first use). Changing the key
# later makes the stored token unreadable until auth runs again.
#CLANK_SECRET_KEY=
# Bearer token for the control plane's write endpoints; generate one with: openssl rand -hex 32
CONTROL_TOKEN=
#LOG_LEVEL=info
#LOG_FORMAT=json
#OLLAMA_MODEL=llama3.1
EOF

# 6. Data directory (systemd's StateDirectory= creates it too; this makes a staged tree complete).
mkdir -p "$DESTDIR$DATA_DIR"
chmod 0750 "$DESTDIR$DATA_DIR"

# 7. Docs next to the binary, referenced by the unit and the config file.
for doc in INSTALLATION.md CONFIGURATION.md TROUBLESHOOTING.md API.md PLUGINS.md; do
  if [ -f "$REPO_DIR/docs/$doc" ]; then put_file "$REPO_DIR/docs/$doc" "$DESTDIR$DOC_DIR/$doc" 0644; fi
done

if [ "$SYSTEM_INSTALL" -eq 1 ]; then
  chown root:"$SERVICE_USER" "$CONF_DIR" "$CONF_DIR/plugins.d" "$CONF_DIR/config.toml" "$CONF_DIR/env"
  chown "$SERVICE_USER:$SERVICE_USER" "$DATA_DIR"
fi

# 8. Tell systemd, and restart the bot if it was running (an upgrade).
if [ "$SYSTEM_INSTALL" -eq 1 ] && [ "$NO_SYSTEMCTL" != 1 ] && [ -d /run/systemd/system ] \
  && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload
  systemctl try-restart "$NAME.service"
  say "Done. Fill in $CONF_DIR/env, then: systemctl enable --now $NAME"
else
  say "Done (systemctl not called). On the target: systemctl daemon-reload && systemctl enable --now $NAME"
fi

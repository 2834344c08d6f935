#!/usr/bin/env bash
# Install or upgrade Rekap Bansos on Raspberry Pi OS or Debian 12/13 (arm64 or amd64), as root:
#
#   sudo deploy/install.sh [--port 8000|80] [--hostname rekap-bansos]
#                          [--desa-kode 3205222003 --desa-nama Mekarsari --kecamatan Cikajang
#                           --kabupaten Garut --provinsi "Jawa Barat"] [--backup-mirror /media/usb]
#
# Running it again upgrades in place: it backs the database up first, replaces the code, installs the
# pinned packages, applies schema changes and restarts the service; settings and data are kept.
#
#   deploy/install.sh --prefix /tmp/root ...
# writes every file below a throw-away root instead and only prints the commands that would change
# the machine itself (apt, users, systemd): used by the tests, and handy to see what it would do.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=""
PORT=""
NEW_HOSTNAME=""
SETTINGS=()
SERVICE_USER=rekap-bansos

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=$(realpath -m "$2"); shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --hostname) NEW_HOSTNAME=$2; shift 2 ;;
    --desa-kode) SETTINGS+=("DESA_KODE=$2"); shift 2 ;;
    --desa-nama) SETTINGS+=("DESA_NAMA=$2"); shift 2 ;;
    --kecamatan) SETTINGS+=("DESA_KECAMATAN=$2"); shift 2 ;;
    --kabupaten) SETTINGS+=("DESA_KABUPATEN=$2"); shift 2 ;;
    --provinsi) SETTINGS+=("DESA_PROVINSI=$2"); shift 2 ;;
    --backup-mirror) SETTINGS+=("BACKUP_MIRROR=$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "Opsi tidak dikenal: $1" >&2; usage >&2; exit 2 ;;
  esac
done

if [ -n "$PORT" ] && ! [[ "$PORT" =~ ^[0-9]+$ && "$PORT" -ge 1 && "$PORT" -le 65535 ]]; then
  echo "Port tidak valid: $PORT" >&2; exit 2
fi
if [ -z "$PREFIX" ] && [ "$(id -u)" -ne 0 ]; then
  echo "Jalankan sebagai root: sudo $0 $*" >&2; exit 1
fi

APP_DIR=$PREFIX/opt/rekap-bansos
DATA_DIR=$PREFIX/var/lib/rekap-bansos
CONF_DIR=$PREFIX/etc/rekap-bansos
UNIT_DIR=$PREFIX/etc/systemd/system
AVAHI_DIR=$PREFIX/etc/avahi/services
ENV_FILE=$CONF_DIR/rekap-bansos.env
DB_FILE=$DATA_DIR/rekap-bansos.db

say() { printf '\n==> %s\n' "$*"; }

# Commands that change the machine outside the install tree: only printed under --prefix.
system() {
  if [ -n "$PREFIX" ]; then echo "(--prefix, tidak dijalankan) $*"; else "$@"; fi
}

# A flask command of the installed app, as the service user, with the installed settings.
app_command() {
  if [ -n "$PREFIX" ]; then echo "(--prefix, tidak dijalankan) flask $*"; return 0; fi
  runuser -u "$SERVICE_USER" -- bash -c 'set -a; . "$1"; set +a; cd "$2"; shift 2; exec .venv/bin/flask --app wsgi "$@"' \
    _ "$ENV_FILE" "$APP_DIR" "$@"
}

set_setting() {  # set_setting KEY VALUE: add or replace one line of the settings file
  local key=$1 value=$2 tmp
  # The file is read by systemd and by bash: double quotes suit both, so keep values simple.
  if [[ "$value" == *[\"\\\$\`]* ]]; then
    echo "Nilai $key tidak boleh memuat tanda kutip, \\, \$ atau \`: $value" >&2; exit 2
  fi
  tmp=$(mktemp "$CONF_DIR/.env.XXXXXX")
  grep -v "^$key=" "$ENV_FILE" > "$tmp" || true
  printf '%s="%s"\n' "$key" "$value" >> "$tmp"
  mv "$tmp" "$ENV_FILE"
}

UPGRADE=0
[ -f "$DB_FILE" ] && UPGRADE=1

say "Paket sistem"
system apt-get update -qq
system apt-get install -y -qq python3 python3-venv python3-pip sqlite3 avahi-daemon ca-certificates

say "Pengguna layanan $SERVICE_USER"
if [ -n "$PREFIX" ] || ! id "$SERVICE_USER" >/dev/null 2>&1; then
  system useradd --system --home-dir /var/lib/rekap-bansos --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
fi

if [ "$UPGRADE" -eq 1 ] && [ -x "$APP_DIR/.venv/bin/flask" ]; then
  say "Pemutakhiran: cadangan sebelum mengganti program"
  app_command backup
fi

say "Program di $APP_DIR"
mkdir -p "$APP_DIR"
find "$APP_DIR" -mindepth 1 -maxdepth 1 ! -name .venv -exec rm -rf {} +
tar -C "$SRC" --exclude=./.git --exclude=./.venv --exclude=./instance --exclude='__pycache__' \
    --exclude=./bench/results --exclude=./.pytest_cache --exclude=./.hypothesis -cf - . | tar -C "$APP_DIR" -xf -
if [ -z "$PREFIX" ]; then
  [ -x "$APP_DIR/.venv/bin/python" ] || python3 -m venv "$APP_DIR/.venv"
  "$APP_DIR/.venv/bin/pip" install -q --upgrade pip
  "$APP_DIR/.venv/bin/pip" install -q -r "$APP_DIR/requirements.txt"
else
  echo "(--prefix, tidak dijalankan) python3 -m venv $APP_DIR/.venv && pip install -r requirements.txt"
fi

say "Pengaturan di $ENV_FILE"
mkdir -p "$CONF_DIR"
if [ ! -f "$ENV_FILE" ]; then
  umask 077
  cat > "$ENV_FILE" <<EOF
# Rekap Bansos settings (readable by root and the service only). Change, then: systemctl restart rekap-bansos
SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
DATABASE_URL=sqlite:///$DB_FILE
BACKUP_DIR=$DATA_DIR/backups
BIND=0.0.0.0:${PORT:-8000}
EOF
  umask 022
fi
[ -n "$PORT" ] && set_setting BIND "0.0.0.0:$PORT"
for pair in "${SETTINGS[@]+"${SETTINGS[@]}"}"; do
  set_setting "${pair%%=*}" "${pair#*=}"
done
chmod 0640 "$ENV_FILE"
system chown root:"$SERVICE_USER" "$ENV_FILE" "$CONF_DIR"
chmod 0750 "$CONF_DIR"
BIND=$(grep '^BIND=' "$ENV_FILE" | cut -d= -f2 | tr -d '"')
PORT=${BIND##*:}

say "Data di $DATA_DIR"
mkdir -p "$DATA_DIR/backups"
chmod 0750 "$DATA_DIR" "$DATA_DIR/backups"
system chown -R "$SERVICE_USER:$SERVICE_USER" "$DATA_DIR"

say "Basis data: membuat atau memutakhirkan skema"
app_command init-db

say "Layanan systemd"
mkdir -p "$UNIT_DIR" "$AVAHI_DIR"
for unit in rekap-bansos.service rekap-bansos-backup.service rekap-bansos-backup.timer; do
  sed -e "s|@APP_DIR@|$APP_DIR|g" -e "s|@DATA_DIR@|$DATA_DIR|g" -e "s|@CONF_DIR@|$CONF_DIR|g" \
      "$SRC/deploy/$unit" > "$UNIT_DIR/$unit"
  chmod 0644 "$UNIT_DIR/$unit"
done
sed -e "s|@PORT@|$PORT|g" "$SRC/deploy/rekap-bansos.avahi.service" > "$AVAHI_DIR/rekap-bansos.service"
if [ -n "$NEW_HOSTNAME" ]; then
  system hostnamectl set-hostname "$NEW_HOSTNAME"
fi
system systemctl daemon-reload
system systemctl enable --now rekap-bansos-backup.timer
system systemctl enable rekap-bansos.service
system systemctl restart rekap-bansos.service
system systemctl reload-or-restart avahi-daemon.service

if [ -z "$PREFIX" ]; then
  say "Menunggu layanan siap"
  for _ in $(seq 1 30); do
    if python3 -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:$PORT/healthz', timeout=2).read() != b'ok\n')" 2>/dev/null; then
      break
    fi
    sleep 1
  done
fi

say "Selesai$([ "$UPGRADE" -eq 1 ] && echo ' (pemutakhiran; data dipertahankan)')"
HOST_NAME=${NEW_HOSTNAME:-$(hostname)}
SUFFIX=$([ "$PORT" = "80" ] && echo "" || echo ":$PORT")
echo "Buka Rekap Bansos dari komputer di jaringan kantor:"
echo "  http://$HOST_NAME.local$SUFFIX/"
for address in $(hostname -I 2>/dev/null); do
  case "$address" in *:*) continue ;; esac
  echo "  http://$address$SUFFIX/"
done
[ "$UPGRADE" -eq 1 ] || echo "Saat dibuka pertama kali, aplikasi meminta Anda membuat akun operator pertama."

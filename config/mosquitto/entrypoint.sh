#!/bin/sh
# Broker entrypoint for docker compose: build the password file from TARS_PASSWORD_<USER>
# variables (see `tars secrets`), refuse to start without them, then run mosquitto.
set -eu
passwd=/mosquitto/data/passwd
: > "$passwd"
chmod 0600 "$passwd"
for user in stt wake router llm memory tts tools satellite cli; do
  var="TARS_PASSWORD_$(echo "$user" | tr 'a-z' 'A-Z')"
  eval "pw=\${$var:-}"
  if [ -z "$pw" ]; then
    echo "missing $var: run 'tars secrets > .env' next to docker-compose.yml" >&2
    exit 2
  fi
  mosquitto_passwd -b "$passwd" "$user" "$pw"
done
chown mosquitto:mosquitto "$passwd" 2>/dev/null || true
exec mosquitto -c /mosquitto/config/mosquitto.conf

#!/bin/sh
# Broker entrypoint for docker compose: build the password files from the TARS_PASSWORD_<USER>
# variables that `tars secrets` writes to .env (TARS_SATELLITES lists the satellite sites), refuse
# to start without them, then run mosquitto. Services and satellites use listener 1883 (client id
# = username); the operator (cli) only listener 1884.
set -eu
passwd=/mosquitto/data/passwd
admin=/mosquitto/data/passwd-admin
: > "$passwd"
: > "$admin"
chmod 0600 "$passwd" "$admin"
add() {
  var="TARS_PASSWORD_$(echo "$1" | tr 'a-z-' 'A-Z_')"
  eval "pw=\${$var:-}"
  if [ -z "$pw" ]; then
    if [ "$1" = cli ] || [ "$1" = stt ]; then
      echo "missing $var: run 'tars secrets' next to docker-compose.yml" >&2
      exit 2
    fi
    echo "no $var: the $1 credential is not created" >&2
    return 0
  fi
  mosquitto_passwd -b "$2" "$1" "$pw"
}
for user in stt wake router llm memory tools tts gateway wyoming cli; do
  if [ "$user" = cli ]; then add "$user" "$admin"; else add "$user" "$passwd"; fi
done
for site in ${TARS_SATELLITES:-}; do add "satellite-$site" "$passwd"; done
chown mosquitto:mosquitto "$passwd" "$admin" 2>/dev/null || true
exec mosquitto -c /mosquitto/config/mosquitto.conf

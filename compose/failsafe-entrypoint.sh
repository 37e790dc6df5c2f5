#!/bin/sh
# Turns the compose secrets (files under /run/secrets) into what `failsafe serve` reads: the admin
# token as FAILSAFE_ADMIN_TOKEN, and Alertmanager's webhook token as a token of the config file
# (FAILSAFE_CONFIG; Failsafe keeps only its SHA-256). Then runs the command it is given.
set -eu
secrets="${SECRETS_DIR:-/run/secrets}"

# A secret file's content without its trailing newline (editors add one).
secret() {
  tr -d '\r\n' <"$secrets/$1"
}

if [ -s "$secrets/admin_token" ]; then
  FAILSAFE_ADMIN_TOKEN="$(secret admin_token)"
  export FAILSAFE_ADMIN_TOKEN
fi

if [ -s "$secrets/alertmanager_webhook_token" ]; then
  [ -z "${FAILSAFE_CONFIG:-}" ] || {
    echo "failsafe-entrypoint: FAILSAFE_CONFIG is set: add the alertmanager token to $FAILSAFE_CONFIG" \
      "(auth.tokens, its sha256) and remove the alertmanager_webhook_token secret from failsafe" >&2
    exit 64
  }
  config="${GENERATED_CONFIG:-/tmp/failsafe-compose.yaml}"
  digest="$(secret alertmanager_webhook_token | sha256sum | cut -d' ' -f1)"
  # Role alertmanager: it may deliver alerts to the receiver and do nothing else.
  printf 'auth:\n  tokens:\n    - name: alertmanager\n      role: alertmanager\n      sha256: "%s"\n' "$digest" >"$config"
  FAILSAFE_CONFIG="$config"
  export FAILSAFE_CONFIG
fi

exec "$@"

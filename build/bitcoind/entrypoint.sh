#!/bin/sh
# Entrypoint of the bitcoind image: write bitcoin.conf for regtest, then run
# bitcoind as PID 1 (exec), so it gets SIGTERM directly and shuts down cleanly.
#
#   entrypoint.sh [bitcoind options...]   write the config, exec bitcoind
#   entrypoint.sh COMMAND [args...]       run COMMAND instead (bitcoin-cli, sh)
#
# Credentials: with BC_RPC_USER and BC_RPC_PASSWORD set (the keys of the
# network's Secret), the config gets an `rpcauth` line: a salted HMAC-SHA256
# of the password, never the password itself. Without them, RPC uses cookie
# authentication only (bitcoin-cli in the container finds the cookie). The
# credentials are never printed, never put on a command line (the password
# reaches openssl on stdin), and the password is removed from the environment
# bitcoind inherits.
#
# Environment: BITCOIN_DATA (default /data), BITCOIN_RPC_ALLOW_IP (default
# 0.0.0.0/0 - any client may try to authenticate; NetworkPolicy narrows who
# can connect at all).
set -eu

case "${1:-}" in
  '' | -*) ;;
  *) exec "$@" ;;
esac

data="${BITCOIN_DATA:-/data}"
conf="$data/bitcoin.conf"
# The config holds the salted hash: readable by the daemon's user only.
umask 077
mkdir -p "$data"

user="${BC_RPC_USER:-}"
password="${BC_RPC_PASSWORD:-}"
auth=""
if [ -n "$user" ] && [ -n "$password" ]; then
  case "$user" in
    *:* | *[[:space:]]*)
      echo "entrypoint: BC_RPC_USER must not contain ':' or whitespace" >&2
      exit 64 ;;
  esac
  # Same scheme as Bitcoin Core's share/rpcauth/rpcauth.py: a random hex salt
  # is the HMAC key, the password the message.
  salt="$(openssl rand -hex 16)"
  digest="$(printf '%s' "$password" | openssl dgst -sha256 -hmac "$salt" -r)"
  digest="${digest%% *}"
  case "$digest" in
    *[!0-9a-f]* | '')
      echo "entrypoint: could not compute the rpcauth HMAC" >&2
      exit 70 ;;
  esac
  auth="rpcauth=${user}:${salt}\$${digest}"
  echo "entrypoint: RPC authentication: rpcauth from BC_RPC_USER/BC_RPC_PASSWORD, and cookie"
elif [ -n "$user" ] || [ -n "$password" ]; then
  echo "entrypoint: set both BC_RPC_USER and BC_RPC_PASSWORD, or neither" >&2
  exit 64
else
  echo "entrypoint: RPC authentication: cookie only ($data/regtest/.cookie)"
fi

# Network-specific options must sit in [regtest]: since Core 0.17 they apply
# to mainnet only when written at the top, and 0.19+ refuses to start.
cat > "$conf.tmp" <<CONF
# Written by the image's entrypoint at every start; edits are overwritten.
regtest=1
server=1
printtoconsole=1
txindex=1
fallbackfee=0.0002

[regtest]
rpcbind=0.0.0.0
rpcport=18443
port=18444
rpcallowip=${BITCOIN_RPC_ALLOW_IP:-0.0.0.0/0}
${auth}
CONF
mv -f "$conf.tmp" "$conf"

unset password BC_RPC_PASSWORD
exec bitcoind -datadir="$data" -conf="$conf" "$@"

"""A fake Bitcoin Core daemon that starts from a ``bitcoin.conf`` the way Core does.

No Core binary can be installed on the test machines, so this models the
parts of Core the controller's rendered configuration relies on, per
release, as read from Core's sources and release notes:

* **config file parsing** (``ArgsManager::ReadConfigStream``): ``#`` starts a
  comment, ``[name]`` opens a section (0.17+), ``key=value`` lines, and
  ``regtest.key=value`` prefixes.  A chain selector inside a section is
  ignored (bitcoin/bitcoin#14155).
* **the section rule**: network-only options (``addnode``, ``connect``,
  ``port``, ``bind``, ``rpcport``, ``rpcbind``, ``wallet``) written at the top
  apply to mainnet only; from 0.19 Core refuses to start when it runs
  regtest with such an option at the top ("Config setting for -X only
  applied on regtest network when in [regtest] section.").
* ``-whitelist=<permissions>@<cidr>`` exists since 0.19; older releases fail
  with "Invalid netmask specified in -whitelist".
* **RPC authentication** (``httprpc.cpp``): HTTP basic auth checked against
  every ``rpcauth=<user>:<salt>$<hmac>`` line -- HMAC-SHA256 keyed with the
  salt *text* over the password, compared in constant time; 401 with an
  empty body otherwise.  Without ``rpcbind`` plus ``rpcallowip`` Core binds
  loopback only.
* **replies**: legacy JSON-RPC 1.x (``result`` *and* ``error``, HTTP 500/404
  for errors) unless the request says ``"jsonrpc": "2.0"`` to Core 28+
  (strict 2.0: one of ``result``/``error``, HTTP 200).  ``force_v2`` answers
  every request the 2.0 way, as a proxy or a future release might.

The server listens on 127.0.0.1 with an ephemeral port; the port the config
asked for is kept in :attr:`FakeCoreDaemon.rpc_port` for assertions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from json_rpc_server import JSONRPCServer

from bitcoin_controller.controller.nodeconfig import CoreVersion

NETWORK_ONLY = {"addnode", "connect", "port", "bind", "rpcport", "rpcbind", "wallet"}
CHAINS = {"main", "test", "testnet4", "signet", "regtest"}


class StartupError(Exception):
    """Core printed an error and exited instead of starting."""


def parse_config(text: str, version: CoreVersion) -> dict[str, list[str]]:
    """The options Core would use on the chain the file selects, or :class:`StartupError`."""
    top: dict[str, list[str]] = {}
    sections: dict[str, dict[str, list[str]]] = {}
    section = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            if version < CoreVersion(0, 17):
                raise StartupError(f"parse error on line {number}: {raw}")
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise StartupError(f"parse error on line {number}: {raw}, if you intended to specify a negated option")
        key, value = key.strip(), value.strip()
        target_section = section
        if "." in key:
            target_section, key = key.split(".", 1)
        (sections.setdefault(target_section, {}) if target_section else top).setdefault(key, []).append(value)
    # The chain: only from the top of the file (bitcoin/bitcoin#14155).
    chain = "regtest" if top.get("regtest", ["0"])[-1] == "1" else "main"
    if chain != "regtest":
        raise StartupError("the fake only runs regtest")
    if version >= CoreVersion(0, 19):
        misplaced = sorted(set(top) & NETWORK_ONLY)
        if misplaced:
            raise StartupError(
                f"Config setting for -{misplaced[0]} only applied on regtest network when in [regtest] section."
            )
    options = {k: list(v) for k, v in top.items() if k not in NETWORK_ONLY}
    for key, values in sections.get("regtest", {}).items():
        # Section values take precedence over the top of the file.
        options[key] = list(values) if key != "rpcauth" else options.get(key, []) + list(values)
    for entry in options.get("whitelist", []):
        if "@" in entry and version < CoreVersion(0, 19):
            raise StartupError("Invalid netmask specified in -whitelist: '" + entry + "'")
    return options


def rpcauth_accepts(options: dict[str, list[str]], user: str, password: str) -> bool:
    """httprpc.cpp's ``multiUserAuthorized``, written from the source independently of the controller."""
    for entry in options.get("rpcauth", []):
        fields = entry.replace("$", ":").split(":")
        if len(fields) != 3:
            continue
        name, salt, expected = fields
        digest = hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(name, user) and hmac.compare_digest(digest, expected):
            return True
    return False


class FakeCoreDaemon:
    """``bitcoind -conf=<file>`` for a given release, answering JSON-RPC on 127.0.0.1."""

    def __init__(self, conf_text: str, version: CoreVersion, *, force_v2: bool = False) -> None:
        self.version = version
        self.options = parse_config(conf_text, version)  # raises like a failed start
        self.rpc_port = int(self.options.get("rpcport", ["18443"])[-1])
        allowed = self.options.get("rpcallowip", [])
        binds = self.options.get("rpcbind", [])
        # rpcbind is ignored without rpcallowip: then only loopback listens.
        self.listens_on = binds if binds and allowed else ["127.0.0.1", "::1"]
        self.force_v2 = force_v2
        self.blocks = 101
        self.added: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.server = JSONRPCServer(lambda _client, headers, raw: self.respond(headers, raw))
        self.port = self.server.port

    def stop(self) -> None:
        self.server.close()

    def respond(self, headers: dict[str, str], raw: bytes) -> tuple[int, bytes]:
        auth = headers.get("Authorization", "")
        try:
            user, _, password = base64.b64decode(auth.removeprefix("Basic "), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return 401, b""
        if not auth.startswith("Basic ") or not rpcauth_accepts(self.options, user, password):
            return 401, b""
        request = json.loads(raw)
        self.requests.append(request)
        v2 = self.force_v2 or (request.get("jsonrpc") == "2.0" and self.version >= CoreVersion(28, 0))
        try:
            result = self.call(request["method"], request.get("params") or [])
        except _RPCError as err:
            error = {"code": err.code, "message": err.message}
            if v2:
                return 200, json.dumps({"jsonrpc": "2.0", "error": error, "id": request.get("id")}).encode()
            status = 404 if err.code == -32601 else 500
            return status, json.dumps({"result": None, "error": error, "id": request.get("id")}).encode()
        if v2:
            return 200, json.dumps({"jsonrpc": "2.0", "result": result, "id": request.get("id")}).encode()
        return 200, json.dumps({"result": result, "error": None, "id": request.get("id")}).encode()

    def call(self, method: str, params: list[Any]) -> Any:
        if method == "getblockcount":
            return self.blocks
        if method == "addnode":
            address, command = params[0], params[1]
            if command == "add":
                if address in self.added:
                    raise _RPCError(-23, "Error: Node already added")
                self.added.append(address)
                return None
        raise _RPCError(-32601, "Method not found")


class _RPCError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

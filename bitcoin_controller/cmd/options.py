"""Command-line flags of the controller, each also readable from the environment.

A flag ``--resync-period`` reads ``BITCOIN_CONTROLLER_RESYNC_PERIOD`` when it
is not given on the command line, so a Deployment can configure the process
either way.  Precedence: command line, then environment, then default.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

from ..controller.implementations import BITCOIND, BTCD

__all__ = ["ENV_PREFIX", "Options", "OneLineErrorParser", "parse_duration", "build_parser", "parse_options"]

ENV_PREFIX = "BITCOIN_CONTROLLER_"

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str) -> float:
    """A Go-style duration (``30s``, ``1m30s``, ``500ms``) or plain seconds, as float seconds."""
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        if not _DURATION.match(value):
            raise argparse.ArgumentTypeError(f"invalid duration {value!r} (examples: 30s, 1m, 500ms)") from None
        seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(value))
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"duration must not be negative: {value!r}")
    return seconds


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _positive_duration(value: str) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"duration must be positive: {value!r}")
    return seconds


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {value!r}")


@dataclass
class Options:
    kubeconfig: str | None
    namespace: str
    workers: int
    resync_period: float
    leader_elect: bool
    leader_election_namespace: str
    leader_election_id: str
    leader_elect_lease_duration: float
    leader_elect_renew_deadline: float
    leader_elect_retry_period: float
    metrics_bind_address: str
    health_probe_bind_address: str
    log_format: str
    log_level: str
    default_image_bitcoind: str
    default_image_btcd: str
    impersonate: str | None
    rpc_call_timeout: float
    rpc_max_reply_bytes: int
    mesh_timeout: float
    debug: bool = False


# (flag, default, type, help). Defaults are written as a user would type them
# ("30s", not 30.0): argparse parses a string default with the flag's type, and
# --help then shows the same text.  A help text that explains its own default
# (an empty or unset one means something) says "(default: ...)" itself.
_FLAGS: list[tuple[str, object, object, str]] = [
    ("--kubeconfig", None, str,
     "path to a kubeconfig (default: the in-cluster config in a pod, else $KUBECONFIG or ~/.kube/config)"),
    ("--namespace", "", str, "watch only this namespace (default: all namespaces)"),
    ("--workers", 4, _positive_int, "number of worker threads syncing networks in parallel"),
    ("--resync-period", "30s", parse_duration, "how often every network is re-checked even without events"),
    ("--leader-elect", False, _bool, "run only while holding the leader lease (for several replicas)"),
    ("--leader-election-namespace", "", str,
     "namespace of the leader-election Lease (default: the pod's namespace, else bitcoin-controller)"),
    ("--leader-election-id", "bitcoin-controller", str, "name of the leader-election Lease"),
    ("--leader-elect-lease-duration", "15s", parse_duration,
     "how long a standby waits, after it last saw the lease renewed, before it may take it over"),
    ("--leader-elect-renew-deadline", "10s", parse_duration,
     "how long the leader keeps trying to renew before it stops working (must be < lease duration)"),
    ("--leader-elect-retry-period", "2s", parse_duration, "how often candidates try to acquire or renew the lease"),
    ("--metrics-bind-address", ":8080", str, "address of the /metrics endpoint ('0' disables it)"),
    ("--health-probe-bind-address", ":8081", str, "address of /healthz and /readyz ('0' disables them)"),
    ("--log-format", "auto", str, "json, console, or auto (console on a terminal, else json)"),
    ("--log-level", "info", str, "debug, info, warning or error"),
    ("--default-image-bitcoind", BITCOIND.default_image, str, "image for networks with implementation bitcoind"),
    ("--default-image-btcd", BTCD.default_image, str, "image for networks with implementation btcd"),
    ("--impersonate", None, str,
     "act as this user, e.g. system:serviceaccount:bitcoin-controller:bitcoin-controller "
     "(needs impersonate rights; default: the kubeconfig's own identity)"),
    # A node runs a user-chosen image, so it may be slow or hostile on purpose;
    # these bound what one node can cost the controller every network shares.
    ("--rpc-call-timeout", "15s", _positive_duration,
     "total time one JSON-RPC call to a node may take (connect, send, reply), however slowly it trickles"),
    ("--rpc-max-reply-bytes", "4194304", _positive_int,
     "largest JSON-RPC reply accepted from a node, in bytes; a larger one fails that node's call"),
    ("--mesh-timeout", "30s", _positive_duration,
     "total time the RPC step of one network's sync may take; nodes still busy then count as failed"),
    ("--debug", False, _bool, "print the traceback of a start-up failure (also: -v)"),
]


_CHOICES: dict[str, list[str]] = {
    "--log-format": ["json", "console", "auto"],
    "--log-level": ["debug", "info", "warning", "error"],
}


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line naming what to do, exit code 2.

    argparse prints the whole usage before the error; kubectl prints one
    ``error:`` line and points at ``--help``, which is easier to read when
    the usage runs to thirty flags.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see '{self.prog} --help')\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Append "(default: X)" unless the help text already describes its default.

    Without this, flags whose default is "unset" would show a meaningless
    "(default: )" or "(default: None)" after the sentence that explains it.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_text = action.help or ""
        if "default:" in help_text or action.default is None:
            return help_text
        return super()._get_help_string(action)


def _env_name(flag: str) -> str:
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


def build_parser(environ: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    environ = os.environ if environ is None else environ
    parser = OneLineErrorParser(
        prog="bitcoin-controller",
        description="Run the BitcoinNetwork controller. Every flag can also be set through the "
        f"environment variable named {ENV_PREFIX}<FLAG> (e.g. {_env_name('--resync-period')}).",
        epilog="Operator commands: 'bitcoin-controller network --help' (status, rpc, mine, logs, completion). "
        "Exit codes: docs/operations.md.",
        formatter_class=_HelpFormatter,
    )
    for flag, default, kind, help_text in _FLAGS:
        env = _env_name(flag)
        value = environ.get(env, default)
        choices = _CHOICES.get(flag)
        if env in environ:
            # Checked here to name the variable in the error (argparse checks
            # neither choices nor types of defaults by name); the string itself
            # stays the default, which argparse parses with ``kind``.
            try:
                if kind is not str:
                    kind(value)  # type: ignore[operator]
                if choices and value not in choices:
                    raise ValueError(f"invalid choice {value!r} (choose from {', '.join(choices)})")
            except (argparse.ArgumentTypeError, ValueError) as err:
                parser.error(f"{env}: {err}")
        kwargs: dict = {"default": value, "help": f"{help_text} [env {env}]"}
        if kind is _bool:
            kwargs.update(nargs="?", const=True, type=_bool)
        else:
            kwargs["type"] = kind
        if choices:
            kwargs["choices"] = choices
        parser.add_argument(flag, **kwargs)
    parser.add_argument("-v", dest="debug", action="store_const", const=True, help="same as --debug")
    return parser


def parse_options(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Options:
    parser = build_parser(environ)
    args = parser.parse_args(argv)
    if isinstance(args.resync_period, str):
        args.resync_period = parse_duration(args.resync_period)
    for name in ("rpc_call_timeout", "mesh_timeout"):
        if isinstance(getattr(args, name), str):
            setattr(args, name, _positive_duration(getattr(args, name)))
    # The leader-election timings must leave the leader time to stop before
    # anyone else may take over (client-go's LeaderElectionConfig rules).
    lease, renew, retry = (
        args.leader_elect_lease_duration, args.leader_elect_renew_deadline, args.leader_elect_retry_period
    )
    if args.leader_elect and not (lease > renew > 1.2 * retry > 0):
        parser.error(
            "leader election needs lease duration > renew deadline > 1.2 x retry period > 0 "
            f"(got {lease:g}s, {renew:g}s, {retry:g}s)"
        )
    return Options(**vars(args))

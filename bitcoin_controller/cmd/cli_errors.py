"""User-facing failures of the command-line tools: one line, a distinct exit code, no traceback.

kubectl prints one ``error: ...`` line and exits non-zero; a Python
traceback tells a user nothing they can act on.  Every failure a user can
cause or fix is turned into a :class:`CLIError` carrying an :class:`ExitCode`
and a message that ends with what to do.  :func:`run_cli` prints it; with
``--debug`` (or ``-v``) it prints the traceback of the original exception
first, for bug reports.

API errors are translated where the request is made (:func:`api_call`),
because only there is it known which verb, resource and namespace a 403
refused -- the one thing a user needs to ask an administrator for.
"""

from __future__ import annotations

import enum
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO, TypeVar

from ..apimachinery import errors
from ..apimachinery.schema import ResourceInfo
from ..clientgo.rest.transport import TransportError
from ..clientgo.tools import clientcmd

__all__ = ["ExitCode", "CLIError", "ApiTarget", "api_call", "config_error", "run_cli", "CRD_MANIFEST"]

T = TypeVar("T")

#: Where the CRD is, for the "CRD not installed" hint.
CRD_MANIFEST = "manifests/crd.yaml"


class ExitCode(enum.IntEnum):
    """Exit codes of ``bitcoin-controller`` and ``kubectl btcnet`` (documented in docs/operations.md)."""

    OK = 0
    ERROR = 1  # anything unexpected (a bug: rerun with --debug and report it)
    USAGE = 2  # bad flags or arguments (argparse's own code)
    LOST_LEASE = 3  # the controller lost its leader lease
    KUBECONFIG = 4  # kubeconfig missing or malformed
    CONTEXT = 5  # no current context, or the context asked for is not there
    UNREACHABLE = 6  # API server unreachable (refused, timeout, DNS)
    TLS = 7  # TLS handshake with the API server failed
    UNAUTHORIZED = 8  # 401: credentials rejected
    FORBIDDEN = 9  # 403: RBAC refuses a verb on a resource
    CRD_MISSING = 10  # the BitcoinNetwork CRD (or another resource) is not served
    NOT_FOUND = 11  # network, namespace, node ordinal or Secret does not exist
    NODE_NOT_READY = 12  # the node is not ready (no IP, not Ready)
    RPC_UNREACHABLE = 13  # the node's RPC refused the connection, timed out, or failed TLS
    RPC_AUTH = 14  # the node rejected the RPC credentials (or the Secret is unusable)
    RPC_ERROR = 15  # the node answered with an RPC error
    TIMEOUT = 16  # a wait (status --watch, mine) passed its deadline
    API_ERROR = 17  # the API server refused the request for another reason (5xx, 409, 422...)
    INTERRUPTED = 130  # Ctrl-C


class CLIError(Exception):
    """A failure the user can act on: printed as one line, exits with :attr:`code`."""

    def __init__(self, code: ExitCode, message: str, original: BaseException | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.original = original


@dataclass(frozen=True)
class ApiTarget:
    """What a request was about, for messages: ``get bitcoinnetworks.bitcoincontroller.dev "x" in "ns"``."""

    verb: str
    resource: ResourceInfo
    namespace: str = ""
    name: str = ""
    #: The user the requests impersonate (``--impersonate``), for the ``can-i`` hint.
    impersonate: str = ""

    @property
    def resource_name(self) -> str:
        return f"{self.resource.resource}.{self.resource.group}" if self.resource.group else self.resource.resource

    @property
    def scope(self) -> str:
        if not self.resource.namespaced:
            return "cluster-wide"
        return f'in namespace "{self.namespace}"' if self.namespace else "in all namespaces"

    def can_i(self) -> str:
        ns = "" if not self.resource.namespaced else (f"-n {self.namespace}" if self.namespace else "-A")
        as_user = f"--as {self.impersonate}" if self.impersonate else ""
        return " ".join(p for p in ("kubectl auth can-i", self.verb, self.resource_name, ns, as_user) if p)


_USER = re.compile(r'User "([^"]+)"')


def api_call(fn: Callable[[], T], target: ApiTarget, server: str) -> T:
    """Run one API request; turn what can go wrong into a :class:`CLIError`.

    ``NotFound`` is left to the caller when the resource itself is served (the
    caller knows whether "not found" is a network, a namespace or a pod); a
    404 *without* an object name means the API server does not serve the
    resource at all -- for our group: the CRD is not installed.
    """
    try:
        return fn()
    except errors.NotFoundError as err:
        if not err.details.get("name"):
            gv = f"{target.resource.group}/{target.resource.version}" if target.resource.group else "v1"
            hint = (f"install the CRD: kubectl apply -f {CRD_MANIFEST}" if target.resource.group.endswith(
                "bitcoincontroller.dev") else "check the cluster's Kubernetes version")
            raise CLIError(ExitCode.CRD_MISSING, f"the API server at {server} does not serve "
                           f"{target.resource.resource} in {gv} (CRD not installed?): {hint}", err) from None
        raise
    except errors.UnauthorizedError as err:
        raise CLIError(ExitCode.UNAUTHORIZED, f"the API server at {server} rejected your credentials "
                       "(401 Unauthorized): log in again or refresh the token or certificate of "
                       "this kubeconfig context", err) from None
    except errors.ForbiddenError as err:
        match = _USER.search(err.message)
        who = f'user "{match.group(1)}"' if match else "you"
        what = f'{target.resource_name} "{target.name}"' if target.name else target.resource_name
        raise CLIError(ExitCode.FORBIDDEN, f"forbidden: {who} may not {target.verb} {what} {target.scope}: "
                       f"ask a cluster admin for a Role granting '{target.verb}' on "
                       f"'{target.resource_name}' (check with: {target.can_i()})", err) from None
    except TransportError as err:
        raise transport_error(err, server) from None
    except errors.StatusError as err:
        what = f'{target.resource_name} "{target.name}"' if target.name else target.resource_name
        raise CLIError(ExitCode.API_ERROR, f"the API server could not {target.verb} {what} {target.scope} "
                       f"({err.code} {err.reason}): {err.message}", err) from None


def transport_error(err: TransportError, server: str) -> CLIError:
    text = str(err)
    if "SSL" in text or "CERTIFICATE" in text.upper() or "TLS" in text:
        detail = "certificate verify failed" if "CERTIFICATE_VERIFY_FAILED" in text else "TLS handshake failed"
        return CLIError(ExitCode.TLS, f"TLS with the API server at {server} failed ({detail}): check the "
                        "certificate-authority of this cluster in your kubeconfig, and that the server "
                        "address is the one its certificate was issued for", err)
    reason = "connection refused" if "refused" in text.lower() else (
        "timed out" if "timed out" in text.lower() or "timeout" in text.lower() else "no answer")
    return CLIError(ExitCode.UNREACHABLE, f"cannot reach the API server at {server} ({reason}): check that the "
                    "cluster is running and the kubeconfig points at it (kubectl cluster-info)", err)


def config_error(err: clientcmd.ConfigError) -> CLIError:
    """The exit code and hint for a kubeconfig problem."""
    message = str(err)
    if isinstance(err, clientcmd.NoCurrentContextError):
        return CLIError(ExitCode.CONTEXT, f"{message}: pass --context NAME or run "
                        "'kubectl config use-context NAME'", err)
    if isinstance(err, clientcmd.ContextNotFoundError):
        return CLIError(ExitCode.CONTEXT, f"{message}: pick one with --context (kubectl config get-contexts)", err)
    if isinstance(err, clientcmd.KubeconfigInvalidError):
        return CLIError(ExitCode.KUBECONFIG, f"{message}: fix the file, or pass --kubeconfig with a valid one", err)
    if "does not exist" in message:  # the file --kubeconfig names
        return CLIError(ExitCode.KUBECONFIG, f"{message}: check the path given to --kubeconfig", err)
    return CLIError(ExitCode.KUBECONFIG, f"{message}: pass --kubeconfig PATH, set KUBECONFIG, or create "
                    "~/.kube/config", err)


def run_cli(fn: Callable[[], int], *, debug: bool, err: TextIO | None = None) -> int:
    """Run a command; print a :class:`CLIError` as one ``error:`` line and return its code.

    Anything else is a bug: one line saying so (exit 1), the traceback only
    with ``--debug``.
    """
    stream = sys.stderr if err is None else err
    try:
        return fn()
    except CLIError as failure:
        if debug:
            original = failure.original or failure
            traceback.print_exception(original, file=stream)
        print(f"error: {failure.message}", file=stream)
        return int(failure.code)
    except clientcmd.ConfigError as failure:  # not translated at the call site
        converted = config_error(failure)
        if debug:
            traceback.print_exception(failure, file=stream)
        print(f"error: {converted.message}", file=stream)
        return int(converted.code)
    except KeyboardInterrupt:
        print("interrupted", file=stream)
        return int(ExitCode.INTERRUPTED)
    except Exception as failure:
        if debug:
            traceback.print_exception(failure, file=stream)
            hint = "this is a bug: please report it with the traceback above"
        else:
            hint = "this is a bug: rerun with --debug and report the traceback"
        # The type and message only: exception texts in this project never carry credentials.
        print(f"error: unexpected {type(failure).__name__}: {failure} ({hint})", file=stream)
        return int(ExitCode.ERROR)

"""The documentation must not claim what the code does not have.

README.md and docs/*.md name files, modules, flags, environment variables,
metrics and event/condition reasons in backticks.  This test extracts every
such token, classifies it, and checks it against the repository:

* **paths** exist on disk (relative to the repository, to the document, or
  as the tail of some file's path, as ``thread_safe_store.py`` is written),
  or are a file name our code writes at run time (a quoted string in it);
  relative Markdown link targets too;
* **Python modules** (``bitcoin_controller.x.y`` or ``clientgo.x.y``, as the
  README's package table writes them) resolve to a package or module file,
  and a trailing attribute exists;
* **flags** (a span that starts with ``--``, or a command line of one of our
  programs) are defined by our code: ``cmd/options.py``, an argparse parser
  or pytest option in our Python, the daemons' command lines
  (``controller/implementations.py``), or one of our shell scripts;
  ``--set key=value`` names a key of the chart's ``values.yaml``;
* **ALL_CAPS names** (environment variables and constants) occur in the code;
  ``BITCOIN_CONTROLLER_<FLAG>`` must name a real flag;
* **metric names** are exposed by the code's metric definitions (read from
  the process registry, counters with ``_total``);
* **event and condition reasons** (backticked words in a sentence about a
  reason, or in the reason column of a table) are string literals in the
  controller's code; other CamelCase names and snake_case identifiers
  (``sync_handler(key)``, ``Queue.shut_down``) must occur in the code.

Whatever legitimately does not exist here (upstream paths, other tools'
flags, client-go's Go names) is in the commented allow-lists below.  A
failure names the file, the line and the token.

The API reference (docs/api-reference.md) is generated from the CRD; a test
below regenerates it and fails while the checked-in copy is stale.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PACKAGE = ROOT / "bitcoin_controller"

# --- allow-lists: things the docs name that legitimately do not exist in this repository ----

#: Paths outside the repository, or created at run time, never checked in.
ALLOWED_PATHS = {
    # the kubelet's and the container's view of the world (upstream, not ours)
    "/var/lib/kubelet", "/var/run/secrets/kubernetes.io/serviceaccount", "/proc/<pid>/cmdline",
    "/sys/fs/cgroup", "/etc/cni/net.d", "/opt/cni/bin", "/run/containerd/containerd.sock",
    "~/.kube/config", "/tmp",
    # written by build/bitcoind/entrypoint.sh inside the container
    "/data/bitcoin.conf",
    # Go's module cache, and files inside a local cluster's state directory (.local-cluster/),
    # named relative to it in docs/local-cluster.md
    "~/go/pkg/mod", "host-journal.json", "state/", "state/apiserver/", "run/pods/", "pods/", "home/",
    # Go packages the mirror follows (golang.org/x/time/rate)
    "x/time/rate",
    # Bitcoin Core's source tree (the rpcauth script the controller's rpcauth line follows)
    "share/rpcauth/rpcauth.py",
    # written by scripts/release-chart into .chart-release/; the image cache's index
    "index.yaml", "images.json",
}
#: Absolute paths under these roots describe the host or a container's file system (Debian,
#: the kubelet, containerd), not this repository; other absolute paths must occur in the code.
SYSTEM_ROOTS = ("/usr/", "/etc/", "/var/", "/proc/", "/sys/", "/run/", "/opt/", "/dev/", "/bin/", "/sbin/", "/lib")
#: Prefixes of paths that `make`, the local cluster or a release create (gitignored).
GENERATED_PREFIXES = (
    ".venv/", ".local-cluster", ".chart-release/", ".pytest_cache", "/tmp/", "$PWD/.local-cluster",
    "/root/.cache", "~/.cache/", ".ci/",
)
#: Flags of other tools (kubectl, helm, docker, kind, go, pytest itself, the daemons' own
#: options the docs mention in passing) -- not ours to define.
ALLOWED_FLAGS = {
    # kubectl
    "--create-namespace", "--field-selector", "--cascade", "--overwrite", "--sort-by", "--type",
    "--raw", "--for", "--timeout", "--all", "--kubeconfig", "--namespace", "--selector", "--output",
    "--dry-run", "--server-side", "--show-labels", "--watch",
    # helm
    "--set", "--set-string", "--set-json", "--reuse-values", "--values", "--version", "--wait",
    "--install", "--show-only", "--debug",
    # docker / buildx / kind / go / pip / pytest
    "--build-arg", "--platform", "--rm", "--tag", "--push", "--name", "--image", "--trimpath",
    "--ldflags", "-k", "--ignore", "--timeout-method",
    # Bitcoin Core and btcd options named in prose (the controller's own come from the code);
    # btcctl's --skipverify
    "--rpcuser", "--rpcpass", "--rpccert", "--rpckey", "--notls", "--rpcauth", "--skipverify",
    # kube-apiserver (docs/local-cluster.md discusses one it does not set)
    "--watch-cache",
    # kube-state-metrics (the alert recipe in docs/operations.md)
    "--custom-resource-state-config-file", "--resources",
}
#: Backticked CamelCase names that are not in our code on purpose: client-go / Kubernetes /
#: Go names the docs explain (the client-go column of how-it-works §13 is skipped as a whole).
ALLOWED_NAMES = {
    "ImagePullBackOff", "CrashLoopBackOff", "ErrImageNeverPull", "CreateContainerConfigError",
    "OwnerReferencesPermissionEnforcement", "ServiceMonitor", "NetworkPolicy", "PodDisruptionBudget",
    "CustomResourceStateMetrics", "StatefulSet", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
    "RoleBinding", "CustomResourceDefinition", "BitcoinNetworkList", "RealFIFO", "WatchList",
    "GroupVersionResource", "ResourceRequirements", "LeaderElectionRecord", "StreamWatcher",
    "DeltaFIFOOptions", "NewDeltaFIFOWithOptions", "EventSinkImpl", "BuildKit",
    "ObjectMeta", "GitHub", "PyPI", "PyYAML", "JSONPath",
    # Kubernetes' own values: a pod phase / event reason, a StatefulSet podManagementPolicy
    "Failed", "OrderedReady",
}
#: Code-like tokens the docs show as examples of *input*, not claims about the code.
ALLOWED_EXAMPLES = {
    "nodes: -1", "nodes: 1000", "implementation: foo",
}


# --- the code's facts ------------------------------------------------------------------------

def _python_files(*roots: Path) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        if root.is_file():
            files.append(root)
            continue
        for path in root.rglob("*"):
            if ".venv" in path.parts or "__pycache__" in path.parts or not path.is_file():
                continue
            if path.suffix == ".py" or (path.suffix == "" and _has_python_shebang(path)):
                files.append(path)
    return files


def _has_python_shebang(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return b"python" in f.readline()
    except OSError:
        return False


@cache
def _trees() -> dict[Path, ast.AST]:
    roots = [PACKAGE, ROOT / "scripts", ROOT / "benchmarks", ROOT / "test_integration", ROOT / "build"]
    out = {}
    for path in _python_files(*roots):
        try:
            out[path] = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
    return out


def _string_parts(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            yield str(node.values[0].value)


@cache
def code_flags() -> frozenset[str]:
    """Every ``--flag`` our programs define or pass (Python string literals, shell scripts)."""
    flags = set()
    for tree in _trees().values():
        for text in _string_parts(tree):
            m = re.match(r"^(--[a-z0-9][a-z0-9-]*)", text)
            if m:
                flags.add(m.group(1))
    for path in [*(ROOT / "scripts").rglob("*"), *(ROOT / "build").rglob("*.sh"), ROOT / "Makefile"]:
        if path.is_file() and not _has_python_shebang(path) and path.suffix in ("", ".sh"):
            flags.update(re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)", path.read_text(errors="replace")))
    return frozenset(flags)


@cache
def code_literals() -> frozenset[str]:
    """Every string literal in the controller's package (event and condition reasons are among them)."""
    literals = set()
    for path, tree in _trees().items():
        if PACKAGE in path.parents:
            literals.update(_string_parts(tree))
    return frozenset(literals)


@cache
def code_text() -> str:
    """All code and configuration the docs may describe, as one text for word searches."""
    parts = []
    for root in (PACKAGE, ROOT / "scripts", ROOT / "tests", ROOT / "test_integration", ROOT / "benchmarks",
                 ROOT / "build", ROOT / "manifests", ROOT / ".github", ROOT / ".ci"):
        if not root.exists():
            continue
        for path in root.rglob("*"):
            if path == Path(__file__).resolve():
                continue  # this file names made-up things on purpose (the probes below)
            if path.is_file() and "__pycache__" not in path.parts and path.stat().st_size < 2_000_000:
                parts.append(path.read_text(encoding="utf-8", errors="replace"))
    for name in ("Makefile", "Dockerfile", "pyproject.toml", "setup.cfg"):
        if (ROOT / name).exists():
            parts.append((ROOT / name).read_text(encoding="utf-8"))
    return "\n".join(parts)


@cache
def code_words() -> frozenset[str]:
    """Every identifier-like word of :func:`code_text` (one set lookup instead of a regex over megabytes)."""
    return frozenset(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code_text()))


@cache
def exposed_metrics() -> frozenset[str]:
    """Sample names /metrics exposes, from the code's metric definitions.

    Importing the command's modules defines every metric on the process-wide
    registry (work-queue families are always listed); the process and
    platform collectors that ``cmd/app.py`` registers at start-up are read
    from fresh instances, so this test changes no global state.
    """
    from prometheus_client.platform_collector import PlatformCollector
    from prometheus_client.process_collector import ProcessCollector

    importlib.import_module("bitcoin_controller.cmd.app")
    from bitcoin_controller.clientgo.util.workqueue.metrics import REGISTRY

    names = set()
    families = [*REGISTRY.collect(), *ProcessCollector(registry=None).collect(),
                *PlatformCollector(registry=None).collect()]
    for family in families:
        suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
                    "summary": ("_sum", "_count", "_created")}.get(family.type, ("",))
        names.update(family.name + s for s in suffixes)
        if family.type != "counter":
            names.add(family.name)  # a histogram is named by its family; a counter only with _total
    return frozenset(names)


METRIC_RE = re.compile(
    r"\b((?:bitcoin_controller|bitcoin_network|bitcoin_rpc|workqueue|reflector|rest_client|leader_election)_[a-z0-9_]+"
    r"|events_dropped(?:_total)?|python_info"
    r"|process_(?:cpu_seconds_total|resident_memory_bytes|virtual_memory_bytes|open_fds|max_fds|start_time_seconds))\b"
)


@cache
def _defined_names() -> frozenset[str]:
    """Names our code defines: ``def name`` and ``name =`` / ``name:`` at the start of a line."""
    pairs = re.findall(r"\bdef (\w+)|^\s*(\w+)\s*[:=]", code_text(), re.M)
    return frozenset(name for pair in pairs for name in pair if name)


def _is_code_identifier(name: str) -> bool:
    """A function or variable of ours (``process_deltas``, ``leader_election_record_to_lease_spec``), not a metric."""
    return name in _defined_names()


@cache
def values_keys() -> dict:
    return yaml.safe_load((ROOT / "manifests" / "helm" / "bitcoin-controller" / "values.yaml").read_text())


# --- extraction ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    doc: Path
    line: int
    text: str
    context: str  # the whole line
    column: str = ""  # the header of the table column the token sits in, if any

    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}: `{self.text}`"


CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") else inner
    # split on unescaped pipes outside code spans
    cells, cur, ticks = [], "", False
    i = 0
    while i < len(inner):
        c = inner[i]
        if c == "\\" and i + 1 < len(inner):
            cur += inner[i:i + 2]
            i += 2
            continue
        if c == "`":
            ticks = not ticks
        if c == "|" and not ticks:
            cells.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    cells.append(cur)
    return [c.strip() for c in cells]


def extract(doc: Path) -> tuple[list[Token], list[Token], list[Token]]:
    """(inline code tokens, relative link targets, metric names in fenced code) of one document."""
    spans, links, fenced = [], [], []
    fence = None
    header: list[str] = []
    for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        marker = re.match(r"^(```+|~~~+)(\S*)", stripped)
        if marker:
            if fence is None:
                fence, language = marker.group(1), marker.group(2)
            elif stripped.startswith(fence):
                fence = None
            continue
        if fence is not None:
            if language != "python":  # a Python example names functions, not metrics
                for m in METRIC_RE.finditer(line):
                    if not _is_code_identifier(m.group(1)):
                        fenced.append(Token(doc, number, m.group(1), line))
            continue
        if stripped.startswith("|"):
            cells = _cells(stripped)
            if not header:
                header = [c.lower() for c in cells]
                columns = header
            elif all(re.fullmatch(r":?-{3,}:?", c) for c in cells if c):
                continue
            columns = header
        else:
            header, columns, cells = [], [], []
        for m in LINK.finditer(CODE_SPAN.sub("", line)):
            target = m.group(1)
            if not re.match(r"^[a-z]+:", target):
                links.append(Token(doc, number, target, line))
        if cells and columns:
            for index, cell in enumerate(cells):
                column = columns[index] if index < len(columns) else ""
                for m in CODE_SPAN.finditer(cell):
                    spans.append(Token(doc, number, m.group(2).strip(), line, column))
        else:
            for m in CODE_SPAN.finditer(line):
                spans.append(Token(doc, number, m.group(2).strip(), line))
    return spans, links, fenced


# --- checks ------------------------------------------------------------------------------------

@cache
def repo_files() -> tuple[str, ...]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode == 0:
        return tuple(out.stdout.split())
    return tuple(str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts)


@cache
def file_suffixes() -> frozenset[str]:
    """Every tail of every file's path (``cache/reflector.py``, ``reflector.py``), for partial paths."""
    tails = set()
    for f in repo_files():
        parts = f.split("/")
        tails.update("/".join(parts[i:]) for i in range(1, len(parts)))
    return frozenset(tails)


@cache
def repo_dirs() -> frozenset[str]:
    dirs = set()
    for f in repo_files():
        parts = f.split("/")
        for i in range(1, len(parts)):
            dirs.add("/".join(parts[:i]))
    return frozenset(dirs)


@cache
def dir_suffixes() -> frozenset[str]:
    tails = set()
    for d in repo_dirs():
        parts = d.split("/")
        tails.update("/".join(parts[i:]) for i in range(1, len(parts)))
    return frozenset(tails)


def _path_exists(token: str, doc: Path) -> bool:
    path = token.rstrip("/")
    if not path:
        return True
    if any(ch in path for ch in "*?["):
        return bool(list(ROOT.glob(path)))
    if (ROOT / path).exists() or (doc.parent / path).exists():
        return True
    if path in repo_dirs() or path in dir_suffixes():
        return True
    return path in repo_files() or path in file_suffixes()


PATH_RE = re.compile(r"^(\.{0,2}/)?[\w.~$-]+(/[\w.<>…-]*)*(\.[a-z]{1,5})?/?$")
FILE_SUFFIXES = (".py", ".md", ".yaml", ".yml", ".json", ".sh", ".txt", ".tpl", ".toml", ".cfg", ".tgz", ".mod")
ROOT_FILES = {"Makefile", "Dockerfile", "README.md", "pyproject.toml", "setup.cfg", "ruff.toml"}


def _looks_like_path(text: str) -> bool:
    if " " in text or "=" in text or text.startswith("--") or "://" in text or "(" in text:
        return False
    if text in ROOT_FILES:
        return True
    if not PATH_RE.match(text):
        return False
    return "/" in text or text.endswith(FILE_SUFFIXES)


def check_path(tok: Token, text: str | None = None) -> str | None:
    text = text or tok.text
    if text in ALLOWED_PATHS or text.startswith(GENERATED_PREFIXES) or text.lstrip("./").startswith(GENERATED_PREFIXES):
        return None
    if "<" in text or "…" in text or "..." in text or text.startswith("$"):
        return None  # a placeholder (`<network>-rpc-tls`, `…/btcd:v0.24.2`)
    if text.endswith(".go") and not _path_exists(text, tok.doc):
        return None  # a client-go / sample-controller source file named as the mirror's origin
    if text.startswith(("/api/", "/apis/")):
        return None  # an API server URL path
    if text.startswith(SYSTEM_ROOTS):
        return None
    if text.startswith("/"):
        return None if text in code_text() else "absolute path not in the code (allow-list it if it is upstream)"
    if re.match(r"^([a-z0-9.-]+\.[a-z]{2,}|localhost(:\d+)?)/", text) or ":" in text:
        return None  # an image reference or a host (`ghcr.io/...`), not a file
    if re.fullmatch(r"[\w-]+/v\d\w*", text) or re.fullmatch(r"[a-z]+(\.[a-z]+)+/[a-z0-9]+", text):
        return None  # an apiVersion (`apps/v1`, `bitcoincontroller.dev/v1`)
    if text.count("/") == 1 and not text.endswith(FILE_SUFFIXES) and not text.endswith("/") and \
            re.fullmatch(r"[a-z0-9.-]+/[a-z0-9.-]+", text) and not _path_exists(text, tok.doc):
        return None  # a `namespace/name` key or a `group/resource` (`default/my-network`, `deploy/x`)
    if "/" not in text and f'"{text}"' in code_text():
        return None  # a file our code writes at run time (`cluster.json` in the cluster's state directory)
    return None if _path_exists(text, tok.doc) else "no such file or directory"


SUBPACKAGES = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} | {"logs"}


def check_module(text: str) -> str | None:
    parts = text.split(".")
    if parts[0] != "bitcoin_controller":
        parts = ["bitcoin_controller", *parts]
    for cut in range(len(parts), 0, -1):
        name = ".".join(parts[:cut])
        try:
            found = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            found = None
        if found is None:
            continue
        if cut == len(parts):
            return None
        obj = importlib.import_module(name)
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return f"module {name} has no attribute {'.'.join(parts[cut:])}"
            obj = getattr(obj, attr)
        return None
    return "no such module"


def _is_module(text: str) -> bool:
    if text.endswith((".go", ".py", ".conf", ".yaml", ".md", ".json", ".txt", ".sh")):
        return False
    if not re.fullmatch(r"[a-z_][a-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+", text):
        return False
    first = text.split(".")[0]
    return first == "bitcoin_controller" or (first in SUBPACKAGES and text.split(".")[1][:1].islower())


OUR_PROGRAMS = ("bitcoin-controller", ".venv/bin/bitcoin-controller", "scripts/", "python -m bitcoin_controller")


def flag_tokens(tok: Token) -> list[str]:
    text = tok.text
    if text.startswith("--") and not text.startswith("---"):
        return re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9*-]*)", text)
    if text.startswith(OUR_PROGRAMS) or text.startswith(".venv/bin/python scripts/"):
        return re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9*-]*)", text)
    return []


def check_flag(flag: str) -> str | None:
    if flag in code_flags() or flag in ALLOWED_FLAGS:
        return None
    if flag.endswith("*") and any(f.startswith(flag[:-1]) for f in code_flags()):
        return None  # `--default-image-*`: a family of flags
    return "flag defined by none of our programs (cmd/options.py, argparse in scripts/, the daemons' args)"


def check_helm_set(text: str) -> str | None:
    m = re.match(r"^--set(?:-string|-json)?[ =]'?([\w.\[\]]+)=", text)
    if not m:
        return None
    node = values_keys()
    for part in re.sub(r"\[\d+\]", "", m.group(1)).split("."):
        if node == {}:
            return None  # a free-form map such as metrics.serviceMonitor.labels
        if not isinstance(node, dict) or part not in node:
            return f"values.yaml has no key {m.group(1)}"
        node = node[part]
    return None


def check_caps(text: str) -> str | None:
    name = text.lstrip("$").strip("{}").split("=")[0]
    if name.startswith("BITCOIN_CONTROLLER_"):
        flag = "--" + name[len("BITCOIN_CONTROLLER_"):].lower().replace("_", "-")
        if name.endswith("<FLAG>") or flag in code_flags():
            return None
        return f"no flag {flag} behind this variable"
    if name in code_words():
        return None
    return "name occurs nowhere in the code"


def _reason_context(tok: Token) -> bool:
    if tok.column:
        return "reason" in tok.column
    return bool(re.search(r"\breasons?\b", tok.context, re.I))


def check_reason(text: str) -> str | None:
    if text in code_literals() or text in ALLOWED_NAMES:
        return None
    return "no such event or condition reason in the controller's code"


def check_camel(text: str) -> str | None:
    if text in ALLOWED_NAMES or text in code_words():
        return None
    return "name occurs nowhere in the code (allow-list it if it is an upstream name)"


def check_identifier(name: str) -> str | None:
    """A snake_case function, method or attribute (``sync_handler``, ``add_rate_limited``) occurs in the code."""
    if name in code_words():
        return None
    return "identifier occurs nowhere in the code"


def github_anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"\[([^]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(doc: Path) -> frozenset[str]:
    found, fence = set(), False
    for line in doc.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        elif not fence and (m := re.match(r"^#{1,6}\s+(.*?)\s*#*$", line)):
            found.add(github_anchor(m.group(1)))
    return frozenset(found)


def check_link(tok: Token) -> str | None:
    target, _, anchor = tok.text.partition("#")
    if target:
        if not _path_exists(target, tok.doc) and not (tok.doc.parent / target).resolve().exists():
            return "no such file or directory"
        linked = (tok.doc.parent / target).resolve()
    else:
        linked = tok.doc
    if anchor and linked.suffix == ".md" and linked.is_file() and anchor not in anchors(linked):
        return f"no heading #{anchor} in {linked.relative_to(ROOT)}"
    return None


def problems_in(doc: Path) -> list[str]:
    spans, links, fenced = extract(doc)
    problems = []
    for tok in links:
        why = check_link(tok)
        if why:
            problems.append(f"{tok.where()} (link): {why}")
    for tok in fenced:
        if tok.text not in exposed_metrics():
            problems.append(f"{tok.where()} (metric in a code block): not exposed by the code")
    for tok in spans:
        text = tok.text
        if tok.column.startswith("client-go") or text in ALLOWED_EXAMPLES:
            continue  # the client-go column of a mapping table: the Go names being mirrored
        why = kind = None
        flags = flag_tokens(tok)
        metrics = METRIC_RE.findall(text)
        if flags:
            kind = "flag"
            why = check_helm_set(text)
            for flag in flags:
                why = why or check_flag(flag)
                if why:
                    why = f"{flag}: {why}"
                    break
        elif metrics and re.fullmatch(r"[a-z0-9_]+(\{.*\})?", text) and not _is_code_identifier(metrics[0]):
            kind = "metric"
            name = metrics[0]
            why = None if name in exposed_metrics() else "metric not exposed by the code"
        elif _is_module(text):
            kind, why = "module", check_module(text)
        elif _looks_like_path(text):
            kind, why = "path", check_path(tok)
        elif re.fullmatch(r"\$?\{?[A-Z][A-Z0-9]*(_[A-Z0-9<>]+)+\}?(=\S*)?", text):
            kind, why = "name", check_caps(text)
        elif re.fullmatch(r"[A-Z][A-Za-z0-9]*", text) and _reason_context(tok):
            kind, why = "reason", check_reason(text)
        elif re.fullmatch(r"[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+", text):
            kind, why = "name", check_camel(text)
        elif m := re.fullmatch(r"(?:[A-Za-z_][\w]*\.)*([a-z][a-z0-9]*_[a-z0-9_]*[a-z0-9])(\(.*\))?", text):
            kind, why = "identifier", check_identifier(m.group(1))
        if why:
            problems.append(f"{tok.where()} ({kind}): {why}")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_backticked_name_in_the_docs_exists_unit(doc):
    problems = problems_in(doc)
    assert not problems, (
        "the docs name things the code lacks (fix the doc; or, for something that legitimately is not in this "
        "repository -- an upstream path, another tool's flag -- add it with a comment to the matching "
        "ALLOWED_* set at the top of tests/test_docs_unit.py):\n" + "\n".join(problems)
    )


# --- the checker itself --------------------------------------------------------------------------

def test_the_checker_catches_each_kind_of_drift_unit(tmp_path):
    """Every kind of token is really checked: a document full of drift yields one problem per line."""
    doc = ROOT / "docs" / "_drift_probe_unit.md"  # under docs/ so relative resolution is the real one
    lines = [
        "See `bitcoin_controller/controller/nonexistent.py`.",
        "The module `bitcoin_controller.controller.nowhere`.",
        "The flag `--no-such-flag`.",
        "Set `BITCOIN_CONTROLLER_NO_SUCH_FLAG`.",
        "The metric `bitcoin_controller_syncs` (without _total) and `workqueue_nothing_total`.",
        "A Warning event with reason `NoSuchReason`; `sync_everything_now(key)` is no function.",
        "Helm `--set rbac.noSuchValue=1`.",
        "| condition | reason |",
        "| --- | --- |",
        "| `Ready` | `AlsoNoSuchReason` |",
        "[a link](no-such-file.md), [an anchor](operations.md#no-such-section)",
        "```promql",
        "rate(bitcoin_controller_no_such_metric_total[5m])",
        "```",
    ]
    doc.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        problems = "\n".join(problems_in(doc))
    finally:
        doc.unlink()
    for expected in ("nonexistent.py", "controller.nowhere", "--no-such-flag", "NO_SUCH_FLAG",
                     "`bitcoin_controller_syncs`", "workqueue_nothing_total", "`NoSuchReason`",
                     "rbac.noSuchValue", "AlsoNoSuchReason", "no-such-file.md", "no_such_metric",
                     "sync_everything_now", "#no-such-section"):
        assert expected in problems, f"{expected} not reported:\n{problems}"
    assert "_drift_probe_unit.md:6:" in problems, "the message names the file and line"
    assert "`Ready`" not in problems


def test_the_checker_accepts_the_real_things_unit():
    doc = ROOT / "docs" / "_real_probe_unit.md"
    doc.write_text(
        "`bitcoin_controller/cmd/options.py`, `clientgo.tools.cache`, `--resync-period=30s`,\n"
        "`BITCOIN_CONTROLLER_RESYNC_PERIOD=1m`, `bitcoin_controller_syncs_total`, `workqueue_depth`,\n"
        "reason `SecretForbidden`, `--set rbac.credentialSecretNames={a}`, `thread_safe_store.py`,\n"
        "`sync_handler(key)`, `RateLimitingQueue.add_rate_limited`,\n"
        "[troubleshooting](operations.md#15-troubleshooting), [the API](../README.md#the-bitcoinnetwork-api).\n",
        encoding="utf-8",
    )
    try:
        assert problems_in(doc) == []
    finally:
        doc.unlink()


# --- generated API reference ----------------------------------------------------------------------

def test_api_reference_is_generated_from_the_current_crd_unit():
    script = ROOT / "scripts" / "gen-api-reference"
    result = subprocess.run([sys.executable, str(script), "--stdout"], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    checked_in = (ROOT / "docs" / "api-reference.md").read_text(encoding="utf-8")
    assert result.stdout == checked_in, (
        "docs/api-reference.md is stale: run `scripts/gen-api-reference` (or "
        "`.venv/bin/python scripts/gen-api-reference`) and commit the result"
    )


def test_api_reference_covers_every_field_and_printer_column_unit():
    crd = yaml.safe_load((ROOT / "manifests" / "crd.yaml").read_text(encoding="utf-8"))
    text = (ROOT / "docs" / "api-reference.md").read_text(encoding="utf-8")
    version = crd["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]["properties"]

    def paths(node: dict, prefix: str):
        for name, sub in (node.get("properties") or {}).items():
            yield f"{prefix}.{name}"
            if sub.get("type") == "array":
                yield from paths(sub.get("items") or {}, f"{prefix}.{name}[]")
            else:
                yield from paths(sub, f"{prefix}.{name}")

    for part in ("spec", "status"):
        for path in paths(schema[part], part):
            assert f"| `{path}` |" in text, path
    for column in version["additionalPrinterColumns"]:
        assert f"| {column['name']} |" in text, column["name"]
    assert "CEL `self == oldSelf`" in text and "one of `bitcoind`, `btcd`" in text
    assert "`bitcoin-default-secret`" in text  # a default


# --- the config order each command's --help states ----------------------------------------------

def _help_of(parser, flag: str) -> str:
    return next(a for a in parser._actions if flag in a.option_strings).help


def test_controller_help_states_the_config_order_load_config_uses_unit(monkeypatch):
    """The controller: in a pod the in-cluster config wins over $KUBECONFIG (client-go's controllers' rule)."""
    from bitcoin_controller.clientgo.tools.clientcmd import loader
    from bitcoin_controller.cmd import options

    text = _help_of(options.build_parser(environ={}), "--kubeconfig")
    assert text.index("in-cluster") < text.index("$KUBECONFIG"), text
    sentinel = object()
    monkeypatch.setattr(loader, "in_cluster_config", lambda: sentinel)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBECONFIG", "/nonexistent/kubeconfig")
    assert loader.load_config(None) is sentinel


def test_network_help_states_the_config_order_it_uses_unit(monkeypatch):
    """`network` follows kubectl: $KUBECONFIG and ~/.kube/config before the in-cluster config."""
    import argparse

    from bitcoin_controller.cmd import network

    text = _help_of(network.build_parser(), "--kubeconfig")
    assert text.index("$KUBECONFIG") < text.index("in-cluster"), text

    def no_in_cluster(**_kwargs):
        raise AssertionError("in-cluster config used although $KUBECONFIG is set")

    monkeypatch.setattr(network, "in_cluster_config", no_in_cluster)
    args = argparse.Namespace(kubeconfig=None, context=None, namespace=None, request_timeout=None)
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBECONFIG": "/nonexistent/kubeconfig"}
    with pytest.raises(network.CLIError):  # the kubeconfig is tried (and missing), not the pod's token
        network._connect(args, network.PROG, environ)


# --- the metrics reference is complete ----------------------------------------------------------

def test_metrics_reference_lists_every_exposed_family_unit():
    """docs/operations.md's metrics reference names every family /metrics exposes (counters with _total)."""
    from prometheus_client.platform_collector import PlatformCollector
    from prometheus_client.process_collector import ProcessCollector

    importlib.import_module("bitcoin_controller.cmd.app")
    from bitcoin_controller.clientgo.util.workqueue.metrics import REGISTRY

    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    start = text.index("### Metrics reference")
    reference = text[start:text.index("\n### ", start + 1)]
    families = [*REGISTRY.collect(), *ProcessCollector(registry=None).collect(),
                *PlatformCollector(registry=None).collect()]
    assert len(families) > 20
    missing = []
    for family in families:
        name = family.name + ("_total" if family.type == "counter" else "")
        if f"`{name}`" not in reference:
            missing.append(name)
    assert not missing, f"docs/operations.md, Metrics reference: add a row for {', '.join(missing)}"


def test_metrics_reference_names_each_metrics_labels_unit():
    """Each row names the labels its metric really has (read from prometheus-client's metric objects)."""
    importlib.import_module("bitcoin_controller.cmd.app")
    from bitcoin_controller.clientgo.util.workqueue.metrics import REGISTRY

    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    rows = {m.group(1): line for line in text.splitlines() if (m := re.match(r"^\| `([a-z_]+)` \|", line))}
    checked = 0
    for collector in list(getattr(REGISTRY, "_collector_to_names", {})):
        labels = getattr(collector, "_labelnames", None)
        name = getattr(collector, "_name", None)
        if labels is None or name is None:
            continue  # a custom collector (the work-queue families): its rows are checked by name above
        if getattr(collector, "_type", "") == "counter":
            name += "_total"
        row = rows.get(name)
        assert row is not None, f"docs/operations.md, Metrics reference: no row for {name}"
        for label in labels:
            assert f"`{label}`" in row, f"docs/operations.md, Metrics reference: {name} has label {label}"
        checked += 1
    assert checked >= 10


# --- troubleshooting covers every reason -----------------------------------------------------------

def _controller_reasons() -> set[str]:
    """Every event and condition reason the controller's code can write."""
    reasons = set()
    events = ast.parse((PACKAGE / "controller" / "events.py").read_text(encoding="utf-8"))
    for node in ast.walk(events):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            value = str(node.value.value)
            if re.fullmatch(r"[A-Z][A-Za-z]+", value) and value not in ("Normal", "Warning"):
                reasons.add(value)
    for path in (PACKAGE / "controller").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            args = node.args
            if func == "set" and len(args) >= 3 and isinstance(args[2], ast.Constant):
                reasons.add(args[2].value)  # ConditionSet.set(type, status, reason, message)
            if func == "CredentialsError" and args and isinstance(args[0], ast.Constant):
                reasons.add(args[0].value)
    return reasons


def test_troubleshooting_explains_every_reason_unit():
    reasons = _controller_reasons()
    assert {"RPCError", "SecretForbidden", "NoReadyNodes", "PeersMissing", "InvalidSpec"} <= reasons
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    heading = re.search(r"^## (\d+\. )?Troubleshooting$", text, re.M)
    assert heading, "docs/operations.md has no Troubleshooting section"
    section = text[heading.start():]
    missing = sorted(r for r in reasons if f"`{r}`" not in section)
    assert not missing, f"docs/operations.md, Troubleshooting: say what {', '.join(missing)} means and what to do"


# --- quoted tests are the real tests ------------------------------------------------------------------

def test_test_functions_quoted_in_the_docs_match_the_tests_unit():
    """A fenced Python block that shows a ``def test_..._unit`` is a verbatim prefix of that test."""
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("test_*.py"))
    quoted = 0
    for doc in DOCS:
        for block in re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
            if re.match(r"def test_\w+_unit\(", block):
                quoted += 1
                assert block.strip() in sources, (
                    f"{doc.relative_to(ROOT)}: the quoted {block.split('(')[0][4:]} differs from the test in tests/"
                )
    assert quoted >= 1

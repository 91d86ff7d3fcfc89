"""What the real node changes on the host, recorded before and undone after.

A real kubelet node is not contained the way the kwok backend is: containerd, the CNI
bridge plugin, kubelet and kube-proxy touch host-wide state (iptables and nftables
rules, links, mounts, cgroups, a few sysctls and well-known directories such as
/var/lib/cni). ``HostJournal`` records that state when the node comes up and puts it
back when the node goes down, touching only what was not there before, so ``down``
leaves the host as ``up`` found it. ``snapshot()`` is the comparison the tests make.

Everything here shells out to iproute2, iptables-save/iptables and nft: the same tools an
administrator would use to check by hand.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

# Host paths that containerd, CNI and kubelet create at fixed locations (not under the
# directories we give them). Removed on down only if they did not exist on up.
WELL_KNOWN_PATHS = [
    "/var/lib/cni",  # libcni's result cache
    "/var/log/containers",  # kubelet's symlinks for log collectors
    "/var/log/pods",
    "/var/lib/kubelet",  # device-plugins/ is a fixed path in kubelet
    "/usr/libexec/kubernetes",  # kubelet's flexvolume directory (default)
    "/run/containerd",
    "/run/netns",
    "/var/run/netns",
    "/opt/containerd",
    "/etc/cni",
    "/opt/cni",
]

# sysctls a node may change (kube-proxy's conntrack tuning, containerd, the bridge).
WATCHED_SYSCTLS = [
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/forwarding",
    "net/ipv4/conf/all/route_localnet",
    "net/bridge/bridge-nf-call-iptables",
    "net/bridge/bridge-nf-call-ip6tables",
    "net/netfilter/nf_conntrack_max",
    "net/netfilter/nf_conntrack_tcp_timeout_established",
    "net/netfilter/nf_conntrack_tcp_timeout_close_wait",
]

IPTABLES_NFT_TABLES = {"filter", "nat", "mangle", "raw", "security"}


def _run(argv: list[str], check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


def read_sysctl(name: str) -> str | None:
    try:
        return Path("/proc/sys", name).read_text().strip()
    except OSError:
        return None


def write_sysctl(name: str, value: str) -> None:
    Path("/proc/sys", name).write_text(value + "\n")


def iptables_rules(family: str = "ip") -> dict[str, dict[str, list[str]]]:
    """{table: {chain: [rule, ...]}} from iptables-save, without counters.

    Chains that exist but hold no rule appear with an empty list, so a chain left behind
    shows up as a difference."""
    tool = "iptables-save" if family == "ip" else "ip6tables-save"
    if not shutil.which(tool):
        return {}
    out = _run([tool]).stdout
    tables: dict[str, dict[str, list[str]]] = {}
    table: dict[str, list[str]] | None = None
    for line in out.splitlines():
        if line.startswith("*"):
            table = tables.setdefault(line[1:], {})
        elif line.startswith(":") and table is not None:
            table.setdefault(line[1:].split()[0], [])
        elif line.startswith("-A ") and table is not None:
            chain, _, rule = line[3:].partition(" ")
            table.setdefault(chain, []).append(rule)
    # a table iptables-save prints only because it was loaded, with nothing in it, is
    # the same as no table at all
    return {t: c for t, c in tables.items() if any(c.values()) or _custom_chains(c)}


def _custom_chains(chains: dict[str, list[str]]) -> list[str]:
    return [c for c in chains if c not in _BUILTIN_CHAINS]


_BUILTIN_CHAINS = {"INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"}


def nft_tables() -> list[str]:
    """``family name`` of every nftables table (iptables-nft's included)."""
    if not shutil.which("nft"):
        return []
    out = _run(["nft", "list", "tables"]).stdout
    return sorted(line[len("table "):] for line in out.splitlines() if line.startswith("table "))


def links() -> list[str]:
    out = _run(["ip", "-o", "link", "show"]).stdout
    return sorted(re.split(r"[:@]", line.split(": ", 2)[1])[0] for line in out.splitlines() if ": " in line)


def routes() -> list[str]:
    lines = []
    for fam in ("-4", "-6"):
        lines += [f"{fam} {r}" for r in _run(["ip", fam, "route", "show", "table", "all"]).stdout.splitlines()]
    return sorted(lines)


def mount_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            points.append(line.split()[4].replace("\\040", " "))
    return sorted(points)


def cgroup_roots() -> list[str]:
    base = Path("/sys/fs/cgroup")
    if not base.is_dir():
        return []
    return sorted(str(p) for h in base.iterdir() if h.is_dir() for p in h.iterdir() if p.is_dir())


def snapshot() -> dict:
    """The host state a node must leave as it found it (compared by the tests)."""
    return {
        "sysctls": {s: read_sysctl(s) for s in WATCHED_SYSCTLS},
        "iptables": iptables_rules("ip"),
        "ip6tables": iptables_rules("ip6"),
        "nft_tables": nft_tables(),
        "links": links(),
        "routes": routes(),
        "mounts": mount_points(),
        "paths": {p: os.path.lexists(p) for p in WELL_KNOWN_PATHS},
        "cgroups": cgroup_roots(),
    }


def _iptables(family: str, *args: str) -> None:
    _run(["iptables" if family == "ip" else "ip6tables", *args])


def restore_iptables(family: str, before: dict[str, dict[str, list[str]]]) -> None:
    """Delete every rule and chain that is in the live rules but not in ``before``.

    Rules are removed first (so jumps to a chain are gone before the chain), then the
    chains themselves; rules that were there before are never touched."""
    now = iptables_rules(family)
    for table, chains in now.items():
        old = before.get(table, {})
        for chain, rules in chains.items():
            if chain not in old:
                continue
            for rule in rules:
                if rule not in old[chain]:
                    _iptables(family, "-t", table, "-D", chain, *_split_rule(rule))
        for chain in chains:
            if chain not in old and chain not in _BUILTIN_CHAINS:
                _iptables(family, "-t", table, "-F", chain)
        for chain in chains:
            if chain not in old and chain not in _BUILTIN_CHAINS:
                _iptables(family, "-t", table, "-X", chain)


def _split_rule(rule: str) -> list[str]:
    return shlex.split(rule)  # iptables-save quotes comments the way a shell would


class HostJournal:
    """The host's state before a node came up, kept in a JSON file until it went down."""

    def __init__(self, path: Path):
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    def record(self) -> None:
        if self.path.exists():  # an earlier up that never went down: keep its baseline
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(snapshot(), indent=1))
        os.replace(tmp, self.path)

    def restore(self, *, cgroup_name: str, bridge: str) -> list[str]:
        """Undo what the node changed; returns what was removed (for the log)."""
        try:
            before = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        done: list[str] = []
        for family in ("ip", "ip6"):
            restore_iptables(family, before["iptables" if family == "ip" else "ip6tables"])
        for table in nft_tables():
            # iptables-nft's tables that our iptables calls created, and kube-proxy's own
            name = table.split()[-1]
            if table not in before["nft_tables"] and (name in IPTABLES_NFT_TABLES or name.startswith("kube")):
                _run(["nft", "delete", "table", *table.split()])
                done.append(f"nft table {table}")
        if bridge in links() and bridge not in before["links"]:
            _run(["ip", "link", "delete", bridge])
            done.append(f"link {bridge}")
        for name, value in before["sysctls"].items():
            if value is not None and read_sysctl(name) not in (None, value):
                write_sysctl(name, value)
                done.append(f"sysctl {name}={value}")
        done += remove_cgroups(cgroup_name)
        for p, existed in before["paths"].items():
            if not existed and os.path.lexists(p):
                unmount_under(p)
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    os.unlink(p)
                done.append(p)
        self.path.unlink(missing_ok=True)
        return done


def unmount_under(prefix: str) -> int:
    """Unmount every mount point at or below ``prefix``, deepest first."""
    prefix = os.path.realpath(prefix)
    points = [m for m in mount_points() if m == prefix or m.startswith(prefix.rstrip("/") + "/")]
    for m in sorted(points, key=len, reverse=True):
        if _run(["umount", m]).returncode != 0:
            _run(["umount", "-l", m])
    return len(points)


def cgroup_dirs(name: str) -> list[Path]:
    """``/sys/fs/cgroup/<hierarchy>/<name>`` in every mounted hierarchy."""
    base = Path("/sys/fs/cgroup")
    if not base.is_dir():
        return []
    return [h / name for h in sorted(base.iterdir()) if (h / "cgroup.procs").exists()]


def create_cgroups(name: str) -> None:
    """The node's cgroup root in every hierarchy (kubelet wants its --cgroup-root to exist).

    A new cpuset cgroup starts with no CPUs and no memory nodes; copy the parent's."""
    for d in cgroup_dirs(name):
        d.mkdir(exist_ok=True)
        for f in ("cpuset.cpus", "cpuset.mems"):
            if (d / f).exists() and not (d / f).read_text().strip():
                (d / f).write_text((d.parent / f).read_text())


def kill_cgroup_processes(name: str) -> int:
    """SIGKILL every process in the node's cgroups (pods' containers survive their shim)."""
    killed = 0
    for d in cgroup_dirs(name):
        for procs in d.rglob("cgroup.procs"):
            try:
                pids = [int(p) for p in procs.read_text().split()]
            except (OSError, ValueError):
                continue
            for pid in pids:
                try:
                    os.kill(pid, 9)
                    killed += 1
                except ProcessLookupError:
                    pass
    return killed


def remove_cgroups(name: str) -> list[str]:
    removed = []
    for d in cgroup_dirs(name):
        if not d.exists():
            continue
        for sub in sorted((p for p in d.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            try:
                sub.rmdir()
            except OSError:
                pass
        try:
            d.rmdir()
            removed.append(f"cgroup {d}")
        except OSError:
            pass
    return removed

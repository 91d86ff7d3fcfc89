"""The action log and reaction chains of fake clients (``k8s.io/client-go/testing/fake.go``).

A fake clientset does not implement any API behaviour itself.  Each call is
turned into an :class:`~.actions.Action`, logged, and offered to a chain of
*reactors*; the first reactor that handles it decides the result.  The
default chain of :class:`~bitcoin_controller.clientgo.kubernetes.fake.Clientset`
has one reactor for everything, backed by an
:class:`~.fixture.ObjectTracker`; tests add their own in front of it to
inject failures or observe calls::

    def refuse(action):
        return True, None, errors.new_conflict("statefulsets.apps", "x", "busy")

    cs.prepend_reactor("update", "statefulsets", refuse)

A reaction function returns ``(handled, object, error)``; ``handled=False``
passes the action on down the chain.

**Order matters.**  ``add_reactor`` *appends*: since the tracker's reactor
already handles every verb on every resource, a reactor added with
``add_reactor`` after construction is never reached.  Use
``prepend_reactor`` to take precedence -- the same gotcha as in Go.

Like Go's ``Fake``, one lock is held for a whole invocation (log + reaction),
so concurrent calls are served one at a time and the log order is the order
the reactors saw.  The lock is re-entrant, so a reactor may call the fake
clientset itself from the same thread (in Go that deadlocks).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from ...apimachinery import watch
from .actions import Action

__all__ = [
    "ReactionFunc",
    "WatchReactionFunc",
    "Reactor",
    "WatchReactor",
    "SimpleReactor",
    "SimpleWatchReactor",
    "Fake",
    "UnhandledWatchError",
]

#: ``testing.ReactionFunc``: ``action -> (handled, object, error)``.
ReactionFunc = Callable[[Action], tuple[bool, Any, BaseException | None]]
#: ``testing.WatchReactionFunc``: ``action -> (handled, watcher, error)``.
WatchReactionFunc = Callable[[Action], tuple[bool, "watch.Interface | None", BaseException | None]]


class UnhandledWatchError(RuntimeError):
    """No watch reactor handled a watch action (Go: ``unhandled watch: ...``)."""


class Reactor(ABC):
    """``testing.Reactor``: decides whether it handles an action, then reacts to it."""

    @abstractmethod
    def handles(self, action: Action) -> bool: ...

    @abstractmethod
    def react(self, action: Action) -> tuple[bool, Any, BaseException | None]: ...


class WatchReactor(ABC):
    """``testing.WatchReactor``."""

    @abstractmethod
    def handles(self, action: Action) -> bool: ...

    @abstractmethod
    def react(self, action: Action) -> tuple[bool, watch.Interface | None, BaseException | None]:
        ...


def _resource_covers(resource: str, action: Action) -> bool:
    # Exact (case-sensitive) match as in Go: "*", "pods", or "pods/status".
    if resource in ("*", action.resource.resource):
        return True
    top, slash, sub = resource.partition("/")
    return bool(slash) and top == action.resource.resource and sub == action.subresource


class SimpleReactor(Reactor):
    """``testing.SimpleReactor``: ``verb`` and ``resource`` may be ``"*"``;
    ``resource`` may name a subresource (``"pods/status"``)."""

    def __init__(self, verb: str, resource: str, reaction: ReactionFunc) -> None:
        self.verb = verb
        self.resource = resource
        self.reaction = reaction

    def handles(self, action: Action) -> bool:
        return self.verb in ("*", action.verb) and _resource_covers(self.resource, action)

    def react(self, action: Action) -> tuple[bool, Any, BaseException | None]:
        return self.reaction(action)


class SimpleWatchReactor(WatchReactor):
    """``testing.SimpleWatchReactor``: matches by resource only (``"*"`` for all)."""

    def __init__(self, resource: str, reaction: WatchReactionFunc) -> None:
        self.resource = resource
        self.reaction = reaction

    def handles(self, action: Action) -> bool:
        return _resource_covers(self.resource, action)

    def react(self, action: Action) -> tuple[bool, watch.Interface | None, BaseException | None]:
        return self.reaction(action)


class Fake:
    """``testing.Fake``: the action log plus the reaction chains.

    ``reaction_chain`` and ``watch_reaction_chain`` are public lists, as in
    Go, for tests that want to replace a chain outright.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._actions: list[Action] = []
        self.reaction_chain: list[Reactor] = []
        self.watch_reaction_chain: list[WatchReactor] = []

    # -- reactors ---------------------------------------------------------------
    def add_reactor(self, verb: str, resource: str, reaction: ReactionFunc) -> None:
        """Append a reactor: it runs only if every earlier one passed (see the module note)."""
        with self._lock:
            self.reaction_chain.append(SimpleReactor(verb, resource, reaction))

    def prepend_reactor(self, verb: str, resource: str, reaction: ReactionFunc) -> None:
        """Put a reactor first in the chain: the way to override the tracker."""
        with self._lock:
            self.reaction_chain.insert(0, SimpleReactor(verb, resource, reaction))

    def add_watch_reactor(self, resource: str, reaction: WatchReactionFunc) -> None:
        with self._lock:
            self.watch_reaction_chain.append(SimpleWatchReactor(resource, reaction))

    def prepend_watch_reactor(self, resource: str, reaction: WatchReactionFunc) -> None:
        with self._lock:
            self.watch_reaction_chain.insert(0, SimpleWatchReactor(resource, reaction))

    # -- invoking ---------------------------------------------------------------
    def invokes(self, action: Action, default_return: Any) -> tuple[Any, BaseException | None]:
        """Log ``action`` and run the reaction chain: ``(object, error)`` of the first
        reactor that handles it, else ``(default_return, None)``.

        The log keeps its own deep copy, and reactors get another, so neither
        the caller nor a reactor can alter what was recorded.
        """
        with self._lock:
            self._actions.append(action.deep_copy())
            action = action.deep_copy()
            for reactor in list(self.reaction_chain):
                if not reactor.handles(action):
                    continue
                handled, obj, err = reactor.react(action)
                if handled:
                    return obj, err
            return default_return, None

    def invokes_watch(self, action: Action) -> tuple[watch.Interface | None, BaseException | None]:
        """Log ``action`` and run the watch chain; an unhandled watch is an error."""
        with self._lock:
            self._actions.append(action.deep_copy())
            action = action.deep_copy()
            for reactor in list(self.watch_reaction_chain):
                if not reactor.handles(action):
                    continue
                handled, watcher, err = reactor.react(action)
                if handled:
                    return watcher, err
            return None, UnhandledWatchError(f"unhandled watch: {action!r}")

    # -- the log ----------------------------------------------------------------
    def actions(self) -> list[Action]:
        """The log, oldest first, as deep copies.

        Go returns the recorded actions themselves; copies mean a test that
        edits an action (say, to normalise it before comparing) cannot change
        what a later ``actions()`` call reports.
        """
        with self._lock:
            return [a.deep_copy() for a in self._actions]

    def clear_actions(self) -> None:
        with self._lock:
            self._actions.clear()

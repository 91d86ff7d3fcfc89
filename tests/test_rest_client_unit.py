"""The real clientset and REST client against a local fake API server."""

from __future__ import annotations

import json
import threading

import pytest
from fake_apiserver import FakeAPIServer, Handler, Recorded, Reply, self_signed_cert, status
from waiting import wait_for

from bitcoin_controller.apimachinery import errors
from bitcoin_controller.apimachinery.metav1 import ListOptions
from bitcoin_controller.apimachinery.types import JSON_PATCH, MERGE_PATCH
from bitcoin_controller.clientgo.kubernetes import Clientset, scheme
from bitcoin_controller.clientgo.rest import (
    CachedFileTokenSource,
    Config,
    RESTClient,
    TransportError,
    anonymous_client_config,
    pool_manager_for,
)
from bitcoin_controller.clientgo.rest.client import (
    ERROR_CODE_LABEL,
    RequestCanceledError,
    cancel_on,
)
from bitcoin_controller.clientgo.tools.cache import new_list_watch_from_client, new_store
from bitcoin_controller.clientgo.tools.cache.keys import meta_namespace_key_func
from bitcoin_controller.clientgo.tools.cache.reflector import Reflector
from bitcoin_controller.clientgo.util.flowcontrol import TokenBucketRateLimiter
from bitcoin_controller.componentbase.metrics.legacyregistry import REGISTRY
from bitcoin_controller.utils.clock import FakeClock

TOKEN = "s3cr3t-token-value"
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "namespace": "ns1"},
       "spec": {"containers": [{"name": "c", "image": "btcd"}]}}


@pytest.fixture
def server():
    srv = FakeAPIServer()
    yield srv
    srv.close()


def clientset(server: FakeAPIServer, **config) -> Clientset:
    return Clientset(Config(host=server.url, bearer_token=TOKEN, **config))


# -- paths, queries, bodies ------------------------------------------------------


def test_get_round_trips_json_and_sends_identity_headers_unit(server):
    server.route("GET", "/api/v1/namespaces/ns1/pods/p1", Reply(200, POD))
    got = clientset(server).core_v1().pods("ns1").get("p1")
    assert got == POD
    req = server.last()
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"
    assert req.headers["Accept"] == "application/json"
    assert req.headers["User-Agent"].startswith("bitcoin-controller/")


def test_list_sends_list_options_as_query_unit(server):
    body = {"kind": "StatefulSetList", "apiVersion": "apps/v1",
            "metadata": {"resourceVersion": "42"}, "items": []}
    server.route("GET", "/apis/apps/v1/namespaces/ns1/statefulsets", Reply(200, body))
    opts = ListOptions(label_selector="app=btc,tier in (a,b)", resource_version="0", limit=500)
    got = clientset(server).apps_v1().stateful_sets("ns1").list(opts)
    assert got["metadata"]["resourceVersion"] == "42"
    assert server.last().query == {"labelSelector": "app=btc,tier in (a,b)",
                                   "resourceVersion": "0", "limit": "500"}


@pytest.mark.parametrize(
    ("accessor", "path"),
    [
        (lambda cs: cs.core_v1().nodes(), "/api/v1/nodes"),
        (lambda cs: cs.core_v1().pods(), "/api/v1/pods"),
        (lambda cs: cs.coordination_v1().leases("kube-system"),
         "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"),
        (lambda cs: cs.bitcoincontroller_v1().bitcoin_networks("ns1"),
         "/apis/bitcoincontroller.dev/v1/namespaces/ns1/bitcoinnetworks"),
    ],
)
def test_list_paths_per_group_and_scope_unit(server, accessor, path):
    server.route("GET", path, Reply(200, {"items": [], "metadata": {}}))
    accessor(clientset(server)).list()
    assert server.last().path == path
    assert server.last().query == {}


def test_writes_use_the_right_verbs_paths_and_bodies_unit(server):
    base = "/apis/bitcoincontroller.dev/v1/namespaces/ns1/bitcoinnetworks"
    net = {"apiVersion": "bitcoincontroller.dev/v1", "kind": "BitcoinNetwork",
           "metadata": {"name": "regtest", "namespace": "ns1", "resourceVersion": "7"},
           "spec": {"nodes": 3}, "status": {"readyNodes": 1}}
    server.route("POST", base, Reply(201, net))
    server.route("PUT", f"{base}/regtest", Reply(200, net))
    server.route("PUT", f"{base}/regtest/status", Reply(200, net))
    server.route("PATCH", f"{base}/regtest", Reply(200, net))
    server.route("PATCH", f"{base}/regtest/status", Reply(200, net))
    server.route("DELETE", f"{base}/regtest", Reply(200, status(200, "", "")))
    client = clientset(server).bitcoincontroller_v1().bitcoin_networks("ns1")

    assert client.create(net) == net
    assert (server.last().method, server.last().json()) == ("POST", net)
    assert server.last().headers["Content-Type"] == "application/json"
    client.update(net)
    assert (server.last().method, server.last().path) == ("PUT", f"{base}/regtest")
    client.update_status(net)
    assert server.last().path == f"{base}/regtest/status"
    client.patch("regtest", {"spec": {"nodes": 4}})
    assert server.last().headers["Content-Type"] == MERGE_PATCH
    assert server.last().body == b'{"spec":{"nodes":4}}'
    ops = [{"op": "replace", "path": "/status/readyNodes", "value": 3}]
    client.patch("regtest", ops, JSON_PATCH, subresource="status")
    assert (server.last().path, server.last().headers["Content-Type"]) == (
        f"{base}/regtest/status", JSON_PATCH)
    assert server.last().json() == ops
    assert client.delete("regtest", propagation_policy="Foreground",
                         preconditions={"uid": "u-1"}) is None
    assert server.last().method == "DELETE"
    assert server.last().json() == {"kind": "DeleteOptions", "apiVersion": "v1",
                                    "propagationPolicy": "Foreground",
                                    "preconditions": {"uid": "u-1"}}


def test_create_in_all_namespaces_client_uses_object_namespace_unit(server):
    server.route("POST", "/api/v1/namespaces/ns1/pods", Reply(201, POD))
    clientset(server).core_v1().pods().create(POD)
    assert server.last().path == "/api/v1/namespaces/ns1/pods"


def test_impersonation_headers_are_sent_unit(server):
    server.route("GET", "/api/v1/namespaces/ns1/pods/p1", Reply(200, POD))
    cs = clientset(server, impersonate_user="system:serviceaccount:btc:controller",
                   impersonate_groups=["system:serviceaccounts", "system:serviceaccounts:btc"])
    cs.core_v1().pods("ns1").get("p1")
    headers = server.last().headers
    assert headers["Impersonate-User"] == "system:serviceaccount:btc:controller"
    assert headers.get_all("Impersonate-Group") == [
        "system:serviceaccounts", "system:serviceaccounts:btc"]


# -- errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason", "cls"),
    [
        (400, "BadRequest", errors.BadRequestError),
        (401, "Unauthorized", errors.UnauthorizedError),
        (403, "Forbidden", errors.ForbiddenError),
        (404, "NotFound", errors.NotFoundError),
        (409, "AlreadyExists", errors.AlreadyExistsError),
        (409, "Conflict", errors.ConflictError),
        (410, "Expired", errors.GoneError),
        (422, "Invalid", errors.InvalidError),
        (429, "TooManyRequests", errors.TooManyRequestsError),
        (500, "InternalError", errors.InternalError),
    ],
)
def test_error_status_becomes_its_exception_with_server_message_unit(server, code, reason, cls):
    message = f'pods "p1" failed with {reason}'
    reply = Reply(code, status(code, reason, message))
    server.route("GET", "/api/v1/namespaces/ns1/pods/p1", reply)
    with pytest.raises(cls) as info:
        clientset(server).core_v1().pods("ns1").get("p1")
    assert str(info.value) == message
    assert info.value.code == code
    assert info.value.reason == reason


def test_error_without_status_body_is_built_from_the_code_unit(server):
    server.route("GET", "/api/v1/pods", Reply(503, b"<html>proxy says no " + TOKEN.encode()))
    with pytest.raises(errors.ServiceUnavailableError) as info:
        clientset(server).core_v1().pods().list()
    assert info.value.code == 503
    assert "503" in str(info.value)
    assert "<html>" not in str(info.value)  # the body is never quoted


def test_bearer_token_never_appears_in_exception_text_unit(server):
    server.route("GET", "/api/v1/namespaces/ns1/pods/p1",
                 Reply(403, status(403, "Forbidden", 'pods "p1" is forbidden')))
    with pytest.raises(errors.ForbiddenError) as info:
        clientset(server).core_v1().pods("ns1").get("p1")
    for text in (str(info.value), repr(info.value), json.dumps(info.value.status)):
        assert TOKEN not in text
    closed_port_config = Config(host="http://127.0.0.1:1", bearer_token=TOKEN, connect_timeout=2)
    with pytest.raises(TransportError) as transport_info:
        Clientset(closed_port_config).core_v1().pods("ns1").get("p1")
    assert TOKEN not in str(transport_info.value)
    assert TOKEN not in repr(closed_port_config)


def test_refused_connection_keeps_connection_refused_in_the_cause_chain_unit():
    # The reflector backs off (rather than relisting) when it finds a
    # ConnectionRefusedError among the causes, as utilnet.IsConnectionRefused does.
    with pytest.raises(TransportError) as info:
        Clientset(Config(host="http://127.0.0.1:1", connect_timeout=2)).core_v1().pods().watch()
    assert isinstance(info.value, ConnectionError)
    causes, err = [], info.value
    while err is not None:
        causes.append(err)
        err = err.__cause__ or err.__context__
    assert any(isinstance(c, ConnectionRefusedError) for c in causes)


def test_retry_after_is_honoured_then_gives_up_unit(server):
    busy = Reply(429, status(429, "TooManyRequests", "slow down"), {"Retry-After": "0"})
    server.route("GET", "/api/v1/namespaces/ns1/pods/p1", busy, Reply(200, POD))
    assert clientset(server).core_v1().pods("ns1").get("p1") == POD
    assert len(server.requests) == 2

    server.route("GET", "/api/v1/namespaces/ns1/pods/p1", busy)
    with pytest.raises(errors.TooManyRequestsError):
        clientset(server, max_retries=2).core_v1().pods("ns1").get("p1")
    assert len(server.requests) == 2 + 3  # first try plus two retries


def _in_thread(call):
    """Run ``call`` in a daemon thread; the returned dict gets "result" or "error"."""
    outcome: dict = {}

    def run():
        try:
            outcome["result"] = call()
        except Exception as err:
            outcome["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_retry_after_is_capped_unit(server):
    # A server asking for a day-long wait gets at most max_retry_after seconds.
    clock = FakeClock()
    day = Reply(503, status(503, "ServiceUnavailable", "later"), {"Retry-After": "86400"})
    server.route("GET", "/api/v1/namespaces/ns1/pods/p1", day, Reply(200, POD))
    pods = Clientset(Config(host=server.url, max_retry_after=7.0), clock=clock).core_v1().pods("ns1")
    thread, outcome = _in_thread(lambda: pods.get("p1"))
    wait_for(clock.has_waiters, "the Retry-After wait")
    clock.step(7.0)
    thread.join(5.0)
    assert outcome == {"result": POD}
    assert len(server.requests) == 2


def test_retry_after_cap_has_a_sane_default_unit():
    assert 0 < Config(host="h").max_retry_after <= 60


def test_retry_after_wait_ends_when_the_request_is_cancelled_unit(server):
    clock = FakeClock()
    busy = Reply(503, status(503, "ServiceUnavailable", "later"), {"Retry-After": "5"})
    server.route("GET", "/api/v1/namespaces/ns1/pods/p1", busy)
    pods = Clientset(Config(host=server.url), clock=clock).core_v1().pods("ns1")
    stop = threading.Event()

    def get():
        with cancel_on(stop):
            return pods.get("p1")

    thread, outcome = _in_thread(get)
    wait_for(clock.has_waiters, "the Retry-After wait")
    stop.set()  # the clock never moves: only the event can end the wait
    thread.join(5.0)
    assert isinstance(outcome.get("error"), RequestCanceledError)
    assert len(server.requests) == 1


def test_reflector_stops_promptly_during_a_retry_after_wait_unit(server):
    # The API server sheds load with a long Retry-After on every request: the
    # reflector must still stop at once, not after the server's delay.
    clock = FakeClock()
    busy = Reply(503, status(503, "ServiceUnavailable", "later"), {"Retry-After": "3600"})
    server.route("GET", "/api/v1/namespaces/ns1/pods", busy)
    cs = Clientset(Config(host=server.url), clock=clock)
    reflector = Reflector("retry-after-stop", new_list_watch_from_client(cs, scheme.PODS, "ns1"),
                          None, new_store(meta_namespace_key_func), clock=clock)
    stop = threading.Event()
    thread = threading.Thread(target=reflector.run, args=(stop,), daemon=True)
    thread.start()
    wait_for(clock.has_waiters, "the Retry-After wait of the LIST")
    stop.set()
    thread.join(5.0)
    assert not thread.is_alive()
    # The abandoned LIST thread ends too, instead of sleeping on for an hour.
    wait_for(lambda: not any(t.name.startswith("reflector-list-retry-after-stop")
                             for t in threading.enumerate()), "the LIST thread to end")


def test_reflector_stops_promptly_while_a_watch_open_waits_out_retry_after_unit(server):
    # The LIST works, the WATCH is shed with a long Retry-After: the wait
    # happens in the reflector's own thread and must end with its stop event.
    clock = FakeClock()
    pods_path = "/api/v1/namespaces/ns1/pods"
    listing = {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "5"}, "items": []}
    busy = Reply(503, status(503, "ServiceUnavailable", "later"), {"Retry-After": "3600"})

    def route(handler, rec):
        handler.reply(busy if rec.query.get("watch") == "true" else Reply(200, listing))

    server.route("GET", pods_path, route)
    cs = Clientset(Config(host=server.url), clock=clock)
    reflector = Reflector("retry-after-watch", new_list_watch_from_client(cs, scheme.PODS, "ns1"),
                          None, new_store(meta_namespace_key_func), clock=clock)
    stop = threading.Event()
    thread = threading.Thread(target=reflector.run, args=(stop,), daemon=True)
    thread.start()
    wait_for(lambda: any(r.query.get("watch") == "true" for r in server.requests) and clock.has_waiters(),
             "the Retry-After wait of the WATCH")
    stop.set()
    thread.join(5.0)
    assert not thread.is_alive()


# -- watch ------------------------------------------------------------------------

WATCH_PATH = "/api/v1/namespaces/ns1/pods"


def watch_route(*steps):
    """A route that streams the given steps: (type, obj) events or handler method names."""

    def route(handler: Handler, _: Recorded) -> None:
        handler.start_stream()
        for step in steps:
            if isinstance(step, tuple):
                handler.event(*step)
            elif isinstance(step, bytes):
                handler.chunk(step)
            else:
                getattr(handler, step)()
                if step in ("drop", "hang"):
                    return
        handler.end_stream()

    return route


def pod(name: str, rv: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "ns1", "resourceVersion": rv}}


@pytest.mark.timeout(20)
def test_watch_streams_events_including_bookmark_and_error_unit(server):
    gone = status(410, "Expired", "too old resource version: 1 (5)")
    bookmark = {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": "12"}}
    server.route("GET", WATCH_PATH, watch_route(
        ("ADDED", pod("a", "10")), ("MODIFIED", pod("a", "11")), ("BOOKMARK", bookmark),
        ("DELETED", pod("a", "13")), ("ERROR", gone)))
    with clientset(server).core_v1().pods("ns1").watch(ListOptions(resource_version="9")) as w:
        events = list(w)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "BOOKMARK", "DELETED", "ERROR"]
    assert events[1]["object"] == pod("a", "11")
    assert events[4]["object"] == gone  # passed through for the reflector to interpret
    query = server.last().query
    assert query["watch"] == "true"
    assert query["allowWatchBookmarks"] == "true"
    assert query["resourceVersion"] == "9"
    assert 300 <= int(query["timeoutSeconds"]) < 600


@pytest.mark.timeout(20)
def test_watch_keeps_given_timeout_and_reassembles_split_lines_unit(server):
    first = json.dumps({"type": "ADDED", "object": pod("a", "1")}).encode() + b"\n"
    second = json.dumps({"type": "ADDED", "object": pod("b", "2")}).encode() + b"\n"
    third = json.dumps({"type": "ADDED", "object": pod("c", "3")}).encode() + b"\n"
    # one event split over two chunks, then two events in one chunk
    server.route("GET", WATCH_PATH, watch_route(first[:7], first[7:], second + third))
    w = clientset(server).core_v1().pods("ns1").watch(ListOptions(timeout_seconds=5))
    names = [e["object"]["metadata"]["name"] for e in w]
    assert names == ["a", "b", "c"]
    assert server.last().query["timeoutSeconds"] == "5"


@pytest.mark.timeout(20)
def test_watch_ends_quietly_when_the_connection_drops_mid_chunk_unit(server):
    server.route("GET", WATCH_PATH, watch_route(("ADDED", pod("a", "1")), "drop"))
    w = clientset(server).core_v1().pods("ns1").watch()
    events = list(w)  # no exception: a broken stream is just a closed watch
    assert [e["object"]["metadata"]["name"] for e in events] == ["a"]


@pytest.mark.timeout(20)
def test_watch_undecodable_line_yields_one_error_event_then_ends_unit(server):
    server.route("GET", WATCH_PATH, watch_route(b"not json at all\n", ("ADDED", pod("a", "1"))))
    events = list(clientset(server).core_v1().pods("ns1").watch())
    assert len(events) == 1
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 500
    assert "not json" not in events[0]["object"]["message"]


@pytest.mark.timeout(20)
def test_stop_from_another_thread_unblocks_a_blocked_read_unit(server):
    server.route("GET", WATCH_PATH, watch_route(("ADDED", pod("a", "1")), "hang"))
    w = clientset(server).core_v1().pods("ns1").watch()
    first_seen = threading.Event()
    seen: list[dict] = []

    def consume():
        for event in w:
            seen.append(event)
            first_seen.set()

    consumer = threading.Thread(target=consume)
    consumer.start()
    assert first_seen.wait(10)
    w.stop()  # the consumer is now blocked reading a silent socket
    consumer.join(10)
    assert not consumer.is_alive()
    assert len(seen) == 1
    w.stop()  # idempotent


@pytest.mark.timeout(20)
def test_stop_after_a_clean_end_and_connection_reuse_unit(server):
    server.route("GET", WATCH_PATH, watch_route(("ADDED", pod("a", "1"))))
    server.route("GET", "/api/v1/namespaces/ns1/pods/p1", Reply(200, POD))
    pods = clientset(server).core_v1().pods("ns1")
    w = pods.watch()
    assert len(list(w)) == 1  # the server ended the stream cleanly
    w.stop()  # must not disturb the connection, now back in the pool
    assert pods.get("p1") == POD


@pytest.mark.timeout(20)
def test_client_read_timeout_ends_a_silent_watch_unit(server):
    server.route("GET", WATCH_PATH, watch_route("hang"))
    client = RESTClient(Config(host=server.url))
    w = client.get().abs_path(WATCH_PATH).param("watch", True).timeout(0.3).watch()
    assert list(w) == []  # ended by the read deadline, no exception


def test_watch_read_deadline_is_server_timeout_plus_margin_unit():
    client = RESTClient(Config(host="http://127.0.0.1:1", watch_read_timeout_margin=30, timeout=7))
    watch_request = client.get().abs_path(WATCH_PATH).param("timeoutSeconds", 400)
    assert watch_request.effective_timeout(stream=True).read_timeout == 430
    assert client.get().abs_path("/api").effective_timeout(stream=False).read_timeout == 7


@pytest.mark.parametrize(
    ("code", "reason", "cls"),
    [(403, "Forbidden", errors.ForbiddenError), (410, "Expired", errors.GoneError)],
)
def test_watch_refused_by_server_raises_status_error_unit(server, code, reason, cls):
    server.route("GET", WATCH_PATH, Reply(code, status(code, reason, "refused")))
    with pytest.raises(cls, match="refused"):
        clientset(server).core_v1().pods("ns1").watch()


# -- connections, credentials, throttling -----------------------------------------


def test_pool_is_shared_per_tls_config_not_per_identity_unit():
    a = Config(host="https://a:6443", ca_data=b"x", bearer_token="one")
    b = Config(host="https://b:6443", ca_data=b"x", bearer_token="two", impersonate_user="u")
    assert pool_manager_for(a) is pool_manager_for(b)
    assert pool_manager_for(a) is not pool_manager_for(a.copy(insecure=True))


def test_config_repr_redacts_secrets_and_anonymous_config_drops_them_unit():
    cfg = Config(host="https://h", bearer_token=TOKEN, key_data=b"KEYDATA",
                 impersonate_groups=["g"])
    assert TOKEN not in repr(cfg) and "KEYDATA" not in str(cfg)
    anon = anonymous_client_config(cfg)
    assert (anon.host, anon.bearer_token, anon.key_data, anon.impersonate_groups) == (
        "https://h", None, None, [])
    assert cfg.bearer_token == TOKEN  # the original is untouched


def test_token_file_is_reread_after_its_period_and_survives_read_errors_unit(tmp_path):
    path = tmp_path / "token"
    path.write_text("first\n")
    clock = FakeClock()
    source = CachedFileTokenSource(str(path), period=60, clock=clock)
    assert source.token() == "first"
    path.write_text("second")
    assert source.token() == "first"  # cached
    clock.step(61)
    assert source.token() == "second"
    path.unlink()
    clock.step(61)
    assert source.token() == "second"  # the last good token is kept


def test_requests_carry_the_current_token_file_contents_unit(server, tmp_path):
    path = tmp_path / "token"
    path.write_text("rotated-1")
    clock = FakeClock()
    server.route("GET", "/api/v1/namespaces/ns1/pods/p1", Reply(200, POD))
    cs = Clientset(Config(host=server.url, bearer_token="static", bearer_token_file=str(path)),
                   clock=clock)
    cs.core_v1().pods("ns1").get("p1")
    assert server.last().headers["Authorization"] == "Bearer rotated-1"
    path.write_text("rotated-2")
    clock.step(61)
    cs.core_v1().pods("ns1").get("p1")
    assert server.last().headers["Authorization"] == "Bearer rotated-2"


def test_token_bucket_allows_burst_then_refills_at_qps_unit():
    clock = FakeClock()
    bucket = TokenBucketRateLimiter(qps=2, burst=2, clock=clock)
    assert [bucket.try_accept() for _ in range(3)] == [True, True, False]
    clock.step(0.5)
    assert bucket.try_accept()
    assert not bucket.try_accept()


def test_https_with_ca_data_verifies_the_server_unit(tmp_path):
    cert, key, pem = self_signed_cert(str(tmp_path))
    srv = FakeAPIServer(tls=(cert, key))
    try:
        srv.route("GET", "/api/v1/namespaces/ns1/pods/p1", Reply(200, POD))
        trusted = Clientset(Config(host=srv.url, ca_data=pem, bearer_token=TOKEN))
        assert trusted.core_v1().pods("ns1").get("p1") == POD
        with pytest.raises(TransportError):
            # a different CA (the system bundle) must not trust the self-signed server
            Clientset(Config(host=srv.url, bearer_token=TOKEN)).core_v1().pods("ns1").get("p1")
    finally:
        srv.close()


def test_insecure_together_with_a_ca_is_refused_unit():
    with pytest.raises(ValueError, match="insecure"):
        RESTClient(Config(host="https://h:6443", insecure=True, ca_data=b"pem"))
    assert RESTClient(Config(host="h:6443", insecure=True)).base_url == "https://h:6443"
    assert RESTClient(Config(host="h:8080")).base_url == "http://h:8080"


# -- rest_client_requests_total ---------------------------------------------------


def requests_counted(host: str, method: str, code: str) -> float:
    """The current value of one rest_client_requests_total series (0 if absent)."""
    labels = {"code": code, "method": method, "host": host}
    return REGISTRY.get_sample_value("rest_client_requests_total", labels) or 0.0


def test_requests_are_counted_per_attempt_by_code_method_and_host_unit(server):
    host = server.url.removeprefix("http://")
    pods = clientset(server).core_v1().pods("ns1")
    busy = Reply(429, status(429, "TooManyRequests", "slow down"), {"Retry-After": "0"})
    server.route("GET", "/api/v1/namespaces/ns1/pods/p1", busy, Reply(200, POD))
    server.route("GET", "/api/v1/namespaces/ns1/pods/gone", Reply(404, status(404, "NotFound", "no")))
    server.route("POST", "/api/v1/namespaces/ns1/pods", Reply(201, POD))
    series = [("GET", "200"), ("GET", "429"), ("GET", "404"), ("POST", "201")]
    before = {s: requests_counted(host, *s) for s in series}

    pods.get("p1")  # one request, two attempts: 429 then 200
    with pytest.raises(errors.NotFoundError):
        pods.get("gone")
    pods.create(POD)

    after = {s: requests_counted(host, *s) for s in series}
    assert {s: after[s] - before[s] for s in series} == {
        ("GET", "200"): 1, ("GET", "429"): 1, ("GET", "404"): 1, ("POST", "201"): 1}


def test_request_without_an_answer_is_counted_as_error_unit():
    host = "127.0.0.1:1"
    before = requests_counted(host, "GET", ERROR_CODE_LABEL)
    with pytest.raises(TransportError):
        Clientset(Config(host=f"http://{host}", connect_timeout=2)).core_v1().pods("ns1").get("p1")
    assert requests_counted(host, "GET", ERROR_CODE_LABEL) - before == 1


@pytest.mark.timeout(20)
def test_a_watch_counts_as_one_get_and_host_label_has_no_credentials_unit(server):
    server.route("GET", WATCH_PATH, watch_route(("ADDED", pod("a", "1"))))
    host = server.url.removeprefix("http://")
    before = requests_counted(host, "GET", "200")
    with clientset(server).core_v1().pods("ns1").watch() as w:
        assert [e["type"] for e in w] == ["ADDED"]
    assert requests_counted(host, "GET", "200") - before == 1
    # user info in the server URL never becomes part of the label
    client = RESTClient(Config(host=server.url.replace("://", "://user:pw@")))
    assert client._host_label == host

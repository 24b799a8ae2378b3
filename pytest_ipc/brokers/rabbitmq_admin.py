"""RabbitMQ administration for the vhost pool: on a node we started, Erlang evaluated on the node
through a hidden control node (`ErlangShell`, `ShellVhosts`); elsewhere, the management plugin's
HTTP API (`ManagementVhosts`).

``rabbitmqctl`` boots an Erlang VM per call (about 0.4 s); the control node boots once per session
and answers in about a millisecond. The Erlang here keeps to functions that RabbitMQ 3.10 (Debian
12's package, which our container image installs too) and 3.13 both have.
"""

from __future__ import annotations

import os
import re
import select
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.backends.local import LocalProcess
from pytest_ipc.brokers.errors import BrokerError
from pytest_ipc.brokers.vhost_pool import Login, PoolVhost

if TYPE_CHECKING:
    import httpx

ACTING_USER = "pytest-ipc"
LOGIN_TAGS = "policymaker"  # a test may set policies and parameters in its own vhost, nothing else
CONNECTIONS_CLOSE_TIMEOUT = 5.0  # seconds for a test's connections to be gone before a vhost is retired
CONNECTIONS_POLL_INTERVAL = 0.005
_EVERYTHING = {"configure": ".*", "write": ".*", "read": ".*"}
_ERLANG_SAFE = re.compile(r"^[A-Za-z0-9_.\-]+$")  # what we splice into Erlang binaries

CONTROL_LOOP = """
Node = list_to_atom(os:getenv("PYTEST_IPC_RABBITMQ_NODE")),
Serve = fun Serve() ->
    case io:get_line("") of
        eof -> halt(0);
        Line ->
            Reply = try
                {ok, Tokens, _} = erl_scan:string(Line),
                {ok, Exprs} = erl_parse:parse_exprs(Tokens),
                case rpc:call(Node, erl_eval, exprs, [Exprs, erl_eval:new_bindings()], 30000) of
                    {value, Value, _} -> {ok, Value};
                    {badrpc, Reason} -> {error, Reason}
                end
            catch Class:Error -> {error, {Class, Error}}
            end,
            io:format("~w~n", [Reply]),
            Serve()
    end
end,
Serve().
"""


class ErlangShell:
    """A hidden Erlang node that evaluates expressions on the broker's node: one line in, one out.

    It boots once per session next to the broker (about as costly as one ``rabbitmqctl`` call) and
    answers in about a millisecond after that; it reconnects by itself after broker restarts.
    """

    def __init__(self, process: LocalProcess, timeout: float = 60.0) -> None:
        self.process = process
        self.timeout = timeout
        self._buffer = b""
        self._lock = threading.Lock()

    def evaluate(self, expression: str) -> str:
        """Evaluate one line of Erlang on the broker's node; its value as ``~w`` prints it."""
        if "\n" in expression:
            raise IpcUsageError("one line of Erlang at a time")
        with self._lock:
            stdin, stdout = self.process.stdio
            stdin.write(expression.encode() + b"\n")
            stdin.flush()
            answer = self._read_line(stdout.fileno())
        if not answer.startswith("{ok,"):
            raise BrokerError(f"the RabbitMQ node refused {expression!r}: {answer}")
        return answer[len("{ok,") : -1]

    def _read_line(self, fd: int) -> str:
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise BrokerError(f"the Erlang control node did not answer within {self.timeout} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise BrokerError(f"the Erlang control node exited (see {self.process.log_path})")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace")


def erlang_binary(text: str) -> str:
    if not _ERLANG_SAFE.match(text):
        raise IpcUsageError(f"{text!r} cannot be passed to Erlang as is")
    return f'<<"{text}">>'


# Creations and deletions: `Each` runs for every one of `Items` at once, in processes of their own.
_CREATE = """
Each = fun({V, User, Password}) ->
    ok = rabbit_vhost:add(V, Actor),
    ok = rabbit_auth_backend_internal:add_user(User, Password, Actor, [policymaker]),
    ok = rabbit_auth_backend_internal:set_permissions(User, V, <<".*">>, <<".*">>, <<".*">>, Actor)
end,
"""
_DELETE = """
Each = fun({V, Users}) ->
    case rabbit_vhost:exists(V) of true -> ok = rabbit_vhost:delete(V, Actor); false -> ok end,
    [ok = rabbit_auth_backend_internal:delete_user(U, Actor) || U <- Users, rabbit_auth_backend_internal:exists(U)],
    ok
end,
"""
_ALL_AT_ONCE = """
Workers = [spawn_monitor(fun() -> exit(Each(Item)) end) || Item <- Items],
[receive {'DOWN', Ref, process, Pid, Result} -> Result end || {Pid, Ref} <- Workers].
"""
# Recycling a vhost: nobody may log in to it any more (the test's login goes, so does any other
# permission on it); its connections are closed (a first close ends their channels, consumers and
# exclusive queues before it returns; a second ends a connection whose client does not answer the
# close); what is left is deleted; then everything is checked again before a new login is made.
# (A tracked connection's pid is its 6th element; no Erlang comments here: the lines are joined.)
_RECYCLE = """
Message = "pytest-ipc empties this vhost for the next test",
Quietly = fun(F) -> try F() catch _:_ -> failed end end,
InVhost = fun(Module, Pid) -> try Module:info(Pid, [vhost]) =:= [{vhost, V}] catch _:_ -> false end end,
Readers = fun() -> [P || P <- rabbit_networking:connections_local(), InVhost(rabbit_reader, P)] end,
Channels = fun() -> [P || P <- rabbit_channel:list_local(), InVhost(rabbit_channel, P)] end,
Tracked = fun() -> [T || T <- rabbit_connection_tracking:list(V), is_process_alive(element(6, T))] end,
Close = fun() ->
    rabbit_connection_tracking:close_connections(Tracked(), Message, 0),
    [Quietly(fun() -> rabbit_networking:close_connection(P, Message) end) || P <- Readers()]
end,
Await = fun Await(Deadline) ->
    case Readers() ++ Tracked() ++ Channels() =:= [] of
        true -> ok;
        false ->
            case erlang:monotonic_time(millisecond) < Deadline of
                true -> timer:sleep(5), Await(Deadline);
                false -> timeout
            end
    end
end,
System = fun(<<>>) -> true; (<<"amq.", _/binary>>) -> true; (_) -> false end,
Exchanges = fun() ->
    [R || X <- rabbit_exchange:list(V), {name, R} <- rabbit_exchange:info(X, [name]), not System(element(4, R))]
end,
Bindings = fun() ->
    [B || B <- rabbit_binding:list(V), {source_name, S} <- rabbit_binding:info(B, [source_name]), S =/= <<>>]
end,
Permissions = fun() -> rabbit_auth_backend_internal:list_vhost_permissions(V) end,
TopicPermissions = fun() -> rabbit_auth_backend_internal:list_vhost_topic_permissions(V) end,
Get = fun(Key, Props) -> proplists:get_value(Key, Props) end,
case rabbit_auth_backend_internal:exists(Old) of
    true -> ok = rabbit_auth_backend_internal:delete_user(Old, Actor);
    false -> ok
end,
[ok = rabbit_auth_backend_internal:clear_permissions(Get(user, P), V, Actor) || P <- Permissions()],
Close(),
Close(),
Await(erlang:monotonic_time(millisecond) + Timeout),
[Quietly(fun() -> rabbit_amqqueue:delete(Q, false, false, Actor) end) || Q <- rabbit_amqqueue:list(V)],
[Quietly(fun() -> rabbit_exchange:delete(R, false, Actor) end) || R <- Exchanges()],
[Quietly(fun() -> rabbit_binding:remove(B, Actor) end) || B <- Bindings()],
[Quietly(fun() -> rabbit_policy:delete(V, Get(name, P), Actor) end) || P <- rabbit_policy:list(V)],
[Quietly(fun() -> rabbit_runtime_parameters:clear(V, Get(component, P), Get(name, P), Actor) end)
 || P <- rabbit_runtime_parameters:list(V)],
[Quietly(fun() -> rabbit_auth_backend_internal:clear_topic_permissions(Get(user, P), V, Actor) end)
 || P <- TopicPermissions()],
case rabbit_trace:enabled(V) of true -> rabbit_trace:stop(V); false -> ok end,
Leftovers = [Kind || {Kind, Found} <- [
    {connections, Readers() ++ Tracked()},
    {channels, Channels()},
    {queues, rabbit_amqqueue:list(V)},
    {exchanges, Exchanges()},
    {bindings, Bindings()},
    {policies, rabbit_policy:list(V)},
    {parameters, rabbit_runtime_parameters:list(V)},
    {permissions, Permissions()},
    {topic_permissions, TopicPermissions()},
    {tracing, [on || rabbit_trace:enabled(V)]},
    {metadata, [M || M <- maps:values(vhost:get_metadata(rabbit_vhost:lookup(V))), M =/= <<>>, M =/= []]}
], Found =/= []],
case Leftovers of
    [] ->
        ok = rabbit_auth_backend_internal:add_user(New, Password, Actor, [policymaker]),
        ok = rabbit_auth_backend_internal:set_permissions(New, V, <<".*">>, <<".*">>, <<".*">>, Actor),
        [];
    _ -> Leftovers
end.
"""


class ShellVhosts:
    """The pool's `VhostAdmin` on a node we started, through its `ErlangShell`."""

    def __init__(self, shell: ErlangShell) -> None:
        self.shell = shell

    def create(self, vhosts: Sequence[PoolVhost]) -> None:
        items = [
            f"{{{erlang_binary(v.name)}, {erlang_binary(v.login.username)}, {erlang_binary(v.login.password)}}}"
            for v in vhosts
        ]
        self._all_at_once(_CREATE, items, "create")

    def recycle(self, used: PoolVhost, fresh: Login) -> list[str]:
        bindings = {
            "V": erlang_binary(used.name),
            "Old": erlang_binary(used.login.username),
            "New": erlang_binary(fresh.username),
            "Password": erlang_binary(fresh.password),
            "Timeout": str(round(CONNECTIONS_CLOSE_TIMEOUT * 1000)),
        }
        leftovers = self._evaluate(bindings, _RECYCLE)
        return [kind for kind in leftovers.strip("[]").split(",") if kind]

    def delete(self, vhosts: Mapping[str, Collection[str]]) -> None:
        items = [
            f"{{{erlang_binary(name)}, [{', '.join(erlang_binary(user) for user in users)}]}}"
            for name, users in vhosts.items()
        ]
        self._all_at_once(_DELETE, items, "delete")

    def close(self) -> None:
        return None  # the shell belongs to the broker

    def _all_at_once(self, each: str, items: list[str], what: str) -> None:
        results = self._evaluate({"Items": f"[{', '.join(items)}]"}, each + _ALL_AT_ONCE)
        if set(results.strip("[]").split(",")) != {"ok"}:
            raise BrokerError(f"the RabbitMQ node failed to {what} vhosts: {results}")

    def _evaluate(self, bindings: dict[str, str], body: str) -> str:
        bindings = {"Actor": erlang_binary(ACTING_USER), **bindings}
        bound = " ".join(f"{name} = {value}," for name, value in bindings.items())
        return self.shell.evaluate(f"{bound} {body}".replace("\n", " "))


class ManagementVhosts:
    """The pool's `VhostAdmin` through the management plugin's HTTP API (containers, external).

    The API lists a vhost's connections from statistics that lag by seconds, but lists and closes a
    user's connections from the broker's own tracking at once. So only the test's login may use a
    vhost (not even the API's user, except for a moment to delete what is left): the vhost is
    retired, not recycled, when anyone else has access to it or is seen connected to it.
    """

    def __init__(self, api_url: str, username: str, password: str) -> None:
        import httpx  # here: nodes we start are administered without it, and sessions skip its import

        self.username = username
        self._http = httpx.Client(base_url=api_url.rstrip("/"), auth=(username, password), timeout=30)
        # Calls that do not depend on each other go at once: a recycle is a few round trips, not a dozen.
        self._calls = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pytest-ipc-management")

    def create(self, vhosts: Sequence[PoolVhost]) -> None:
        list(self._calls.map(self._create, vhosts))

    def _create(self, vhost: PoolVhost) -> None:
        name = _path(vhost.name)
        self._call("PUT", f"/api/vhosts/{name}", json={})
        self._call("DELETE", f"/api/permissions/{name}/{_path(self.username)}")  # granted to its creator
        self._grant(vhost.name, vhost.login)

    def _grant(self, vhost: str, login: Login) -> None:
        user = _path(login.username)
        self._call("PUT", f"/api/users/{user}", json={"password": login.password, "tags": LOGIN_TAGS})
        self._call("PUT", f"/api/permissions/{_path(vhost)}/{user}", json=_EVERYTHING)

    def recycle(self, used: PoolVhost, fresh: Login) -> list[str]:
        vhost, old = _path(used.name), used.login.username
        self._call("DELETE", f"/api/users/{_path(old)}")
        if not self._close_connections_of(old):
            return ["connections"]
        contents = self._contents(vhost)
        if any(connection["user"] != old for connection in contents["connections"]):
            return ["connections"]
        if _leftovers(contents) and not contents["permissions"]:
            self._empty(vhost, contents)
            contents = self._contents(vhost)
        leftovers = _leftovers(contents)
        if not leftovers:
            self._grant(used.name, fresh)
        return leftovers

    def _close_connections_of(self, user: str) -> bool:
        """Close the user's connections (again and again: a second close ends those whose client does
        not answer the first); True once none is left."""
        connections = f"/api/connections/username/{_path(user)}"
        deadline = time.monotonic() + CONNECTIONS_CLOSE_TIMEOUT
        while self._call("GET", connections).json():
            if time.monotonic() > deadline:
                return False
            # A 500 when a connection ends while the broker closes it (the login's deletion closes
            # them too): the next round finds it gone.
            self._http.delete(connections)
            time.sleep(CONNECTIONS_POLL_INTERVAL)
        return True

    def _contents(self, vhost: str) -> dict[str, Any]:
        """Everything a test can leave in a vhost. Once its connections are closed the definitions
        are complete: exclusive queues (which they leave out) went with their connections."""
        paths = {
            "connections": f"/api/vhosts/{vhost}/connections?columns=user",
            "definitions": f"/api/definitions/{vhost}",
            "topic_permissions": f"/api/vhosts/{vhost}/topic-permissions",
            "permissions": f"/api/vhosts/{vhost}/permissions",
            "details": f"/api/vhosts/{vhost}",
        }
        answers = self._calls.map(lambda path: self._call("GET", path).json(), paths.values())
        return dict(zip(paths, answers, strict=True))

    def _empty(self, vhost: str, contents: dict[str, Any]) -> None:
        definitions = contents["definitions"]
        own_access = f"/api/permissions/{vhost}/{_path(self.username)}"  # deleting needs it, for now
        self._call("PUT", own_access, json=_EVERYTHING)
        for queue in definitions.get("queues", []):
            self._call("DELETE", f"/api/queues/{vhost}/{_path(queue['name'])}")
        for exchange in definitions.get("exchanges", []):
            self._call("DELETE", f"/api/exchanges/{vhost}/{_path(exchange['name'])}")
        for binding in definitions.get("bindings", []):  # the others went with their queue or exchange
            source, destination = binding["source"], binding["destination"]
            if binding["destination_type"] == "exchange" and _system(source) and _system(destination):
                between = f"/api/bindings/{vhost}/e/{_path(source)}/e/{_path(destination)}"
                for listed in self._call("GET", between).json():
                    self._call("DELETE", f"{between}/{_path(listed['properties_key'])}")
        for policy in definitions.get("policies", []):
            self._call("DELETE", f"/api/policies/{vhost}/{_path(policy['name'])}")
        for parameter in definitions.get("parameters", []):  # vhost limits and operator policies too
            component, name = _path(parameter["component"]), _path(parameter["name"])
            self._call("DELETE", f"/api/parameters/{component}/{vhost}/{name}")
        for permission in contents["topic_permissions"]:
            self._call("DELETE", f"/api/topic-permissions/{vhost}/{_path(permission['user'])}")
        if contents["details"].get("tracing"):
            self._call("PUT", f"/api/vhosts/{vhost}", json={"tracing": False})  # resets description and tags too
        self._call("DELETE", own_access)

    def delete(self, vhosts: Mapping[str, Collection[str]]) -> None:
        for name, users in vhosts.items():
            self._call("DELETE", f"/api/vhosts/{_path(name)}")
            for user in users:
                self._call("DELETE", f"/api/users/{_path(user)}")

    def close(self) -> None:
        self._calls.shutdown()
        self._http.close()

    def _call(self, method: str, path: str, json: object = None) -> httpx.Response:
        """One API call; a 404 on DELETE is fine (already gone), any other error raises."""
        answer = self._http.request(method, path, json=json)
        if not (method == "DELETE" and answer.status_code == 404):
            answer.raise_for_status()
        return answer


def _leftovers(contents: dict[str, Any]) -> list[str]:
    definitions, details = contents["definitions"], contents["details"]
    found = {
        "queues": definitions.get("queues"),
        "exchanges": definitions.get("exchanges"),
        "bindings": definitions.get("bindings"),
        "policies": definitions.get("policies"),
        "parameters": definitions.get("parameters"),
        "permissions": contents["permissions"],
        "topic_permissions": contents["topic_permissions"],
        "tracing": details.get("tracing"),
        "metadata": [value for value in details.get("metadata", {}).values() if value]
        + [kind for kind in [details.get("default_queue_type")] if kind not in (None, "undefined")],
    }
    return [kind for kind, value in found.items() if value]


def _system(exchange: str) -> bool:
    return exchange == "" or exchange.startswith("amq.")


def _path(segment: str) -> str:
    return quote(segment, safe="")

"""What a process holds, read from /proc: its threads, listening TCP sockets and child processes.

The cleanup tests call `snapshot()` inside a pytest session (as a test runs, and at unconfigure) and
compare; the security tests use `listening_sockets()` to see where the plugin's listeners bind.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from pathlib import Path
from typing import TypedDict

TCP_LISTEN = "0A"


class Snapshot(TypedDict):
    pid: int
    threads: list[str]
    listening: list[tuple[str, int]]
    children: list[int]


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed while we looked
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _decode_address(hex_address: str) -> tuple[str, int]:
    """/proc/net/tcp's "0100007F:1F90" (host-order 32-bit words) as ("127.0.0.1", 8080)."""
    host_hex, port_hex = hex_address.split(":")
    raw = bytes.fromhex(host_hex)
    packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(packed) == 4 else socket.AF_INET6
    host = str(ipaddress.ip_address(socket.inet_ntop(family, packed)))
    return host, int(port_hex, 16)


def listening_sockets(pid: int | None = None) -> list[tuple[str, int]]:
    """(host, port) of every listening TCP socket process `pid` (default: this one) holds."""
    pid = os.getpid() if pid is None else pid
    inodes = _socket_inodes(pid)
    found = []
    for table in (f"/proc/{pid}/net/tcp", f"/proc/{pid}/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == TCP_LISTEN and fields[9] in inodes:
                found.append(_decode_address(fields[1]))
    return sorted(found)


def listening_anywhere(port: int) -> bool:
    """Whether any process on this machine listens on TCP `port`."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == TCP_LISTEN and _decode_address(fields[1])[1] == port:
                return True
    return False


def child_processes(pid: int | None = None) -> list[int]:
    """Live processes whose parent is `pid` (default: this process), zombies excluded."""
    pid = os.getpid() if pid is None else pid
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if int(parent) == pid and state != "Z":
            children.append(int(entry.name))
    return sorted(children)


def process_group(pgid: int) -> list[int]:
    """Live processes in process group `pgid` (a broker's wrapper script, its VM and their helpers)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return sorted(members)


def process_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def snapshot() -> Snapshot:
    """This process's threads (other than the main one), listening sockets and children."""
    return Snapshot(
        pid=os.getpid(),
        threads=sorted(thread.name for thread in threading.enumerate() if thread is not threading.main_thread()),
        listening=listening_sockets(),
        children=child_processes(),
    )

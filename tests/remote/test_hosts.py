"""Worker addresses and worker files: parsing, canonical spelling, comments, duplicates."""

import pytest

from torc.remote import RemoteError
from torc.remote.hosts import WorkerAddress, parse_worker, parse_worker_lines, read_worker_file


@pytest.mark.parametrize(
    "text, address, canonical",
    [
        ("node1", WorkerAddress("node1"), "node1"),
        ("alice@node1", WorkerAddress("node1", user="alice"), "alice@node1"),
        ("alice@node1.example.com:2222", WorkerAddress("node1.example.com", "alice", 2222), "alice@node1.example.com:2222"),
        ("10.0.0.5:22", WorkerAddress("10.0.0.5", port=22), "10.0.0.5:22"),
        ("[::1]:2222", WorkerAddress("::1", port=2222), "[::1]:2222"),
        ("[2001:db8::1]", WorkerAddress("2001:db8::1"), "[2001:db8::1]"),
        ("bob@[2001:0db8:0:0::1]:22", WorkerAddress("2001:db8::1", "bob", 22), "bob@[2001:db8::1]:22"),
        ("2001:db8::1", WorkerAddress("2001:db8::1"), "[2001:db8::1]"),  # bare IPv6: no port possible
        ("  node1  ", WorkerAddress("node1"), "node1"),
    ],
)
def test_parse_worker(text, address, canonical):
    assert parse_worker(text) == address
    assert str(address) == canonical
    assert parse_worker(canonical) == address  # the canonical spelling reads back the same


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "is not a [user@]host[:port] worker address"),
        ("node 1", "is not a [user@]host[:port] worker address"),
        ("node1:", "missing port"),
        ("node1:0", "port '0' is not a number from 1 to 65535"),
        ("node1:70000", "port '70000' is not a number from 1 to 65535"),
        ("node1:ssh", "port 'ssh' is not a number"),
        ("@node1", "invalid user name ''"),
        ("a@b@node1", "invalid user name 'a@b'"),
        ("node;rm", "invalid host name 'node;rm'"),
        ("-oProxyCommand=x", "invalid host name"),
        ("[::1", "must be written [address] or [address]:port"),
        ("[::1]2222", "must be written [address] or [address]:port"),
        ("[node1]:22", "'node1' is not an IPv6 address"),
        ("1:2:3:zz", "'1:2:3:zz' is not an IPv6 address"),
    ],
)
def test_invalid_addresses_say_what_is_wrong(text, message):
    with pytest.raises(RemoteError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_worker(text)


def test_label_is_a_file_name_per_host_and_port():
    assert WorkerAddress("node1").label == "node1"
    assert WorkerAddress("node1", "alice", 2222).label == "node1_2222"
    assert WorkerAddress("::1", port=2222).label == "__1_2222"


def test_worker_file_comments_blank_lines_and_ipv6():
    lines = [
        "# Lines starting with # are comments",
        "",
        "worker1.example.com",
        "alice@worker2.example.com   # trailing comment",
        "   admin@192.168.1.10:2222",
        "[2001:db8::1]",
        "[::1]:2222",
    ]
    assert [str(a) for a in parse_worker_lines(lines, "workers.txt")] == [
        "worker1.example.com", "alice@worker2.example.com", "admin@192.168.1.10:2222", "[2001:db8::1]", "[::1]:2222",
    ]


def test_duplicates_are_rejected_naming_both_lines():
    lines = ["node1", "node2:2222", "# node1 again, as another user:", "bob@NODE1"]
    with pytest.raises(RemoteError) as info:
        parse_worker_lines(lines, "workers.txt")
    assert str(info.value) == (
        "workers.txt: duplicate worker: bob@NODE1 (line 4) has the same host and port as node1 (line 1); list each host once"
    )
    # Another port on the same host is another worker (e.g. containers behind one address).
    assert len(parse_worker_lines(["node1", "node1:2222", "[::1]:22", "[0::1]:23"], "w")) == 4
    with pytest.raises(RemoteError, match=r"\[0:0::1\]:22 \(line 2\) has the same host and port as \[::1\]:22 \(line 1\)"):
        parse_worker_lines(["[::1]:22", "[0:0::1]:22"], "w")


def test_bad_line_names_file_and_line(tmp_path):
    path = tmp_path / "workers.txt"
    path.write_text("node1\nnode2:99999\n")
    with pytest.raises(RemoteError, match=r"workers.txt, line 2: 'node2:99999': port '99999' is not a number from 1 to 65535"):
        read_worker_file(path)
    with pytest.raises(RemoteError, match=r"cannot read worker file .*missing.txt: No such file or directory"):
        read_worker_file(tmp_path / "missing.txt")

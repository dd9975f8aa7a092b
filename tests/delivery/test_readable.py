"""The pool's "is the server closing this idle connection?" check, on real sockets."""

from __future__ import annotations

import socket

from ymnotify.delivery.network import _readable


def test_an_idle_open_socket_is_not_readable_until_data_or_a_close_arrives() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        assert not _readable(ours)
        theirs.sendall(b"x")
        assert _readable(ours)
        ours.recv(1)
        assert not _readable(ours)
        theirs.close()
        assert _readable(ours)  # the b"" of the close is waiting


def test_no_socket_or_a_closed_one_counts_as_readable_so_the_connection_is_dropped() -> None:
    assert _readable(None)
    closed, other = socket.socketpair()
    other.close()
    closed.close()
    assert _readable(closed)

"""The inbox CLI end to end, on what a real ``ymnotify serve`` stored: ``list`` and its filters,
``--json`` fields, ``show``, ``stats``, and readable errors (never a traceback)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.acceptance.receivers import Receivers
from tests.processes import run_cli, start_server
from ymnotify.protocol import samples

ORDER = 51234567890
OTHER_ORDER = 51234567777
CHAT = 3344556677
JSON_FIELDS = {"id", "notificationType", "receivedAt", "status", "duplicates", "stale", "payload"}


def _status(order_id: int, status: str, at: str) -> dict[str, object]:
    return samples.sample(
        "ORDER_STATUS_UPDATED", orderId=order_id, status=status, substatus=None, updatedAt=at
    )


def test_inbox_list_show_and_stats(receivers: Receivers) -> None:
    receiver = receivers.start()
    created = samples.sample("ORDER_CREATED", orderId=ORDER)
    bodies = [
        created,
        _status(ORDER, "DELIVERY", "2026-09-20T12:00:00Z"),
        _status(ORDER, "PROCESSING", "2026-09-20T10:00:00Z"),  # older than the one before: stale
        samples.sample("ORDER_CREATED", orderId=OTHER_ORDER),
        samples.sample("CHAT_CREATED", chatId=CHAT),
        created,  # a duplicate
    ]
    with httpx.Client(timeout=10) as client:
        for body in bodies:
            assert client.post(f"{receiver.url}/notification", json=body).status_code == 200
        malformed = client.post(
            f"{receiver.url}/notification", content=b'{"notificationType":"ORDER_CREATED"}'
        )
        assert malformed.status_code == 400
        assert client.post(receiver.url, json={"notificationType": "PING"}).status_code == 200

    lines = receiver.inbox_lines()
    rows = receiver.inbox()
    assert len(rows) == 6
    ids = [row["id"] for row in rows]
    assert ids == sorted(ids)  # inbox_lines reversed the newest-first listing
    for row in rows:
        assert set(row) >= JSON_FIELDS, row
        assert isinstance(row["id"], int)
        assert isinstance(row["duplicates"], int)
        assert isinstance(row["stale"], bool)
        received = datetime.fromisoformat(row["receivedAt"])
        assert received.utcoffset() == timedelta(0)
        assert row["receivedAt"].endswith("Z")
    assert all(json.loads(line)["id"] for line in lines)
    by_status = {row["payload"].get("status"): row for row in rows if row["payload"]}
    assert by_status["PROCESSING"]["stale"] is True
    assert by_status["DELIVERY"]["stale"] is False
    assert rows[0]["duplicates"] == 1

    def orders(*filters: str) -> list[tuple[str | None, str]]:
        return [(row["notificationType"], row["status"]) for row in receiver.inbox(*filters)]

    assert orders("--type", "ORDER_CREATED") == [
        ("ORDER_CREATED", "pending"),
        ("ORDER_CREATED", "pending"),
        ("ORDER_CREATED", "quarantined"),
    ]
    assert orders("--type", "ORDER_CREATED", "--status", "quarantined") == [
        ("ORDER_CREATED", "quarantined")
    ]
    assert orders("--entity", f"order:{ORDER}") == [
        ("ORDER_CREATED", "pending"),
        ("ORDER_STATUS_UPDATED", "pending"),
        ("ORDER_STATUS_UPDATED", "pending"),
    ]
    assert orders("--entity", f"chat:{CHAT}") == [("CHAT_CREATED", "pending")]
    # A typo names no possible entity: an error, not an empty list that looks like "no news".
    typo = run_cli(["inbox", "list", "--db", receiver.db, "--entity", f"ORDER:{ORDER}"])
    assert typo.returncode == 2
    assert "'ORDER' is not one of order, chat" in typo.stderr
    assert orders("--status", "done") == []
    assert orders("--type", "NO_SUCH_TYPE") == []

    table = run_cli(["inbox", "list", "--db", receiver.db])
    assert table.returncode == 0
    assert table.stdout.splitlines()[0].split()[:4] == ["ID", "RECEIVED", "(UTC)", "TYPE"]
    assert len(table.stdout.splitlines()) == 1 + 6
    assert "quarantined" in table.stdout
    empty = run_cli(["inbox", "list", "--db", receiver.db, "--status", "dead"])
    assert empty.returncode == 0
    assert empty.stdout == ""
    assert "no notifications match" in empty.stderr
    limited = run_cli(["inbox", "list", "--db", receiver.db, "--json", "--limit", "2"])
    assert [json.loads(line)["id"] for line in limited.stdout.splitlines()] == ids[::-1][:2]

    shown = receiver.show(rows[0]["id"]).decode()
    assert "type:                ORDER_CREATED" in shown
    assert "duplicates:          1" in shown
    assert "content-type: application/json" in shown
    assert json.loads(shown.split("body:\n", 1)[1]) == created

    stats = receiver.stats()
    assert stats["total"] == 6
    assert stats["byStatus"] == {"pending": 5, "quarantined": 1}
    assert stats["byType"]["ORDER_CREATED"] == 3
    assert stats["duplicates"] == 1
    assert stats["stale"] == 1
    text = run_cli(["inbox", "stats", "--db", receiver.db])
    assert text.returncode == 0
    assert "notifications: 6  duplicates received: 1  stale: 1" in text.stdout
    assert "last PING: " in text.stdout


def test_inbox_reads_the_db_from_the_environment(receivers: Receivers) -> None:
    receiver = receivers.start()
    assert httpx.post(receiver.url, json=samples.sample("CHAT_CREATED")).status_code == 200
    listed = run_cli(["inbox", "list", "--json"], env={"YMNOTIFY_DB": receiver.db})
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 1


def test_inbox_show_of_an_unknown_id_is_a_clear_error(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'inbox.db'}"
    assert run_cli(["db", "migrate", "--db", db]).returncode == 0  # an empty inbox
    missing = run_cli(["inbox", "show", "--db", db, "424242"])
    assert missing.returncode == 1
    assert missing.stderr.strip() == "Error: no notification with id 424242"
    not_a_number = run_cli(["inbox", "show", "--db", db, "abc"])
    assert not_a_number.returncode == 2
    assert "'abc' is not a valid integer" in not_a_number.stderr


@pytest.mark.parametrize(
    ("url", "code", "says"),
    [
        ("mysql://user@host/db", 2, "unsupported --db URL 'mysql://user@host/db'"),
        ("sqlite:///", 2, "sqlite URL needs a file path"),
        ("sqlite:////proc/no-such-dir/inbox.db", 2, "no store at /proc/no-such-dir/inbox.db"),
        ("{dir}", 1, "cannot open SQLite store"),  # a directory, not a file
        ("{text}", 1, "cannot open SQLite store"),  # a file that is not a database
        ("{foreign}", 1, "crm.db: it holds tables that are not a ymnotify receiver store's"),
        ("{empty}", 2, "no store at"),  # zero bytes: nothing was ever received there
    ],
)
def test_a_bad_db_url_is_a_readable_error(tmp_path: Path, url: str, code: int, says: str) -> None:
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database, just some text that is long enough to be a header\n")
    foreign = tmp_path / "crm.db"
    with closing(sqlite3.connect(foreign)) as connection:
        connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    (tmp_path / "empty.db").touch()
    url = url.format(
        dir=f"sqlite:///{tmp_path}",
        text=f"sqlite:///{text_file}",
        foreign=f"sqlite:///{foreign}",
        empty=f"sqlite:///{tmp_path / 'empty.db'}",
    )
    result = run_cli(["inbox", "list", "--db", url])
    assert result.returncode == code, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    with closing(sqlite3.connect(foreign)) as connection:  # nobody's tables were added
        tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        assert {row[0] for row in tables} == {"customers"}
    assert (tmp_path / "empty.db").stat().st_size == 0


@pytest.mark.parametrize("command", [["inbox", "stats"], ["inbox", "show", "1"]])
def test_every_inbox_command_reports_a_bad_db_alike(tmp_path: Path, command: list[str]) -> None:
    result = run_cli([*command, "--db", f"sqlite:///{tmp_path}"])  # a directory, not a file
    assert result.returncode == 1
    assert "Error: cannot open SQLite store" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_a_store_it_cannot_open_is_a_readable_error(tmp_path: Path) -> None:
    db = "sqlite:////proc/no-such-dir/inbox.db"
    with pytest.raises(AssertionError, match="server did not start") as failure:
        start_server(["serve", "--port", "0", "--db", db], timeout=20)
    output = str(failure.value)
    assert "cannot open SQLite store" in output
    assert "Traceback" not in output
    result = run_cli(["serve", "--port", "0", "--db", db])
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("Error: ")


@pytest.mark.parametrize(
    "command",
    [["list"], ["stats"], ["show", "1"], ["state", "order:1"], ["replay", "--quarantined"]],
)
def test_inbox_commands_refuse_a_store_that_does_not_exist(
    tmp_path: Path, command: list[str]
) -> None:
    typo = tmp_path / "no-such-dir" / "inbx.db"
    done = run_cli(["inbox", *command, "--db", f"sqlite:///{typo}"])
    assert done.returncode == 2
    assert f"no store at {typo}" in done.stderr
    assert "ymnotify serve --db" in done.stderr
    assert not typo.parent.exists()  # nothing made on the way

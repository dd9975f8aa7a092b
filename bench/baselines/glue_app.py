"""The usual glue: FastAPI, a pydantic model, SQLAlchemy ORM, one commit per request.

Written the way a Market notification endpoint is commonly written from the FastAPI and
SQLAlchemy tutorials, and no worse: a sync path function (FastAPI runs it in its thread pool), a
session per request from a dependency, the body parsed into a pydantic model, ``session.add`` and
``session.commit`` before the 200. SQLite in WAL mode with ``synchronous=FULL``, so an acked
notification is as durable as ymnotify's. It does less than ymnotify: no dedup, no entity state,
no source check, no quarantine of malformed bodies (FastAPI answers them 422).

The database file is ``GLUE_DB_PATH`` (default ``./glue.db``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import BigInteger, DateTime, String, Text, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

engine = create_engine(
    f"sqlite:///{os.environ.get('GLUE_DB_PATH', './glue.db')}",
    connect_args={"check_same_thread": False},
)


@event.listens_for(engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


class Base(DeclarativeBase):
    pass


class NotificationRow(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_type: Mapped[str] = mapped_column(String(64), index=True)
    order_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


Base.metadata.create_all(engine)
SessionLocal = sessionmaker(bind=engine, autoflush=False)


class Notification(BaseModel):
    """A Market notification: the common fields typed, the rest kept as extras."""

    model_config = ConfigDict(extra="allow")

    notificationType: str
    campaignId: int | None = None
    orderId: int | None = None
    status: str | None = None
    substatus: str | None = None
    updatedAt: datetime | None = None


def get_db() -> Iterator[Session]:
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


app = FastAPI()
# Its JSON answers send the body right after the head, as the receiver's do: served by the same
# server, it gets the same single write per answer (``ymnotify.receiver.one_write``).
app.sends_body_with_head = True  # type: ignore[attr-defined]


@app.post("/notification")
def receive_notification(
    notification: Notification, db: Annotated[Session, Depends(get_db)]
) -> dict[str, str]:
    """Store the notification (PING is only answered), then answer Market's 200 body."""
    received_at = datetime.now(UTC)
    if notification.notificationType != "PING":
        db.add(
            NotificationRow(
                notification_type=notification.notificationType,
                order_id=notification.orderId,
                payload=notification.model_dump_json(),
                received_at=received_at,
            )
        )
        db.commit()
    return {"version": "1.0", "name": "glue", "time": received_at.isoformat()}

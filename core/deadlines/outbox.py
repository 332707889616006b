"""The outbox: messages written in the transaction of what caused them, delivered later.

Delivery is at least once. A worker claims a batch of pending messages by moving their
``next_attempt_at`` one lease ahead (a short transaction: no lock is held while it
talks to a mail server), sends them, and marks each sent in its own commit as soon as
the server took it. A worker that dies between sending a message and marking it gives
it back when the lease runs out, so that one message can arrive twice: every message
carries its stable ``key`` (the e-mail's ``Message-ID``, the webhook's
``Idempotency-Key``) and the recipient drops the second copy. Failed deliveries are
retried with exponential backoff.

Addresses are URIs, one scheme per channel: ``mailto:`` (SMTP), ``https://`` or
``http://`` (webhook, HTTP POST of JSON), ``log:`` (the ``caratflow.deadlines.outbox``
log: development only, nobody receives it) and ``peer:<CODE>`` (another authority's
caratflow node, signed: ``caratflow.exchange``). An authority's directory of addressees
(the ``recipient`` table) maps each audience ("officers", "supervisors", "commission",
"kp-authority:CA", …) to addresses. A reminder for an audience without one goes to the
log; a legal notice does not (issue 24): it is kept ``undeliverable``, its supervisors
are told, and it goes out once an addressee is added.
"""

from __future__ import annotations

import hashlib
import json
import logging
import smtplib
import time as clock
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from caratflow.config import DeliverySettings
from caratflow.db import unit_of_work
from caratflow.errors import FieldError, InvalidInput
from caratflow.models import Authority, OutboxMessage, OutboxStatus, Peer, Recipient, utcnow
from caratflow.types import jsonable

log = logging.getLogger(__name__)

LATE_AFTER = DeliverySettings.late_after
"""A message that goes out more than this after its time is marked late."""

SCHEMES = ("mailto", "https", "http", "log", "peer")  # peer:<CODE>: caratflow.exchange (issue 10)


# -- settings: ``caratflow.config.DeliverySettings``, part of the one ``Settings`` -------


# -- writing ----------------------------------------------------------------------------


def add_recipient(
    session: Session, authority: str, audience: str, address: str, name: str = ""
) -> Recipient:
    """Send ``authority``'s messages for ``audience`` to ``address`` as well (``name``: who
    that is, for the directory); its legal notices kept undeliverable go there now."""
    if session.get(Authority, authority) is None:
        raise InvalidInput([FieldError("authority", f"unknown authority {authority!r}")])
    scheme = address.partition(":")[0].lower()
    if scheme not in SCHEMES or not address.partition(":")[2]:
        raise InvalidInput(
            [
                FieldError(
                    "address", f"{address!r}: use mailto:…, https://…, http://…, log:… or peer:…"
                )
            ]
        )
    if scheme == "peer" and not _is_peer(session, authority, address.partition(":")[2]):
        raise InvalidInput(
            [FieldError("address", f"{authority} has no peer {address.partition(':')[2]!r}")]
        )
    if not audience.strip():
        raise InvalidInput([FieldError("audience", "name the audience, e.g. 'supervisors'")])
    recipient = Recipient(
        authority_code=authority, audience=audience.strip(), address=address, name=name.strip()
    )
    session.add(recipient)
    session.flush()
    if scheme != "log":  # development only: a legal notice never counts as delivered there
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == OutboxStatus.UNDELIVERABLE,
                OutboxMessage.authority_code == authority,
                OutboxMessage.audience == recipient.audience,
            )
            .values(
                status=OutboxStatus.PENDING,
                address=address,
                next_attempt_at=OutboxMessage.scheduled_for,  # due since then: goes out now
                last_error=None,
            )
        )
    return recipient


def remove_recipient(session: Session, recipient_id: int) -> Recipient:
    """Take an entry out of the directory."""
    recipient = session.get(Recipient, recipient_id)
    if recipient is None:
        raise InvalidInput([FieldError("id", f"no directory entry {recipient_id}")])
    session.delete(recipient)
    session.flush()
    return recipient


def reachable(address: str) -> bool:
    """Does a message sent there reach someone? ``log:`` is for development only."""
    return address.partition(":")[0].lower() in SCHEMES and not address.startswith("log:")


def channel_of(address: str) -> str:
    """The channel an address names, as the directory shows it."""
    scheme = address.partition(":")[0].lower()
    return {
        "peer": "caratflow node",
        "mailto": "e-mail",
        "https": "webhook",
        "http": "webhook",
        "log": "log (development only)",
    }.get(scheme, scheme)


def _is_peer(session: Session, authority: str, code: str) -> bool:
    """A ``peer:`` address names a peer the authority registered (issue 10)."""
    found = select(Peer.id).where(Peer.authority_code == authority, Peer.code == code.upper())
    return session.scalar(found) is not None


def recipients(session: Session, authority: str | None = None) -> list[Recipient]:
    query = select(Recipient).order_by(Recipient.authority_code, Recipient.audience, Recipient.id)
    if authority is not None:
        query = query.where(Recipient.authority_code == authority)
    return list(session.scalars(query))


def addresses(session: Session, authority: str | None, audience: str) -> list[str]:
    """Where ``audience`` is reached; the log when nobody configured an address."""
    return configured(session, authority, audience) or [f"log:{audience}"]


def configured(session: Session, authority: str | None, audience: str) -> list[str]:
    """The addresses the directory holds for ``audience`` (none: nobody configured one)."""
    found = session.scalars(
        select(Recipient.address).where(
            Recipient.authority_code == authority, Recipient.audience == audience
        )
    ).all()
    return list(found)


def undeliverable(
    session: Session, authorities: Sequence[str] | None = None, limit: int = 200
) -> list[OutboxMessage]:
    """The legal notices that wait for an addressee, oldest first."""
    query = select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.UNDELIVERABLE)
    if authorities is not None:
        query = query.where(OutboxMessage.authority_code.in_(list(authorities)))
    return list(session.scalars(query.order_by(OutboxMessage.id).limit(limit)))


def enqueue(
    session: Session,
    *,
    key: str,
    authority: str | None,
    audience: str,
    to: Sequence[str] | None = None,
    **message: Any,
) -> int:
    """Queue one message per address of ``audience`` (or ``to``, if the caller looked them
    up already), in the caller's transaction (see ``outbox_rows`` for the message).

    ``key`` names the message for good: queueing the same key again writes nothing,
    so whoever retries the cause cannot duplicate the message. Returns how many rows
    were written.
    """
    found = to if to is not None else addresses(session, authority, audience)
    return len(write_outbox(session, outbox_rows(key, authority, audience, found, **message)))


def outbox_rows(
    key: str,
    authority: str | None,
    audience: str,
    to: Sequence[str],
    *,
    kind: str,
    subject: str,
    body: str,
    scheduled_for: datetime,
    data: Mapping[str, Any] | None = None,
    late: bool = False,
    shipment_id: int | None = None,
    deadline_id: int | None = None,
    fulfils_deadline: bool = False,
    status: OutboxStatus = OutboxStatus.PENDING,
    last_error: str | None = None,
) -> list[dict[str, Any]]:
    """The outbox rows of one message to each address in ``to`` (``status``
    undeliverable: kept, not sent), for ``write_outbox``."""
    return [
        {
            "key": f"{key}:{_digest(address)[:12]}",
            "authority_code": authority,
            "shipment_id": shipment_id,
            "deadline_id": deadline_id,
            "fulfils_deadline": fulfils_deadline,
            "kind": kind,
            "audience": audience,
            "address": address,
            "subject": subject[:300],
            "body": body,
            "data": jsonable(dict(data or {})),
            "status": status,
            "last_error": last_error,
            "scheduled_for": scheduled_for,
            "late": late,
            "attempts": 0,
            "next_attempt_at": scheduled_for,
            "created_at": utcnow(),
        }
        for address in to
    ]


def write_outbox(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Insert ``rows`` in one statement, each key at most once ever (a key queued already
    is skipped: exactly once, whoever retries); the kinds of the rows written."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(OutboxMessage)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(OutboxMessage.kind)
    )
    return list(session.connection().execute(statement, list(rows)).scalars())


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def claim(
    session: Session,
    key: ColumnElement[int],
    due: Select[tuple[int]],
    values: Mapping[str, Any] | None = None,
) -> list[int]:
    """Claim the rows ``due`` selects (their ids) for this transaction, skipping the ones
    another worker holds; set ``values`` on them.

    PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED``, then an UPDATE by primary key (an
    UPDATE … WHERE id IN (subquery) may hash-join the whole table). SQLite has no row
    locks: the UPDATE comes first, so the database's one write lock is taken before
    anything is read and a second worker waits its turn.
    """
    table = key.table
    if session.get_bind().dialect.name == "sqlite":
        statement = (
            update(table)
            .where(key.in_(due.scalar_subquery()))
            .values(dict(values or {key.name: key}))
            .returning(key)
        )
        return list(session.execute(statement).scalars())
    ids = list(session.scalars(due.with_for_update(skip_locked=True)))
    if ids and values:
        session.execute(update(table).where(key.in_(ids)).values(dict(values)))
    return ids


# -- channels ---------------------------------------------------------------------------


class DeliveryError(Exception):
    """The channel could not deliver; the message will be tried again later."""


class Channel(Protocol):
    def send(self, message: OutboxMessage, late: bool) -> None: ...

    def close(self) -> None: ...


def subject_of(message: OutboxMessage, late: bool) -> str:
    return f"[late] {message.subject}" if late else message.subject


def body_of(message: OutboxMessage, late: bool) -> str:
    if not late:
        return message.body
    return (
        f"{message.body}\nThis message was due at {message.scheduled_for:%Y-%m-%d %H:%M} UTC "
        "and goes out late, after the system could not send it on time.\n"
    )


class EmailChannel:
    """SMTP; one connection per dispatch round. ``Message-ID`` is derived from the key."""

    def __init__(self, settings: DeliverySettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def send(self, message: OutboxMessage, late: bool) -> None:
        settings = self.settings
        email = EmailMessage()
        email["From"] = settings.smtp_from
        email["To"] = message.address.removeprefix("mailto:")
        email["Subject"] = subject_of(message, late)
        domain = settings.smtp_from.rpartition("@")[2] or "caratflow"
        email["Message-ID"] = f"<{_digest(message.key)[:32]}@{domain}>"
        email["X-Caratflow-Key"] = message.key
        email.set_content(body_of(message, late))
        try:
            self._connection().send_message(email)
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            raise DeliveryError(
                f"SMTP {settings.smtp_host}:{settings.smtp_port}: {error}"
            ) from None

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            settings = self.settings
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout)
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            self._smtp = smtp
        return self._smtp

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


class WebhookChannel:
    """HTTP POST of the message as JSON with an ``Idempotency-Key`` header; any answer
    other than 2xx is a failure to retry."""

    def __init__(self, settings: DeliverySettings):
        self.settings = settings

    def send(self, message: OutboxMessage, late: bool) -> None:
        payload = {
            "key": message.key,
            "kind": message.kind,
            "audience": message.audience,
            "authority": message.authority_code,
            "shipment": message.shipment_id,
            "deadline": message.deadline_id,
            "subject": subject_of(message, late),
            "body": body_of(message, late),
            "late": late,
            "scheduled_for": message.scheduled_for.isoformat(),
            "data": message.data,
        }
        request = urllib.request.Request(
            message.address,
            data=json.dumps(payload).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": message.key,
                "User-Agent": "caratflow-outbox",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            raise DeliveryError(f"webhook answered {error.code} {error.reason}") from None
        except (urllib.error.URLError, OSError) as error:
            raise DeliveryError(f"webhook unreachable: {error}") from None
        if not 200 <= status < 300:
            raise DeliveryError(f"webhook answered {status}")

    def close(self) -> None:
        pass


class LogChannel:
    """The ``caratflow.deadlines.outbox`` logger: where reminders go that nobody configured
    an address for, and ``log:`` addresses; for development only (nobody receives it)."""

    def send(self, message: OutboxMessage, late: bool) -> None:
        log.warning(
            "[development only, not delivered to anyone] %s for %s: %s [key %s]",
            message.kind,
            message.address.removeprefix("log:") or message.audience,
            subject_of(message, late),
            message.key,
        )

    def close(self) -> None:
        pass


def default_channels(settings: DeliverySettings) -> dict[str, Channel]:
    webhook = WebhookChannel(settings)
    return {
        "mailto": EmailChannel(settings),
        "https": webhook,
        "http": webhook,
        "log": LogChannel(),
    }


# -- dispatching ------------------------------------------------------------------------

SentHook = Callable[[Session, OutboxMessage, datetime], None]


@dataclass
class DispatchResult:
    sent: int = 0
    failed: int = 0
    retrying: int = 0


@dataclass
class Dispatcher:
    """Delivers pending messages; any number may run at once on PostgreSQL.

    ``on_sent`` hooks run in the transaction that marks a message sent (the deadlines
    module meets a deadline whose notices have all gone).
    """

    sessions: sessionmaker[Session]
    settings: DeliverySettings = field(default_factory=DeliverySettings)
    channels: dict[str, Channel] | None = None
    on_sent: Sequence[SentHook] = ()
    clock: Callable[[], datetime] = utcnow

    def __post_init__(self) -> None:
        if self.channels is None:
            self.channels = default_channels(self.settings)

    def dispatch(self, rounds: int | None = None) -> DispatchResult:
        """Claim and deliver batches until nothing is due (or ``rounds`` batches)."""
        result = DispatchResult()
        done = 0
        try:
            while rounds is None or done < rounds:
                claimed = self.claim()
                if not claimed:
                    break
                self._deliver(claimed, result)
                done += 1
        finally:
            for channel in (self.channels or {}).values():
                channel.close()
        return result

    def claim(self) -> list[OutboxMessage]:
        """Take up to ``batch`` due messages for one lease; others' claims are skipped."""
        now = self.clock()
        due = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now
            )
            .order_by(OutboxMessage.next_attempt_at)
            .limit(self.settings.batch)
        )
        with unit_of_work(self.sessions) as session:
            lease = {
                "next_attempt_at": now + self.settings.lease,
                "attempts": OutboxMessage.attempts + 1,
            }
            ids = claim(session, OutboxMessage.__table__.c.id, due, lease)
            if not ids:
                return []
            query = select(OutboxMessage).where(OutboxMessage.id.in_(ids))
            messages = list(session.scalars(query.order_by(OutboxMessage.id)))
            session.expunge_all()
        return messages

    def _deliver(self, messages: list[OutboxMessage], result: DispatchResult) -> None:
        started = clock.monotonic()
        half_lease = self.settings.lease.total_seconds() / 2
        for message in messages:
            if clock.monotonic() - started > half_lease:
                return  # the rest go back to the queue when the lease runs out
            now = self.clock()
            late = message.late or now - message.scheduled_for > self.settings.late_after
            channel = (self.channels or {}).get(message.address.partition(":")[0].lower())
            try:
                if channel is None:
                    raise DeliveryError(f"no channel for {message.address!r}")
                channel.send(message, late)
            except DeliveryError as error:
                self._failed(message, str(error), result)
                continue
            self._sent(message, late, result)

    def _sent(self, message: OutboxMessage, late: bool, result: DispatchResult) -> None:
        """Mark one message sent in its own transaction, as soon as the server took it.
        A worker that dies between the two sends that one message again, with the same
        key and Message-ID (the receiver may drop it); never the rest of its batch
        (issue 21: marking a whole batch at its end sent every message of it again)."""
        now = self.clock()
        with unit_of_work(self.sessions) as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message.id)
                .values(status=OutboxStatus.SENT, sent_at=now, late=late, last_error=None),
                execution_options={"synchronize_session": False},
            )
            if message.fulfils_deadline:
                message.status, message.sent_at = OutboxStatus.SENT, now
                for hook in self.on_sent:
                    hook(session, message, now)
        result.sent += 1

    def _failed(self, message: OutboxMessage, error: str, result: DispatchResult) -> None:
        now = self.clock()
        giving_up = message.attempts >= self.settings.max_attempts
        values: dict[str, Any] = {"last_error": error}
        if giving_up:
            values["status"] = OutboxStatus.FAILED
            log.error(
                "outbox: giving up on %s after %d attempts: %s",
                message.key,
                message.attempts,
                error,
            )
            result.failed += 1
        else:
            values["next_attempt_at"] = now + self.settings.backoff(message.attempts)
            log.warning("outbox: %s failed (attempt %d): %s", message.key, message.attempts, error)
            result.retrying += 1
        with unit_of_work(self.sessions) as session:
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id == message.id).values(**values),
                execution_options={"synchronize_session": False},
            )


def outbox_counts(session: Session, authorities: Sequence[str] | None = None) -> dict[str, int]:
    """How many messages are pending, sent, failed, cancelled (the board's footer)."""
    query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    if authorities is not None:
        query = query.where(OutboxMessage.authority_code.in_(list(authorities)))
    counts = {status.value: 0 for status in OutboxStatus}
    for status, count in session.execute(query):
        counts[OutboxStatus(status).value] = count
    return counts

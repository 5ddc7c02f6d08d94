"""Which deployment a database and a bucket belong to, so nothing is deleted across a mismatch.

A deployment's id is made on its first start and kept twice: in the database (`deployment`, one
row) and in the bucket (a marker object, `storage.objects.DEPLOYMENT_MARKER_KEY`). `serve` and
`worker` claim it at start; every process that deletes (the sweep, erasure, the account purge,
`purge-orphans`) requires the two to agree first. So a process started without its environment
(the default database is an empty SQLite file), a staging database pointed at production's
bucket, or any other database against a bucket that carries another deployment's marker is
refused with one clear line, and it never adopts that bucket.

A database restored from an older backup keeps the same id: it matches, and what it does not know
(calls made after the backup) is only reported by the sweep, never deleted.

The first start of a fresh deployment writes the database row, then the marker, then notes in the
row that the marker is written; a start interrupted in between finishes the marker the next time.
A database without an id is only allowed to claim a bucket without a marker when the bucket holds
no call data, or the database does (a deployment that ran before ids existed), never an empty
database against a bucket full of calls.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from receptionist.core.db import Database
from receptionist.core.errors import Unavailable
from receptionist.core.models import Account, Call, Deployment, Tombstone, new_id, utcnow
from receptionist.storage.objects import DEPLOYMENT_MARKER_KEY, DeploymentMarker, ObjectStore

log = logging.getLogger(__name__)


class DeploymentMismatch(Unavailable):
    """The database and the bucket are not one deployment's: nothing may be deleted."""


@dataclass(frozen=True)
class Claim:
    deployment_id: str
    created: bool  # this start made the deployment (a fresh database and bucket)
    marker_written: bool  # this start wrote the bucket's marker


def claim_deployment(db: Database, store: ObjectStore) -> Claim:
    """At `serve`/`worker` start: the deployment's id, made on the first start (database row and
    bucket marker); DeploymentMismatch when the database and the bucket are not one deployment's."""
    for _attempt in range(3):
        row, marker = _row(db), _marker(store)
        if row is not None and marker is not None:
            if row.deployment_id != marker.deployment_id:
                raise _foreign(db, store, row.deployment_id, marker.deployment_id)
            if row.marker_written_at is None:
                _note_marker_written(db)
            return Claim(row.deployment_id, False, False)
        if marker is not None:  # a database with no id against a bucket that has one
            raise DeploymentMismatch(
                f"refusing to use bucket {store.bucket}: it belongs to deployment {marker.deployment_id}, and the "
                f"database at {_where(db)} has no deployment id (empty, or another deployment's); point "
                "RECEPTIONIST_DATABASE_URL at that deployment's database")
        if row is not None:
            if row.marker_written_at is not None and store.holds_call_objects():
                raise DeploymentMismatch(
                    f"refusing to use bucket {store.bucket}: it holds call data but no deployment marker, and the "
                    f"database at {_where(db)} (deployment {row.deployment_id}) had already marked its own bucket; "
                    "point RECEPTIONIST_S3_BUCKET at that bucket")
            # Our own first start, interrupted before the marker; or a new, empty bucket for this deployment.
            _write_marker(store, row)
            _note_marker_written(db)
            return Claim(row.deployment_id, False, True)
        if store.holds_call_objects() and not _holds_calls(db):
            raise DeploymentMismatch(
                f"refusing to use bucket {store.bucket}: it holds call data, and the database at {_where(db)} knows no "
                "account or call; point RECEPTIONIST_DATABASE_URL at the database of the deployment that wrote it")
        try:
            with db.session() as session:
                session.add(Deployment(slot=1, deployment_id=new_id(), created_at=utcnow()))
        except IntegrityError:
            continue  # another process made it first: take its id
        row = _row(db)
        _write_marker(store, row)
        _note_marker_written(db)
        log.info("deployment %s created: database %s, bucket %s", row.deployment_id, _where(db), store.bucket)
        return Claim(row.deployment_id, True, True)
    raise DeploymentMismatch("could not settle the deployment id: it kept changing while this process started")


def require_deployment(db: Database, store: ObjectStore) -> str:
    """Before anything is deleted: the database and the bucket carry the same deployment id."""
    row, marker = _row(db), _marker(store)
    if row is not None and marker is not None and row.deployment_id == marker.deployment_id:
        return row.deployment_id
    if row is not None and marker is not None:
        raise _foreign(db, store, row.deployment_id, marker.deployment_id)
    if marker is not None:
        raise DeploymentMismatch(
            f"refusing to delete: bucket {store.bucket} belongs to deployment {marker.deployment_id}, and the database "
            f"at {_where(db)} has no deployment id (empty, or another deployment's)")
    raise DeploymentMismatch(
        f"refusing to delete: the database at {_where(db)} and bucket {store.bucket} are not yet one deployment "
        f"({'no deployment id in the database, ' if row is None else ''}no marker in the bucket); start "
        "`receptionist serve` or `receptionist worker` once with this configuration")


def _row(db: Database) -> Deployment | None:
    with db.session() as session:
        return session.scalar(select(Deployment))


def _marker(store: ObjectStore) -> DeploymentMarker | None:
    try:
        return store.read_deployment_marker()
    except ValueError as exc:  # a damaged or foreign marker: nothing may be decided on it
        raise DeploymentMismatch(f"refusing to use bucket {store.bucket}: {exc}") from None


def _write_marker(store: ObjectStore, row: Deployment) -> None:
    store.write_deployment_marker(DeploymentMarker(row.deployment_id, row.created_at))
    written = _marker(store)  # two deployments racing for one new bucket: one wins
    if written is None or written.deployment_id != row.deployment_id:
        raise DeploymentMismatch(f"bucket {store.bucket} was claimed by deployment "
                                 f"{written.deployment_id if written else '?'} at the same time; not by "
                                 f"{row.deployment_id}")


def _note_marker_written(db: Database) -> None:
    with db.session() as session:
        row = session.scalar(select(Deployment))
        if row is not None and row.marker_written_at is None:
            row.marker_written_at = utcnow()


def _holds_calls(db: Database) -> bool:
    with db.session() as session:
        return any(session.scalar(select(model.id).limit(1)) is not None for model in (Account, Call, Tombstone))


def _foreign(db: Database, store: ObjectStore, ours: str, theirs: str) -> DeploymentMismatch:
    return DeploymentMismatch(
        f"refusing to use bucket {store.bucket}: it belongs to deployment {theirs}, the database at {_where(db)} to "
        f"deployment {ours} (s3://{store.bucket}/{DEPLOYMENT_MARKER_KEY}); point both at one deployment")


def _where(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=True)

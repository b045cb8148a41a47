"""The event store: items, users, feedback events and relations over SQLAlchemy Core."""

from __future__ import annotations

import sqlalchemy as sa

from recserve.store import schema
from recserve.store.database import create_engine, migrate
from recserve.store.entities import EntityRepository, item_repository, user_repository
from recserve.store.experiments import ExperimentRepository
from recserve.store.feedback import EventColumns, FeedbackRepository, IngestResult
from recserve.store.forgotten import ForgottenUsers
from recserve.store.jobs import JobRepository
from recserve.store.paging import InvalidCursor
from recserve.store.relations import RelationRepository
from recserve.store.text_search import ItemTextSearch

__all__ = ["EventColumns", "IngestResult", "InvalidCursor", "Store"]


class Store:
    """One database: the repositories for each table, sharing one engine."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.items: EntityRepository = item_repository(engine)
        self.users: EntityRepository = user_repository(engine)
        self.feedback = FeedbackRepository(engine, self.items, self.users)
        self.relations = RelationRepository(engine, self.users)
        self.jobs = JobRepository(engine)  # training jobs (recserve.training.jobs)
        self.batch_jobs = JobRepository(  # batch recommendations (recserve.batch.jobs)
            engine, table=schema.batch_jobs, worker="the batch job's API process"
        )
        self.forgotten = ForgottenUsers(engine)  # privacy deletes (recserve.store.forgotten)
        self.experiments = ExperimentRepository(engine)  # A/B tests (recserve.experiments)
        self.text_search = ItemTextSearch(engine)  # full-text index over items (search)

    @classmethod
    def open(cls, url: str, *, run_migrations: bool = True) -> Store:
        engine = create_engine(url)
        if run_migrations:
            migrate(engine)
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def delete_user(self, user_id: str) -> bool:
        """Remove a user with their events and relations, in one transaction, and mark them
        forgotten (``store.forgotten``) so served models stop using what they learnt."""
        with self.engine.begin() as conn:
            self.feedback.delete_user(conn, user_id)
            self.relations.delete_user(conn, user_id)
            self.experiments.delete_user(conn, user_id)  # lists served to them
            deleted = self.users.delete(user_id, conn)
            if deleted:
                self.forgotten.mark(conn, user_id)
        if deleted:  # again once committed: a snapshot begun after this cannot hold the user
            self.forgotten.mark_committed(user_id)
        return deleted

    def delete_item(self, item_id: str) -> bool:
        """Remove an item with the events about it, in one transaction."""
        with self.engine.begin() as conn:
            self.feedback.delete_item(conn, item_id)
            return self.items.delete(item_id, conn)

    def counts(self) -> dict[str, int]:
        return {
            "items": self.items.count(),
            "users": self.users.count(),
            "events": self.feedback.count(),
            "relations": self.relations.count(),
        }

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    def close(self) -> None:
        self.engine.dispose()

"""Engine, sessions, and the one place that commits: the request's session dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from toit_emploi_api.core.settings import Settings


def make_engine(settings: Settings) -> AsyncEngine:
    return create_async_engine(
        settings.async_database_url,
        pool_pre_ping=False,
        hide_parameters=True,  # SQL parameters are personal data: never in exception messages or logs
        pool_size=10,
        max_overflow=20,
        # Dates the database derives (now()::date, current_date) are Paris dates, as everywhere in the programme.
        connect_args={"server_settings": {"application_name": "toit-emploi-api", "timezone": "Europe/Paris"}},
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: commits when the endpoint returns, rolls back on any error.

    Services and repositories only ``flush``; nothing else commits.
    """
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


# scope="function": the commit happens before the response is sent, so a failed commit is an error response.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

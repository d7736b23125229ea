# syntax=docker/dockerfile:1
# Production image: the API only; PostgreSQL comes from DATABASE_URL (no embedded server here).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install .

FROM python:3.11-slim AS runtime
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY migrations ./migrations
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TOIT_EMPLOI_ENVIRONMENT=production \
    TOIT_EMPLOI_MIGRATIONS_DIR=/app/migrations
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
# Migrate (alembic upgrade head), then serve the app factory. WEB_CONCURRENCY sets the number of workers;
# FORWARDED_ALLOW_IPS (read by uvicorn) names the proxies trusted for X-Forwarded-For (default 127.0.0.1).
CMD ["sh", "-c", "toit-emploi migrate --bootstrap-admin && exec uvicorn --factory toit_emploi_api.main:create_app --host 0.0.0.0 --port 8000 --proxy-headers --no-access-log --workers ${WEB_CONCURRENCY:-2}"]

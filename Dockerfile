# One image for the API, the worker and the migration job:
#   docker run IMAGE api | worker | migrate
# Dependencies come from uv.lock exactly (uv sync --frozen); dev tools are left out.
FROM python:3.11.13-slim-bookworm

# Keep in step with UV_VERSION in the Makefile (tests/unit/test_deploy.py checks).
ARG UV_VERSION=0.13.8

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH=/app/.venv/bin:$PATH

RUN pip install --no-cache-dir "uv==${UV_VERSION}"

WORKDIR /app

# Dependencies first (cached while only our code changes), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

COPY alembic.ini ./
COPY migrations ./migrations
COPY core ./core
COPY workflows ./workflows
COPY activities ./activities
COPY worker ./worker
COPY api ./api
COPY cli ./cli
RUN uv sync --frozen --no-dev
# The worker's sandbox imports the workflow modules afresh for every workflow it loads; with
# PYTHONDONTWRITEBYTECODE and an editable install they would be compiled each time (~7 ms of
# CPU per cache miss): compile our packages once, here.
RUN python -m compileall -q core workflows activities worker api cli

# Which code this image runs, stamped on every workflow task its worker completes
# (docs/versioning.md): docker build --build-arg BUILD_ID=$(git rev-parse --short HEAD).
# Empty (the default) leaves the SDK's checksum of the loaded code.
ARG BUILD_ID=""
ENV REKINDLE_WORKER__BUILD_ID=${BUILD_ID}

RUN useradd --system --uid 10001 --home-dir /app rekindle && mkdir -p /app/data && chown rekindle /app/data
USER rekindle

# API, worker metrics (app + Temporal SDK)
EXPOSE 8000 9464
ENTRYPOINT ["rekindle"]
CMD ["api"]

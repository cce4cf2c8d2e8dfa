# The Podium image used by deploy/compose.yaml (for users with Docker).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY processors processors
COPY ingest ingest
COPY deploy deploy
RUN pip install --no-cache-dir .
EXPOSE 8080

# Podium's image: every process from one image (`podium gateway`, `worker`, `ranker`,
# `projector`, `tick`, ...; the argument picks it). deploy/compose.yaml and deploy/k8s use it.
# Build: docker build -t podium:0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
# The rules are not in the image: mount yours at /etc/podium/rules.toml (PODIUM_RULES_PATH).
# It runs as an unprivileged user and writes nothing outside /tmp, so a read-only root
# filesystem works (deploy/k8s mounts an emptyDir there). tests/unit/test_image.py checks this
# file (hadolint, and the properties above); there is no Docker engine on Podium's build machines.

# The base, pinned to an exact release (pin its digest too in your registry: `python@sha256:…`).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/podium
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY processors processors
COPY ingest ingest
COPY deploy deploy
# the example rules ship as package data for `make run`; the image has none, so a missing mount
# fails at start instead of running the example
RUN /opt/podium/bin/pip install --no-compile . \
    && find /opt/podium -name rules.example.toml -delete \
    && /opt/podium/bin/python -m compileall -q /opt/podium/lib

FROM ${PYTHON_IMAGE}
ARG PYTHON_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="Podium" \
      org.opencontainers.image.description="Self-hosted, event-sourced gamification engine on Apache Kafka, speaking Trophy's API" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
RUN groupadd --system --gid 10001 podium \
    && useradd --system --uid 10001 --gid podium --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin podium
COPY --from=build /opt/podium /opt/podium
ENV PATH=/opt/podium/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PODIUM_RULES_PATH=/etc/podium/rules.toml \
    PODIUM_RUN_DIR=/tmp/podium \
    PODIUM_METRICS_HOST=0.0.0.0
USER 10001:10001
WORKDIR /tmp
# the gateway's HTTP API, its answer listener, and each process's metrics port
EXPOSE 8080 9190 9100 9101 9102 9103 9104
# /livez of whichever process runs here (deploy/healthcheck.py)
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "deploy.healthcheck"]
ENTRYPOINT ["podium"]
CMD ["gateway", "--host", "0.0.0.0"]

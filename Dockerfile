# syntax=docker/dockerfile:1
# Image of bitcoin-controller (the operator itself).
#
#   docker build --build-arg VERSION="$(scripts/version)" \
#     --build-arg REVISION="$(git rev-parse HEAD)" -t bitcoin-controller:dev .
#
# Two stages: the builder turns the source into a wheel and installs it with
# its dependencies into a virtualenv; the final stage gets only that
# virtualenv on the same Python base, so no pip cache, no source tree and no
# build tools ship. Runs as a numeric non-root user, fit for a pod with
# runAsNonRoot and readOnlyRootFilesystem (all bytecode is compiled at build).

# The same pinned base in both stages: the virtualenv's interpreter symlinks
# point into it. (Digest pinning is left to an image-update bot.)
FROM python:3.11.16-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Only what the build needs (see .dockerignore): metadata first, then code.
COPY pyproject.toml setup.cfg README.md ./
COPY bitcoin_controller ./bitcoin_controller
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install /wheels/*.whl \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib

FROM python:3.11.16-slim-bookworm
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="bitcoin-controller" \
      org.opencontainers.image.description="Kubernetes operator that runs Bitcoin regtest networks" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/bitcoin-controller/bitcoin-controller" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Numeric, so the kubelet can verify runAsNonRoot without a passwd lookup.
USER 10001:10001
EXPOSE 8080 8081
ENTRYPOINT ["bitcoin-controller"]

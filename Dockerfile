# One image for every seqnet service (docker-compose.yml picks the module per service).
# Build stage: wheels for seqnet and its dependencies (safe-pysha3 compiles C).
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY protocol protocol
COPY nodekit nodekit
COPY l1mock l1mock
COPY sequencer sequencer
COPY ranger ranger
COPY client client
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 ETH_HASH_BACKEND=pysha3
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels \
 && useradd --create-home --uid 10001 seqnet \
 && mkdir -p /data /params && chown seqnet:seqnet /data /params
USER seqnet
WORKDIR /home/seqnet
# Each service's settings come from SEQNET_<KIND>_* variables (see docs/devnet.md).
CMD ["seqnet", "--help"]

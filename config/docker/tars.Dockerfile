# One image for every tars service (each compose service runs one command in it), so a Pi stores
# the Python stack and the models once. Every dependency comes from Debian and PyPI (arm64 and
# amd64), the models from the same offline PyPI packages `make run` uses.
#   docker build -f config/docker/tars.Dockerfile -t tars .
#   docker build --build-arg BASE=my-debian-bookworm ...   # any Debian bookworm base image
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS base
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv libgomp1 libportaudio2 \
      mosquitto mosquitto-clients ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# The requirements of every package, read from their pyproject files.
FROM base AS reqs
COPY packages /src/packages
COPY apps /src/apps
COPY config/docker/deps.py /src/deps.py
RUN python3 /src/deps.py --source-builds /src > /source-builds.txt \
 && python3 /src/deps.py --rest /src > /requirements.txt \
 && python3 /src/deps.py --no-deps /src > /no-deps.txt

# Dependencies only: cached until a requirement or a pin changes. llama-cpp-python builds from
# source here; a native (-march=native) build crashes on some CPUs, so it is portable.
FROM base AS deps
# PEM text of extra CA certificates, for a network whose HTTPS proxy re-signs PyPI's certificate;
# used by this stage only (not kept in the image).
ARG EXTRA_CA_CERTS=""
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake python3-dev \
 && rm -rf /var/lib/apt/lists/* \
 && if [ -n "$EXTRA_CA_CERTS" ]; then printf '%s\n' "$EXTRA_CA_CERTS" \
      > /usr/local/share/ca-certificates/extra.crt && update-ca-certificates >/dev/null; fi
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt
# (no constraints file here: a new pin elsewhere must not rebuild llama.cpp; the next step applies it)
COPY --from=reqs /source-builds.txt /tmp/
RUN python3 -m venv /opt/venv \
 && CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    pip install -r /tmp/source-builds.txt \
 && rm -rf /opt/venv/lib/python3*/site-packages/llama_cpp/lib/*.a
COPY config/constraints.txt /tmp/constraints.txt
COPY --from=reqs /requirements.txt /no-deps.txt /tmp/
RUN pip install -c /tmp/constraints.txt -r /tmp/source-builds.txt -r /tmp/requirements.txt \
 && pip install --no-deps -r /tmp/no-deps.txt \
 && find /opt/venv -name __pycache__ -prune -exec rm -rf {} +

FROM base
COPY --from=deps /opt/venv /opt/venv
RUN useradd --create-home --uid 1000 --groups audio tars \
 && mkdir -p /data /mosquitto/data && chown tars:tars /data /mosquitto/data
WORKDIR /opt/tars
COPY packages packages
COPY apps apps
RUN pip install --no-deps --no-build-isolation --no-compile ./packages/tars-core ./apps/*/ \
 && rm -rf packages apps build
COPY config config
ENV TARS_CONFIG=/opt/tars/config/tars.toml TARS_DATA_DIR=/data XDG_CACHE_HOME=/data/cache
USER tars
VOLUME ["/data"]
CMD ["tars", "--help"]

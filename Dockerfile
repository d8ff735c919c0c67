# syntax=docker/dockerfile:1
# Multi-stage build: compile with the same Rust the project pins, run on a
# slim Debian with only the binary (migrations are embedded in it; the
# folder is copied too so operators can read them). The binary links
# OpenSSL 3 dynamically (webauthn-rs' crypto): libssl-dev to build,
# libssl3 to run, both from bookworm, so the versions match.

FROM rust:1.95-slim-bookworm AS build
# webauthn-rs links the system OpenSSL (openssl-sys): its headers and
# pkg-config to find them.
RUN apt-get update \
    && apt-get install -y --no-install-recommends pkg-config libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# BuildKit cache mounts keep the registry and target dir between builds, so
# a source edit does not recompile every dependency.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p tradesense-server \
    && mkdir -p /out \
    && cp target/release/tradesense-server /out/ \
    && strip /out/tradesense-server

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --create-home tradesense
WORKDIR /app
COPY --from=build /out/tradesense-server /usr/local/bin/tradesense-server
COPY --from=build /src/migrations /app/migrations
RUN mkdir -p /app/data && chown tradesense /app/data
USER tradesense
ENV BIND_ADDR=0.0.0.0:8000 \
    ENVIRONMENT=production \
    DATABASE_URL=sqlite:///app/data/tradesense.db
VOLUME ["/app/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/tradesense-server", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/tradesense-server"]
CMD ["serve"]

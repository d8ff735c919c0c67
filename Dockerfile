# syntax=docker/dockerfile:1
# Multi-stage build: compile with the same Rust the project pins, run on a
# slim Debian with only the binary (migrations are embedded in it; the
# folder is copied too so operators can read them).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Build dependencies first so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY tradesense-core/Cargo.toml tradesense-core/
COPY tradesense-server/Cargo.toml tradesense-server/
RUN mkdir -p src tradesense-core/src tradesense-server/src \
    && echo '' > src/lib.rs \
    && echo '' > tradesense-core/src/lib.rs \
    && echo 'fn main() {}' > tradesense-server/src/main.rs \
    && cargo build --release -p tradesense-server || true
COPY . .
# Touch the sources so cargo sees them newer than the dependency-only build.
RUN touch src/lib.rs tradesense-core/src/lib.rs tradesense-server/src/main.rs tradesense-server/src/lib.rs \
    && cargo build --release --locked -p tradesense-server \
    && strip target/release/tradesense-server

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --create-home tradesense
WORKDIR /app
COPY --from=build /src/target/release/tradesense-server /usr/local/bin/tradesense-server
COPY --from=build /src/migrations /app/migrations
USER tradesense
ENV BIND_ADDR=0.0.0.0:8000 \
    ENVIRONMENT=production \
    DATABASE_URL=sqlite:///app/data/tradesense.db
RUN mkdir -p /app/data
VOLUME ["/app/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/health || exit 1
ENTRYPOINT ["/usr/local/bin/tradesense-server"]
CMD ["serve"]

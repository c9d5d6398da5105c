# syntax=docker/dockerfile:1
# The idr container image. Build from the repository root (the build context must hold Cargo.toml, src/ and
# resolver-config/):
#   docker build -t idr .
# deploy/compose.yaml builds it the same way; deploy/README.md covers running it. Checked by scripts/check-deploy.

ARG RUST_VERSION=1.95

# ---- build: the official Rust image (Debian bookworm), release binary only.
FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# Cargo.toml declares [[bench]] targets; their files must exist for the manifest to load.
COPY benches/parser.rs benches/loadgen.rs benches/patterns.rs benches/data_integrity.rs benches/
# Compiled into the binary (include_str!): default.toml, the shipped vocabularies, schemes and demo data.
COPY resolver-config resolver-config
COPY src src
# Dependencies are cached across builds in BuildKit cache mounts: the crates.io downloads and the target folder,
# so a source change recompiles idr alone. The binary is copied out of the cached target folder in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin idr \
    && install -D -m 0755 target/release/idr /out/usr/local/bin/idr \
    && install -d -m 0750 /out/var/lib/idr

# ---- runtime: glibc, libgcc, CA certificates (did:web fetches), no shell, no package manager.
# Same Debian release as the build stage, so the glibc the binary links against is there.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="idr" \
      org.opencontainers.image.description="ISO/IEC 18975 / GS1 Digital Link / UNTP identity resolver" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/usr/local/bin/idr /usr/local/bin/idr
# The embedded store's folder, owned by the non-root user (65532, "nonroot" in distroless).
COPY --from=build --chown=65532:65532 /out/var/lib/idr /var/lib/idr
# Vocabularies, identifier schemes and demo data as files, so they can be replaced by a mount (the binary also
# carries the shipped ones).
COPY resolver-config /etc/idr/resolver-config
ENV IDR_SERVER__LISTEN=0.0.0.0:8080 \
    IDR_STORE__DATA_DIR=/var/lib/idr \
    IDR_RESOLVER__CONFIG_DIR=/etc/idr/resolver-config \
    RUST_LOG=info
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
WORKDIR /var/lib/idr
# Only the embedded store writes here; with Redis (IDR_REDIS_URL) nothing is written and the root file system can
# be read-only.
VOLUME ["/var/lib/idr"]
EXPOSE 8080
# No shell or curl in this image: idr checks its own liveness endpoint (exit 0 on 2xx, 1 otherwise).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/idr", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
# SIGTERM starts idr's graceful shutdown: /readyz fails for server.shutdown_drain_ms (5 s), then in-flight requests
# finish within server.shutdown_timeout_seconds (30 s). Give `docker stop` a --time above 35 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/idr"]
CMD ["serve"]

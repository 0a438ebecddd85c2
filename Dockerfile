# Fluent Bit with the k8s_secret_enum output, for linux/amd64 and linux/arm64.
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t k8s-secret-enum .
#   docker buildx build --platform linux/amd64,linux/arm64 --target plugin -t k8s-secret-enum-plugin .
#   docker build --build-arg FLUENT_BIT_VERSION=4.2.8 -t k8s-secret-enum:fluent-bit-4.2.8 .
#   docker run --rm --network host -e ALERT_URL=http://127.0.0.1:8088/alerts k8s-secret-enum
#   docker run --rm --network host -e ALERT_URL=http://127.0.0.1:8088/alerts k8s-secret-enum -c /fluent-bit/etc/fluent-bit.yaml
#
# Targets:
#   (default) the official Fluent Bit image with the plugin, the repository's configurations and the
#             dummy demo of `make run` as its command. Mount your configuration over
#             /fluent-bit/etc/fluent-bit.conf (see the README).
#   plugin    the .so alone on busybox, for the init container of deploy/ that copies it into the
#             official image's pod (that image is distroless: no cp).
#
# Both run as user 65532 and write nothing outside the paths a configuration names (tail DB,
# storage.path, alert_spool_dir, state_file): a read-only root filesystem works; give those a volume.
# Reading an audit log that kube-apiserver created root-owned (0600) needs user 0 (runAsUser: 0).
#
# test/flb (TestDockerImage) runs the default target's exact files and ENTRYPOINT/CMD under a real
# Fluent Bit, with a temporary directory standing in for /fluent-bit; test/deploy (TestDockerfile)
# checks the stages, ARGs and paths against deploy/ and the README.

# The Fluent Bit the image is based on: the official chart's (0.58.1: 5.1.1). 4.x works too
# (--build-arg FLUENT_BIT_VERSION=4.2.8); both are tested.
ARG FLUENT_BIT_VERSION=5.1.1

# The builder runs on the build machine's platform and cross-compiles with cgo. Debian 12 (glibc
# 2.36): a .so linked against a newer glibc would not load into Fluent Bit 4.x images (Debian 12);
# 5.x images (Debian 13) load it too. Go >= 1.23 is needed on Fluent Bit's coroutine stacks.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
ARG TARGETARCH
RUN set -eu; \
    case "$TARGETARCH" in \
      amd64) triplet=x86-64-linux-gnu; libc=amd64 ;; \
      arm64) triplet=aarch64-linux-gnu; libc=arm64 ;; \
      *) echo "TARGETARCH $TARGETARCH: only amd64 and arm64 are built" >&2; exit 1 ;; \
    esac; \
    if [ "$TARGETARCH" != "$(go env GOARCH)" ]; then \
      apt-get update; \
      apt-get install -y --no-install-recommends "gcc-$triplet" "libc6-dev-$libc-cross"; \
      rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY detect ./detect
COPY plugin ./plugin
RUN set -eu; \
    cc=gcc; \
    if [ "$TARGETARCH" != "$(go env GOARCH)" ]; then \
      cc=$(case "$TARGETARCH" in amd64) echo x86_64-linux-gnu-gcc ;; arm64) echo aarch64-linux-gnu-gcc ;; esac); \
    fi; \
    CGO_ENABLED=1 GOOS=linux GOARCH=$TARGETARCH CC=$cc \
      go build -trimpath -buildmode=c-shared -o /out/out_k8s_secret_enum.so ./plugin

# The init container of deploy/ (helm/values-k8s-secret-enum.yaml, manifests/) runs
# `cp /fluent-bit/lib/out_k8s_secret_enum.so /plugins/…`: busybox's musl build is static.
FROM busybox:1.37.0-musl AS plugin
COPY --from=build /out/out_k8s_secret_enum.so /fluent-bit/lib/out_k8s_secret_enum.so
USER 65532:65532

FROM fluent/fluent-bit:${FLUENT_BIT_VERSION}
COPY --from=build /out/out_k8s_secret_enum.so /fluent-bit/lib/out_k8s_secret_enum.so
# plugins.conf names /fluent-bit/lib/out_k8s_secret_enum.so literally: Fluent
# Bit expands ${VAR} in the value of Plugins_File (fluent-bit.conf reads
# K8S_SECRET_ENUM_PLUGINS_FILE), never inside the plugins file.
COPY plugins.conf fluent-bit.conf fluent-bit.yaml /fluent-bit/etc/
ENV K8S_SECRET_ENUM_PLUGINS_FILE=/fluent-bit/etc/plugins.conf \
    ALERT_URL=http://127.0.0.1:8088/alerts
USER 65532:65532
ENTRYPOINT ["/fluent-bit/bin/fluent-bit"]
CMD ["-c", "/fluent-bit/etc/fluent-bit.conf"]

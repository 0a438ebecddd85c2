# Fluent Bit with the k8s_secret_enum output.
#
#   docker build -t k8s-secret-enum .
#   docker run --rm --network host -e ALERT_URL=http://127.0.0.1:8088/alerts k8s-secret-enum
#
# The default configuration is the repository's fluent-bit.conf (dummy
# inputs); mount your own over /fluent-bit/etc/fluent-bit.conf (see README).

# The builder runs the same Debian release as the runtime image (Fluent Bit
# 4.x images are Debian 12, glibc 2.36): a .so linked against a newer glibc
# would not load. Go >= 1.23 is needed on Fluent Bit's coroutine stacks (the
# module needs 1.24).
ARG FLUENT_BIT_VERSION=4.0.7

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY detect ./detect
COPY plugin ./plugin
RUN CGO_ENABLED=1 go build -trimpath -tags jsoniter_sloppy -buildmode=c-shared \
      -o /out/out_k8s_secret_enum.so ./plugin

FROM fluent/fluent-bit:${FLUENT_BIT_VERSION}
COPY --from=build /out/out_k8s_secret_enum.so /fluent-bit/lib/out_k8s_secret_enum.so
COPY plugins.conf fluent-bit.conf /fluent-bit/etc/
ENV K8S_SECRET_ENUM_SO=/fluent-bit/lib/out_k8s_secret_enum.so \
    ALERT_URL=http://127.0.0.1:8088/alerts
CMD ["/fluent-bit/bin/fluent-bit", "-c", "/fluent-bit/etc/fluent-bit.conf"]

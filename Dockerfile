# Fluent Bit with the k8s_secret_enum output.
#
#   docker build -t k8s-secret-enum .
#   docker run --rm --network host -e ALERT_URL=http://127.0.0.1:8088/alerts k8s-secret-enum
#   docker run --rm --network host -e ALERT_URL=http://127.0.0.1:8088/alerts k8s-secret-enum -c /fluent-bit/etc/fluent-bit.yaml
#
# The default configuration is the repository's fluent-bit.conf (dummy
# inputs); fluent-bit.yaml is the same in YAML. Mount your own over
# /fluent-bit/etc/fluent-bit.conf (see the README): it loads the plugin with
# `Plugins_File /fluent-bit/etc/plugins.conf`, or `plugins:` in YAML.
#
# test/flb (TestDockerImage) runs these exact files, the .so at the path
# below and the ENTRYPOINT/CMD under a real Fluent Bit, with a temporary
# directory standing in for /fluent-bit.

# The builder runs the same Debian release as the runtime image (Fluent Bit
# 4.x images are Debian 12, glibc 2.36): a .so linked against a newer glibc
# would not load. Go >= 1.23 is needed on Fluent Bit's coroutine stacks (the
# module needs 1.24). 4.2.8 is the 4.x release the tests run.
ARG FLUENT_BIT_VERSION=4.2.8

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY detect ./detect
COPY plugin ./plugin
RUN CGO_ENABLED=1 go build -trimpath -buildmode=c-shared \
      -o /out/out_k8s_secret_enum.so ./plugin

FROM fluent/fluent-bit:${FLUENT_BIT_VERSION}
COPY --from=build /out/out_k8s_secret_enum.so /fluent-bit/lib/out_k8s_secret_enum.so
# plugins.conf names /fluent-bit/lib/out_k8s_secret_enum.so literally: Fluent
# Bit expands ${VAR} in the value of Plugins_File (fluent-bit.conf reads
# K8S_SECRET_ENUM_PLUGINS_FILE), never inside the plugins file.
COPY plugins.conf fluent-bit.conf fluent-bit.yaml /fluent-bit/etc/
ENV K8S_SECRET_ENUM_PLUGINS_FILE=/fluent-bit/etc/plugins.conf \
    ALERT_URL=http://127.0.0.1:8088/alerts
ENTRYPOINT ["/fluent-bit/bin/fluent-bit"]
CMD ["-c", "/fluent-bit/etc/fluent-bit.conf"]

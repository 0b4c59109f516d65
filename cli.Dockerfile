# The CLI image: the static argocd-k8s-federate binary (generate, discovery,
# doctor, ...) and the CA bundle of the machine that built it, for running the
# CLI in a pod, e.g. the discovery check CronJob of docs/discovery.md.
# ArgoCD's pods never run it: they run the plugin image (Dockerfile).
#
# make image-cli builds the binary (CGO_ENABLED=0 go build -trimpath), copies
# /etc/ssl/certs/ca-certificates.crt to bin/, then builds offline:
#   DOCKER_BUILDKIT=0 docker build -f cli.Dockerfile -t argocd-k8s-federate:dev .
FROM scratch
LABEL org.opencontainers.image.title="argocd-k8s-federate" \
      org.opencontainers.image.description="generate, publish and check the federation of ArgoCD's service-account identities"
COPY bin/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY bin/argocd-k8s-federate /argocd-k8s-federate
USER 65532:65532
ENTRYPOINT ["/argocd-k8s-federate"]
CMD ["--help"]

# The plugin image: the static argocd-k8s-federate-plugin binary and, beside
# it, argocd-k8s-federate-token-request (the network half its token-request
# command execs), and nothing else. As the init container the generated
# Component adds (args: install --to /var/run/argocd-k8s-federate) it copies
# both into an emptyDir that the ArgoCD application-controller and server
# containers mount; the cluster Secrets' execProviderConfig then runs
# /var/run/argocd-k8s-federate/argocd-k8s-federate-plugin token-file (or
# token-request).
#
# The binary is built first, static and stripped, exactly as the cluster
# Secrets run it (make build: CGO_ENABLED=0 go build -trimpath
# -ldflags "-s -w -X ..." ./cmd/argocd-k8s-federate-plugin); the image then
# builds offline with the classic builder (make image):
#   DOCKER_BUILDKIT=0 docker build -t argocd-k8s-federate-plugin:dev .
# .dockerignore keeps the build context to that one file.
FROM scratch
LABEL org.opencontainers.image.title="argocd-k8s-federate-plugin" \
      org.opencontainers.image.description="client-go credential plugin: projected service-account token to ExecCredential, for ArgoCD"
COPY bin/argocd-k8s-federate-token-request /argocd-k8s-federate-token-request
COPY bin/argocd-k8s-federate-plugin /argocd-k8s-federate-plugin
USER 65532:65532
ENTRYPOINT ["/argocd-k8s-federate-plugin"]
CMD ["help"]

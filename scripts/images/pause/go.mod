module github.com/argocd-k8s-federate/argocd-k8s-federate/scripts/images/pause

go 1.24

module github.com/argocd-k8s-federate/argocd-k8s-federate

go 1.26

// Command argocd-k8s-federate generates, publishes and checks the federation
// between an ArgoCD hub and the clusters it deploys into.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	stop()
	os.Exit(code)
}

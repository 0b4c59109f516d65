// Command pause is the pod sandbox process of this project's kind node images
// (tagged as the pause image kubeadm names). It holds the pod's namespaces:
// it waits for SIGINT or SIGTERM and, as PID 1 of the pod, reaps the zombies
// it inherits. "pause -v" prints its name and exits, for quick checks.
//
// It is a module of its own so that the project's go build ./... and linters
// leave it alone; scripts/lib.sh builds it statically.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Println("pause (argocd-k8s-federate)")
		return
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
	}
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			fmt.Fprintf(os.Stderr, "Shutting down, got signal: %v\n", s)
			os.Exit(0)
		}
		reap()
	}
}

// reap collects every child that has exited, without blocking.
func reap() {
	for {
		pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
